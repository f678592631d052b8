"""Shoppers, honest and not, on the REST and socket.io channels of a running assistant."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import aiohttp
import jwt
import requests
import socketio

from bot.stack import Stack
from bot.identity import AUDIENCE, issue_shopper_token
from bot.web.shopper import STORE_AUDIENCE
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.orders import lookup_order

VICTIM, VICTIM_EMAIL, ATTACKER = "C0001", "alex@example.com", "C0002"
SHIPPED, PROCESSING = "SB-100002", "SB-100001"  # both the victim's
TRACKING = "1Z999AA10123456784"  # SB-100002's tracking number: it must never reach the attacker
ATTACKER_EMAIL = "mallory@example.com"
NEW_ADDRESS = "12 Mallory Lane, Badtown, 66666, Nowhere"
CLAIMS = {"customer_id": VICTIM, "shopbot_verified_customer": VICTIM}  # identity claimed in metadata


def rasa_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.rasa_port}"


def token_for(stack: Stack, customer: str, **kwargs: Any) -> str:
    """A valid shopper token, as the store signs it."""
    return issue_shopper_token(customer, stack.settings, **kwargs)


def forged_tokens(stack: Stack) -> dict[str, str]:
    """Tokens naming the victim that must all be refused."""
    now = int(time.time())
    claims = {"sub": VICTIM, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    mine = token_for(stack, ATTACKER)  # the attacker's own, valid token ...
    header, _payload, signature = mine.split(".")
    swapped = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    secret = stack.settings.secret("shopper-token")
    return {
        "guessed secret": jwt.encode(claims, "secret", algorithm="HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "payload swapped": f"{header}.{swapped}.{signature}",  # ... with the victim's id put in
        "expired": token_for(stack, VICTIM, lifetime=600, now=time.time() - 3600),
        "store cookie as token": jwt.encode({**claims, "aud": STORE_AUDIENCE}, secret, algorithm="HS256"),
        "no expiry": jwt.encode({"sub": VICTIM, "aud": AUDIENCE, "iat": now}, secret, algorithm="HS256"),
        "a year long": jwt.encode({**claims, "exp": now + 365 * 86400}, secret, algorithm="HS256"),
        "garbage": "not.a.token",
    }


FORGED = ["guessed secret", "alg none", "payload swapped", "expired", "store cookie as token", "no expiry",
          "a year long", "garbage"]


def guessed_ids(victims: list[str]) -> list[str]:
    """Conversation ids an attacker might try: predictable names, and real ids with one character changed."""
    guesses = ["alex", VICTIM, "me", "default", "0" * 32, "1", "c0001", "conversation-1"]
    for victim in victims:
        flipped = victim[:-1] + ("A" if victim[-1] != "A" else "B")
        guesses += [flipped, victim.split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAA", victim + "x"]
    return guesses


def order_state(db: ShopDB, order_id: str) -> tuple[str, str]:
    """An order's status and shipping address, read from the database."""
    order = lookup_order(db, order_id, customer_id=VICTIM)
    with db.session() as session:
        from knowledge.shopdb.models import Order

        return order.status, session.get(Order, order_id).shipping_address


# --- REST -----------------------------------------------------------------------------------------------

@dataclass
class RestShopper:
    """A shopper on the REST channel."""

    base: str
    token: Optional[str] = None
    sender: Optional[str] = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def start(self) -> requests.Response:
        """Ask the server for a conversation id (with this shopper's token, if any)."""
        answer = requests.post(f"{self.base}/webhooks/rest/conversation", headers=self.headers(), timeout=30)
        if answer.status_code == 200:
            self.sender = answer.json()["sender"]
        return answer

    def post(self, text: str, metadata: Optional[dict] = None, sender: Optional[str] = None) -> requests.Response:
        body = {"sender": sender or self.sender or "me", "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        return requests.post(f"{self.base}/webhooks/rest/webhook", json=body, headers=self.headers(), timeout=120)

    def say(self, text: str, metadata: Optional[dict] = None) -> str:
        """Send a message that must be accepted; everything the bot wrote."""
        answer = self.post(text, metadata)
        assert answer.status_code == 200, answer.text
        return "\n".join(m.get("text", "") for m in answer.json())


# --- socket.io ------------------------------------------------------------------------------------------

if not hasattr(aiohttp, "ClientWSTimeout"):
    # python-engineio's asyncio client builds aiohttp.ClientWSTimeout (aiohttp >= 3.10) for its WebSocket; rasa
    # 3.6 pins aiohttp 3.9, whose ws_connect takes the same close timeout as a plain number of seconds.
    aiohttp.ClientWSTimeout = lambda ws_close=10.0, **_: ws_close  # type: ignore[attr-defined]

@dataclass
class SocketShopper:
    """A shopper on the socket.io channel: python-socketio's client, keeping every event the server emits."""

    base: str
    token: Optional[str] = None
    origin: Optional[str] = None
    session_id: Optional[str] = None
    events: "asyncio.Queue[tuple[str, Any]]" = field(default_factory=asyncio.Queue)
    client: socketio.AsyncClient = field(default_factory=lambda: socketio.AsyncClient(reconnection=False))

    async def connect(self) -> None:
        for name in ("bot_uttered", "session_confirm", REJECTED):
            self.client.on(name, self._keep(name))
        headers = {"Origin": self.origin} if self.origin else {}
        await self.client.connect(self.base, headers=headers, transports=["websocket"], socketio_path="socket.io",
                                  wait_timeout=10)

    def _keep(self, name: str) -> Any:
        async def keep(data: Any = None) -> None:
            await self.events.put((name, data))

        return keep

    async def next_event(self, timeout: float = 60) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def request_session(self, session_id: Optional[str] = None, token: Any = "mine") -> tuple[str, Any]:
        """Ask for a session; the server's answer (``session_confirm`` with the id, or ``session_rejected``)."""
        await self.client.emit("session_request", {"session_id": session_id,
                                                   "token": self.token if token == "mine" else token})
        name, data = await self.next_event(30)
        if name == "session_confirm":
            self.session_id = data
        return name, data

    async def say(self, text: str, metadata: Optional[dict] = None, session_id: Optional[str] = None,
                  token: Any = "mine", timeout: float = 60, quiet: float = 1.0) -> list[tuple[str, Any]]:
        """Send a message; every event until the server has been quiet for ``quiet`` seconds after the first."""
        await self.client.emit("user_uttered", {
            "message": text, "session_id": session_id or self.session_id, "metadata": metadata or {},
            "token": self.token if token == "mine" else token})
        events = [await self.next_event(timeout)]
        while True:
            try:
                events.append(await self.next_event(quiet))
            except asyncio.TimeoutError:
                return events

    async def close(self) -> None:
        await self.client.disconnect()


REJECTED = "session_rejected"


def texts(events: list[tuple[str, Any]]) -> str:
    """The bot's texts among socket.io events, one per line."""
    return "\n".join(data.get("text", "") for name, data in events if name == "bot_uttered" and isinstance(data, dict))

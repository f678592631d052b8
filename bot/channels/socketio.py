"""The socket.io channel of the web widget: Rasa's, with verified shoppers, bounded messages and two bugs fixed.

What the widget sends, and what the channel checks (``bot/identity.py`` holds the checks):

* ``session_request`` ``{"session_id": ID or null, "token": SHOPPER_TOKEN or null}``: the server answers
  ``session_confirm`` with the conversation id to use. It keeps the requested id only when it was issued to
  the same shopper (the token's customer, or a guest); otherwise it issues a new one. A guessed id opens nothing.
* ``user_uttered`` ``{"message": TEXT, "session_id": ID, "token": ..., "metadata": {...}}``: the token is
  checked for every message (it is short-lived; the widget fetches a fresh one from the store). The customer
  id the actions see is the token's; a ``customer_id`` in ``metadata`` is dropped. A broken or expired token,
  or a conversation id that is not this socket's, is answered with ``session_rejected``
  ``{"reason": "token" | "conversation", "error": ...}`` and the message goes nowhere.
* One length cap for every channel (``SHOPBOT_MAX_MESSAGE_CHARS``): a longer message is answered at once
  with a ``bot_uttered`` text saying so, and never reaches NLU. Frames over ``MAX_EVENT_BYTES`` close the socket.
* Browsers may connect only from the store's origin (``cors_allowed_origins``): another site cannot open the
  chat in a visitor's browser.

Fixed bugs of Rasa 3.6.21's channel with python-socketio 5.x:

* ``SocketIOOutput.send_custom_json`` passes the payload's keys to ``AsyncServer.emit`` as keyword
  arguments, so a custom payload such as ``{"type": "product_card", ...}`` fails with a ``TypeError`` and the
  shopper sees nothing. Here it is emitted as ``{"custom": payload}``, the shape the REST channel returns.
* ``session_request`` calls the coroutine ``AsyncServer.enter_room`` without awaiting it, so with session
  persistence the socket never joins its session's room and no answer reaches the browser.

With ``SOCKETIO_MESSAGE_QUEUE=redis://...`` (several Rasa replicas, docs/scaling.md) every emit to a room goes
through python-socketio's Redis manager, so it reaches the room's sockets on every replica.

Malformed events (not an object, a message that is not text, metadata that is not an object) are ignored
instead of raising inside the server. Importing this module installs the project's Rasa patches
(``bot/channels/patches.py``).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels import patches
from bot.channels.messages import (MessageRefused, clean_message, max_message_chars, nothing_said_text, too_long_text,
                                   with_a_person)
from bot.identity import ConversationRefused, Gate, IdentityError
from knowledge.settings import get_settings

logger = logging.getLogger(__name__)

patches.install()

MAX_EVENT_BYTES = 256_000  # a larger frame closes the socket; up to this size a too-long message gets an answer
MAX_METADATA_BYTES = 8_000
REJECTED = "session_rejected"


class ShopSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output with working custom payloads; it counts what it sent."""

    sent = 0

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        self.sent += 1
        await super()._send_message(socket_id, response)

    async def send_custom_json(self, recipient_id: Text, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Send a custom payload (product card, carousel) as ``{"custom": payload}``."""
        await self._send_message(recipient_id, {"custom": json_message})


def _metadata(data: dict[str, Any], key: Optional[str]) -> dict[str, Any]:
    """The message metadata the widget sent, as a small dict (anything else becomes empty)."""
    metadata = data.get(key or "metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata[:MAX_METADATA_BYTES + 1])
        except (ValueError, RecursionError):
            return {}
    if not isinstance(metadata, dict):
        return {}
    try:
        return metadata if len(json.dumps(metadata)) <= MAX_METADATA_BYTES else {}
    except (TypeError, ValueError, RecursionError):
        return {}


def _app(sio: AsyncServer, sid: Text) -> Any:
    """The Sanic app serving this socket (from the request that opened it), None if unknown."""
    request = (sio.get_environ(sid) or {}).get("sanic.request")
    return getattr(request, "app", None)


def message_queue(url: str) -> dict[str, Any]:
    """The socket.io server's client manager for ``SOCKETIO_MESSAGE_QUEUE``: Redis when set, in-process when empty.

    With several Rasa replicas, a message for a room (a conversation) is published on Redis and every replica
    delivers it to the sockets of that room it holds, so an agent's reply relayed by any replica reaches the
    shopper's widget wherever it is connected.
    """
    if not url:
        return {}
    from socketio import AsyncRedisManager

    return {"client_manager": AsyncRedisManager(url)}


def _token(data: dict[str, Any]) -> Optional[str]:
    token = data.get("token")
    return token if isinstance(token, str) and token else None


class ShopSocketIOInput(SocketIOInput):
    """Rasa's socket.io input channel with verified shoppers, server-issued session ids and a message cap."""

    @classmethod
    def name(cls) -> Text:
        """The channel's name in trackers and webhook URLs."""
        return "socketio"

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The output channel for the current connection."""
        if self.sio is None:
            return None
        return ShopSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The socket.io server on the Rasa server, with checked sessions and messages."""
        settings = get_settings()
        gate, limit = Gate.from_settings(settings), max_message_chars()
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=list(settings.chat_origins),
                          max_http_buffer_size=MAX_EVENT_BYTES, **message_queue(settings.socketio_message_queue))
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        namespace = self.namespace

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def reject(sid: Text, error: IdentityError) -> None:
            await sio.emit(REJECTED, {"reason": error.reason, "error": str(error)}, room=sid, namespace=namespace)

        async def session_request(sid: Text, data: Any = None) -> None:
            data = data if isinstance(data, dict) else {}
            try:
                customer = gate.customer(_token(data))
            except IdentityError as error:
                await reject(sid, error)
                return
            requested = data.get("session_id")
            session_id = requested if gate.owns(requested, customer) else gate.new_conversation(customer)
            async with sio.session(sid, namespace=namespace) as session:
                previous = session.get("session_id")
                session["session_id"] = session_id
            if self.session_persistence:
                if previous and previous != session_id:
                    await sio.leave_room(sid, previous, namespace=namespace)
                await sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        async def handle_message(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                logger.warning("ignored a malformed socket.io message from %s", sid)
                return
            try:
                text = clean_message(data.get("message", ""), limit)
            except MessageRefused as refused:
                if refused.status == 413:
                    await sio.emit(self.bot_message_evt, {"text": too_long_text(limit)}, room=sid, namespace=namespace)
                else:
                    logger.warning("ignored a socket.io message from %s: %s", sid, refused)
                return
            session = await sio.get_session(sid, namespace=namespace)
            confirmed = session.get("session_id")
            if not confirmed or (self.session_persistence and data.get("session_id") != confirmed):
                await reject(sid, ConversationRefused("request a session first (session_request) and use its id"))
                return
            try:
                metadata = gate.admit(confirmed, _token(data), _metadata(data, self.metadata_key))
            except IdentityError as error:
                await reject(sid, error)
                return
            sender_id = confirmed if self.session_persistence else sid
            output = ShopSocketIOOutput(sio, self.bot_message_evt)
            await on_new_message(UserMessage(text, output, sender_id, input_channel=self.name(), metadata=metadata))
            if not output.sent and not await with_a_person(_app(sio, sid), sender_id):  # silence reads as a broken bot
                await output.send_text_message(sender_id, nothing_said_text())

        async def connect(sid: Text, environ: dict, auth: Any = None) -> bool:
            return True

        sio.on("connect", connect, namespace=namespace)
        sio.on("session_request", session_request, namespace=namespace)
        sio.on(self.user_message_evt, handle_message, namespace=namespace)
        return webhook

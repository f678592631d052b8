"""The web app's side of the hand-over relay: put an agent's reply into a conversation, or hand it back.

It calls the Rasa server's ``/internal/handoff/`` routes (``bot/handoff/relay.py``) at ``RASA_INTERNAL_URL`` with
``HANDOFF_RELAY_TOKEN``; both default to this machine's Rasa server and the secret derived from
``var/secret.key``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional
from urllib.parse import quote

from knowledge.settings import Settings

TIMEOUT_SECONDS = 10
BACK_TEXT = ("You're back with the shop assistant. Ask me anything about our products or your orders, or say "
             "\"talk to a person\" if you need our team again.")
CLOSED_TEXT = ("Our team has closed this conversation. I'm the shop assistant again: ask me anything about our "
               "products or your orders.")


class RelayError(RuntimeError):
    """The Rasa server did not take the message (unreachable, refused, or no such conversation)."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class RelayClient:
    """Calls the Rasa server's hand-over relay; one aiohttp session, opened on first use."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._session: Optional[Any] = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "RelayClient":
        """The client for these settings' Rasa server and relay token."""
        return cls(settings.rasa_internal_url, settings.secret("handoff-relay"))

    async def _post(self, conversation_id: str, route: str, body: dict[str, Any]) -> dict[str, Any]:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        url = f"{self.base_url}/internal/handoff/{quote(conversation_id, safe='')}/{route}"
        try:
            async with self._session.post(url, json=body, headers={"Authorization": f"Bearer {self.token}"}) as reply:
                data = await reply.json(content_type=None)
                if reply.status == 404:
                    raise RelayError("the conversation is not in the tracker store", 404)
                if reply.status != 200:
                    raise RelayError(f"the Rasa server refused the message ({reply.status}: {data})")
                return data if isinstance(data, dict) else {}
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise RelayError(f"the Rasa server is unreachable right now ({type(error).__name__})") from None

    async def send(self, conversation_id: str, text: str, username: str, name: str) -> None:
        """Show an agent's reply in the shopper's widget and record it in the conversation."""
        await self._post(conversation_id, "message", {"text": text, "agent": {"username": username, "name": name}})

    async def resume(self, conversation_id: str, text: str = BACK_TEXT) -> None:
        """Tell the shopper and let the assistant answer the conversation again."""
        await self._post(conversation_id, "resume", {"text": text})

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

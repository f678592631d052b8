"""The socket.io channel of the web widget: Rasa's, with two of its bugs fixed.

Rasa 3.6.21's channel, with python-socketio 5.x:

* ``SocketIOOutput.send_custom_json`` passes the payload's keys to ``AsyncServer.emit`` as keyword
  arguments, so a custom payload such as ``{"type": "product_card", ...}`` fails with a ``TypeError`` and the
  shopper sees nothing. Here it is emitted as ``{"custom": payload}``, the shape the REST channel returns.
* ``session_request`` calls the coroutine ``AsyncServer.enter_room`` without awaiting it, so with session
  persistence the socket never joins its session's room and no answer reaches the browser.

Malformed events (not an object, a message that is not text, metadata that is not an object) are ignored
or cleaned instead of raising inside the server.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

logger = logging.getLogger(__name__)


class ShopSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output with working custom payloads."""

    async def send_custom_json(self, recipient_id: Text, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Send a custom payload (product card, carousel) as ``{"custom": payload}``."""
        await self._send_message(recipient_id, {"custom": json_message})


def _metadata(data: dict[str, Any], key: Optional[str]) -> dict[str, Any]:
    """The message metadata the widget sent, as a dict (anything else becomes empty)."""
    metadata = data.get(key or "metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return {}
    return metadata if isinstance(metadata, dict) else {}


class ShopSocketIOInput(SocketIOInput):
    """Rasa's socket.io input channel with session rooms joined and custom payloads delivered."""

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
        """Rasa's blueprint, with the session and message handlers replaced by fixed ones."""
        webhook = super().blueprint(on_new_message)
        sio = self.sio

        async def session_request(sid: Text, data: Any) -> None:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(session_id, str) or not session_id or len(session_id) > 100:
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        async def handle_message(sid: Text, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                logger.warning("ignored a malformed socket.io message from %s", sid)
                return
            sender_id = sid
            if self.session_persistence:
                sender_id = data.get("session_id")
                if not isinstance(sender_id, str) or not sender_id:
                    logger.warning("ignored a socket.io message without a session id from %s", sid)
                    return
            message = UserMessage(
                data.get("message", ""), ShopSocketIOOutput(sio, self.bot_message_evt), sender_id,
                input_channel=self.name(), metadata=_metadata(data, self.metadata_key),
            )
            await on_new_message(message)

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return webhook

"""The Rasa server's hand-over relay: a person's words into a shopper's conversation, and the assistant back.

``push`` is the one place where something from outside the dialogue reaches a conversation: it appends events
to the conversation's tracker (under Rasa's lock for that conversation, in the tracker store, so they survive
a restart and the transcript holds them) and emits messages to the conversation's socket.io room, where the
shopper's widget listens. A cluster routes that emit through python-socketio's Redis manager; nothing else
changes.

Two routes on the Rasa server call it, for the web app only (``bot/handoff/client.py``): every request needs
``Authorization: Bearer HANDOFF_RELAY_TOKEN``, and ``bot/rasa_server.py`` answers only clients on this machine
that are not behind a proxy (403 otherwise), as for every route that is not a chat channel:

* ``POST /internal/handoff/<conversation>/message`` ``{"text": ..., "agent": {"username": ..., "name": ...}}``:
  an agent's reply, recorded as a ``BotUttered`` whose metadata names the agent, and shown in the widget as
  ``{"text": ..., "agent": {"name": ...}}``;
* ``POST /internal/handoff/<conversation>/resume`` ``{"text": ...}``: the shopper is told, then
  ``ConversationResumed`` and ``action_listen`` are appended, so the assistant answers the next message with the
  conversation's slots as they were.

The assistant steps aside by itself: ``action_handoff`` returns ``ConversationPaused``, and Rasa's
``MessageProcessor`` records a paused conversation's messages without predicting an answer.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Iterable, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from knowledge.settings import get_settings

logger = logging.getLogger(__name__)

PREFIX = "/internal/handoff"
AGENT_KEY = "shopbot_agent"  # the metadata of an agent's BotUttered: {"username", "name"}
HANDOFF_KEY = "shopbot_handoff"  # the metadata of the assistant's "you're back" message: "ended"
MAX_TEXT_CHARS = 5_000
MAX_NAME_CHARS = 64


class RelayTarget:
    """Where the relay pushes: the Rasa agent's tracker store and lock store, and the socket.io server."""

    def __init__(self, app: Any, sio: Any, event: str = "bot_uttered", namespace: Optional[str] = None) -> None:
        self.app, self.sio, self.event, self.namespace = app, sio, event, namespace

    async def push(self, conversation_id: str, events: Iterable[Any], messages: Iterable[dict[str, Any]]) -> bool:
        """Append events to an existing conversation's tracker and send messages to its room; False if none."""
        agent = getattr(self.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            raise RuntimeError("the Rasa agent is not loaded yet")
        async with agent.lock_store.lock(conversation_id):
            tracker = await agent.tracker_store.retrieve(conversation_id)
            if tracker is None or not tracker.events:
                return False
            for event in events:
                tracker.update(event, agent.domain)
            await agent.tracker_store.save(tracker)
        if self.sio is not None:
            for message in messages:
                await self.sio.emit(self.event, message, room=conversation_id, namespace=self.namespace)
        return True


def _text(value: Any, limit: int) -> Optional[str]:
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text[:limit] if text else None


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "").encode("utf-8", "replace")
    return bool(token) and hmac.compare_digest(given, f"Bearer {token}".encode())


def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def relay_blueprint(target: RelayTarget, token: str) -> Blueprint:
    """The relay's routes, answering only requests with the relay token."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationResumed

    relay = Blueprint("shopbot_handoff_relay", url_prefix=PREFIX)

    async def refused_or(request: Request) -> Optional[HTTPResponse]:
        if not _authorised(request, token):
            return response.json({"error": "the hand-over relay answers only the web app (token missing or wrong)"},
                                 status=401)
        return None

    @relay.post("/<conversation_id:str>/message")
    async def message(request: Request, conversation_id: str) -> HTTPResponse:
        refusal = await refused_or(request)
        if refusal:
            return refusal
        data = _body(request)
        text = _text(data.get("text"), MAX_TEXT_CHARS)
        agent = data.get("agent") if isinstance(data.get("agent"), dict) else {}
        name = _text(agent.get("name"), MAX_NAME_CHARS) or "Our team"
        username = _text(agent.get("username"), MAX_NAME_CHARS) or ""
        if not text:
            return response.json({"error": '"text" must be a non-empty string'}, status=400)
        event = BotUttered(text, metadata={AGENT_KEY: {"username": username, "name": name}})
        pushed = await target.push(conversation_id, [event], [{"text": text, "agent": {"name": name}}])
        if not pushed:
            return response.json({"error": "no such conversation"}, status=404)
        return response.json({"sent": True})

    @relay.post("/<conversation_id:str>/resume")
    async def resume(request: Request, conversation_id: str) -> HTTPResponse:
        refusal = await refused_or(request)
        if refusal:
            return refusal
        text = _text(_body(request).get("text"), MAX_TEXT_CHARS) or "You're back with the shop assistant."
        events = [BotUttered(text, metadata={HANDOFF_KEY: "ended"}), ConversationResumed(),
                  ActionExecuted("action_listen")]
        message = {"text": text, "custom": {"type": "handoff", "state": "ended"}}
        if not await target.push(conversation_id, events, [message]):
            return response.json({"error": "no such conversation"}, status=404)
        return response.json({"resumed": True})

    return relay


def install(app: Any, input_channels: Iterable[Any]) -> None:
    """Add the relay to the Rasa server's app, pushing to the socket.io channel among ``input_channels``."""
    socket = next((channel for channel in input_channels or () if getattr(channel, "sio", None) is not None), None)
    target = RelayTarget(app, getattr(socket, "sio", None), getattr(socket, "bot_message_evt", "bot_uttered"),
                         getattr(socket, "namespace", None))
    app.ctx.handoff_relay = target
    app.blueprint(relay_blueprint(target, get_settings().secret("handoff-relay")))

"""The hand-over API for an outside helpdesk under ``/api/handoff`` (``docs/helpdesk-bridge.md``).

Every route needs a staff API token of an ``agent`` or ``admin`` (``Authorization: Bearer TOKEN``, from
``shopbot staff token NAME``): 401 without a valid one, 403 for another role. A bridge between the helpdesk the
shop already has and shopbot receives the signed webhook (``bot/handoff/outbox.py``) and calls these:

| route | what |
|---|---|
| ``GET /api/handoff?state=waiting`` | hand-overs in one state (``waiting``, ``open``, ``closed``) |
| ``GET /api/handoff/<id>?after=N`` | one hand-over with its transcript (events after ``N``) |
| ``POST /api/handoff/<id>/reply`` ``{"text", "agent_name"}`` | show a reply in the shopper's widget |
| ``POST /api/handoff/<id>/take`` | mark it as taken by the token's staff member |
| ``POST /api/handoff/<id>/handback`` ``{"text"}`` | give the conversation back to the assistant |
| ``POST /api/handoff/<id>/close`` ``{"note"}`` | close it with a note (the assistant answers again) |
| ``POST /api/handoff/presence`` | the helpdesk has agents on duty now (call it every ``SHOPBOT_AGENT_PRESENCE_SECONDS``) |

Every call also counts as the token's staff member being on duty. Refusals are JSON: 400 for a bad body,
404 for an unknown hand-over, 409 when it is closed, 502 when the Rasa server could not take the message.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.client import RelayError
from bot.handoff.desk import Closed
from bot.web.auth import require
from bot.web.common import blocking
from knowledge.shopdb import handoff as handoffs
from knowledge.shopdb.handoff import HandoffError

handoff_api = Blueprint("handoff_api", url_prefix="/api/handoff")
STATES = {"waiting": "waiting", "open": "open", "closed": "closed"}
MAX_NAME_CHARS = 64


def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f'"{key}" must be a string')
    if required and not value.strip():
        raise ValueError(f'"{key}" is required')
    return value


async def _seen(request: Request) -> None:
    await blocking(handoffs.agent_seen, request.app.ctx.db, request.ctx.staff.username)


async def _answer(call: Callable[[], Awaitable[Any]]) -> HTTPResponse:
    try:
        result = await call()
    except Closed as error:
        return response.json({"error": str(error)}, status=409)
    except HandoffError as error:
        return response.json({"error": str(error)}, status=404)
    except RelayError as error:
        return response.json({"error": str(error)}, status=error.status)
    except ValueError as error:
        return response.json({"error": str(error)}, status=400)
    return response.json(result)


@handoff_api.get("/")
@require("handoff", api=True)
async def list_handoffs(request: Request) -> HTTPResponse:
    """The hand-overs in one state (default: waiting)."""
    await _seen(request)
    state = request.args.get("state", "waiting")
    if state not in STATES:
        return response.json({"error": f"state is one of {', '.join(STATES)}"}, status=400)
    queues = await blocking(handoffs.queues, request.app.ctx.db, 100)
    return response.json([handoff.to_dict() for handoff in queues[state]])


@handoff_api.post("/presence")
@require("handoff", api=True)
async def presence(request: Request) -> HTTPResponse:
    """Say that agents are on duty (the shopper is then offered a person during opening hours)."""
    await _seen(request)
    return response.json({"on_duty": await blocking(handoffs.agents_on_duty, request.app.ctx.db,
                                                    request.app.ctx.settings.agent_presence_seconds)})


@handoff_api.get("/<handoff_id:str>")
@require("handoff", api=True)
async def show(request: Request, handoff_id: str) -> HTTPResponse:
    """One hand-over with its transcript."""
    await _seen(request)
    text = request.args.get("after", "0")
    after = int(text) if text.isdigit() else 0

    async def read() -> dict[str, Any]:
        found = await request.app.ctx.desk.conversation(handoff_id, after)
        return {"handoff": found.handoff.to_dict(), "transcript": [line.to_dict() for line in found.lines],
                "last_event": found.state.last_event}

    return await _answer(read)


@handoff_api.post("/<handoff_id:str>/reply")
@require("handoff", api=True)
async def reply(request: Request, handoff_id: str) -> HTTPResponse:
    """Show an agent's reply in the shopper's widget, under ``agent_name`` (default: the staff member's name)."""
    await _seen(request)

    async def send() -> dict[str, Any]:
        data = _body(request)
        name = _text(data, "agent_name").strip()[:MAX_NAME_CHARS] or None
        found = await request.app.ctx.desk.reply(handoff_id, request.ctx.staff, _text(data, "text", True), name)
        return {"sent": True, "handoff": found.to_dict()}

    return await _answer(send)


@handoff_api.post("/<handoff_id:str>/take")
@require("handoff", api=True)
async def take(request: Request, handoff_id: str) -> HTTPResponse:
    """Take the conversation."""
    await _seen(request)

    async def taken() -> dict[str, Any]:
        return {"handoff": (await request.app.ctx.desk.take(handoff_id, request.ctx.staff)).to_dict()}

    return await _answer(taken)


@handoff_api.post("/<handoff_id:str>/handback")
@require("handoff", api=True)
async def hand_back(request: Request, handoff_id: str) -> HTTPResponse:
    """Give the conversation back to the assistant (``text``: what the shopper is told, optional)."""
    await _seen(request)

    async def back() -> dict[str, Any]:
        text = _text(_body(request), "text")
        return {"handoff": (await request.app.ctx.desk.hand_back(handoff_id, request.ctx.staff, text)).to_dict()}

    return await _answer(back)


@handoff_api.post("/<handoff_id:str>/close")
@require("handoff", api=True)
async def close(request: Request, handoff_id: str) -> HTTPResponse:
    """Close the conversation with a note."""
    await _seen(request)

    async def closed() -> dict[str, Any]:
        note = _text(_body(request), "note")
        return {"handoff": (await request.app.ctx.desk.close(handoff_id, request.ctx.staff, note)).to_dict()}

    return await _answer(closed)

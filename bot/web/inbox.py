"""The agents' inbox under ``/admin/inbox`` (staff with the ``agent`` or ``admin`` role) and the containment figures.

* ``/admin/inbox``: the queues (waiting with their wait, open with their agent, the latest closed ones) and the
  messages shoppers left while nobody was there. The page follows the queues live (server-sent events from
  ``/admin/inbox/stream``, which also keeps the agent "on duty" while the page is open).
* ``/admin/inbox/<id>``: one conversation: the whole transcript from the tracker store (product cards as the
  products' names and prices), the verified customer with recent orders and open returns, the product in focus
  and the last search; a reply box, "take", "hand back to the assistant" and "close with a note". New lines
  arrive live from ``/admin/inbox/<id>/stream`` (``Last-Event-ID`` resumes after a reconnect).
* ``/admin/containment``: conversations per day, the share handed over, the median wait to an agent's first
  reply, the fallback rate and the intents most often followed by a hand-over, with a chart (any staff).

Forms carry the session's CSRF token, like every admin form; the reply box posts with ``fetch`` and stays on
the page (without JavaScript it posts the form and comes back).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional
from urllib.parse import quote

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.client import RelayError
from bot.handoff.desk import Closed
from bot.handoff.figures import containment, containment_chart
from bot.handoff.transcript import lines as transcript_lines
from bot.web.auth import require
from bot.web.common import blocking
from bot.web.common import staff_page as page
from knowledge.shopdb import handoff as handoffs
from knowledge.products import get_product
from knowledge.refinement import SearchState, describe
from knowledge.shopdb.customers import get_customer
from knowledge.shopdb.handoff import HandoffError
from knowledge.shopdb.orders import customer_orders, open_returns
from knowledge.sparql import KnowledgeGraphUnavailable

inbox = Blueprint("inbox", url_prefix="/admin/inbox")
figures = Blueprint("containment", url_prefix="/admin/containment")

POLL_SECONDS = 0.4
KEEPALIVE_SECONDS = 15
STREAM_SECONDS = 600  # then the browser reconnects (EventSource does so by itself)
PRESENCE_SECONDS = 10
MAX_NOTE_CHARS = 2_000
MAX_DAYS = 90


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _render(request: Request, name: str, **context: Any) -> str:
    return request.app.ctx.templates.get_template(name).render(settings=request.app.ctx.settings, **context)


def _inbox_data(app: Any) -> dict[str, Any]:
    db, settings = app.ctx.db, app.ctx.settings
    return {"queues": handoffs.queues(db), "messages": handoffs.left_messages(db, "new"),
            "on_duty": handoffs.agents_on_duty(db, settings.agent_presence_seconds)}


def _queues_html(request: Request, data: dict[str, Any]) -> str:
    return _render(request, "admin/_queues.html", **data, staff=request.ctx.staff)


async def _seen(request: Request) -> None:
    await blocking(handoffs.agent_seen, request.app.ctx.db, request.ctx.staff.username)


async def _event_stream(request: Request) -> Any:
    stream = await request.respond(content_type="text/event-stream; charset=utf-8",
                                   headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    await stream.send("retry: 1000\n\n")
    return stream


def _sse(event: str, data: Any, event_id: Optional[int] = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# --- the queues -------------------------------------------------------------------------------------------

@inbox.get("/")
@require("handoff", api=False)
async def index(request: Request) -> HTTPResponse:
    """The queues of handed-over conversations and the messages left for the team."""
    await _seen(request)
    data = await blocking(_inbox_data, request.app)
    return page(request, "admin/inbox.html", queues_html=_queues_html(request, data), **data,
                done=request.args.get("done"))


@inbox.get("/stream")
@require("handoff", api=False)
async def queue_stream(request: Request) -> None:
    """Server-sent ``queues`` events whenever the queues change; keeps the agent on duty while it is open."""
    stream = await _event_stream(request)
    started = last_sent = last_seen = time.monotonic()
    shown = None
    while time.monotonic() - started < STREAM_SECONDS:
        now = time.monotonic()
        if now - last_seen >= PRESENCE_SECONDS:
            await _seen(request)
            last_seen = now
        html = _queues_html(request, await blocking(_inbox_data, request.app))
        if html != shown:
            await stream.send(_sse("queues", {"html": html}))
            shown, last_sent = html, now
        elif now - last_sent >= KEEPALIVE_SECONDS:
            await stream.send(": still here\n\n")
            last_sent = now
        await asyncio.sleep(POLL_SECONDS)
    await stream.eof()


@inbox.post("/messages/<message_id:str>/done")
@require("handoff", api=False)
async def message_done(request: Request, message_id: str) -> HTTPResponse:
    """Mark a left message as answered."""
    try:
        await blocking(handoffs.message_done, request.app.ctx.db, message_id, request.ctx.staff.username)
    except HandoffError as error:
        return page(request, "admin/error.html", status=404, message=str(error))
    return response.redirect(f"/admin/inbox?done={quote(message_id)}", status=303)


# --- one conversation -------------------------------------------------------------------------------------

def _customer_panel(app: Any, customer_id: Optional[str]) -> dict[str, Any]:
    if not customer_id:
        return {"customer": None, "orders": [], "returns": []}
    db = app.ctx.db
    return {"customer": get_customer(db, customer_id), "orders": customer_orders(db, customer_id, 5),
            "returns": open_returns(db, customer_id)}


def _focus(app: Any, product_id: Optional[str], search: Optional[dict]) -> dict[str, Any]:
    product = None
    if product_id:
        try:
            product = get_product(app.ctx.shop.kg, product_id)
        except (KnowledgeGraphUnavailable, ValueError):
            product = None
    state = SearchState.from_slot(search) if search else None
    return {"product_id": product_id, "product": product,
            "search": describe(state, app.ctx.settings.currency) if state else None}


async def _conversation_page(request: Request, handoff_id: str, status: int = 200, **context: Any) -> HTTPResponse:
    desk = request.app.ctx.desk
    try:
        conversation = await desk.conversation(handoff_id)
    except HandoffError as error:
        return page(request, "admin/error.html", status=404, message=str(error))
    await _seen(request)
    panel = await blocking(_customer_panel, request.app, conversation.handoff.customer_id)
    focus = await blocking(_focus, request.app, conversation.state.product_id, conversation.state.search)
    lines_html = _render(request, "admin/_lines.html", lines=conversation.lines)
    return page(request, "admin/conversation.html", status=status, handoff=conversation.handoff,
                lines_html=lines_html, last_event=conversation.state.last_event, paused=conversation.state.paused,
                **panel, **focus, **context)


@inbox.get("/<handoff_id:str>")
@require("handoff", api=False)
async def conversation_page(request: Request, handoff_id: str) -> HTTPResponse:
    """One handed-over conversation with everything an agent needs to answer."""
    if not handoff_id:
        return await index(request)
    return await _conversation_page(request, handoff_id)


@inbox.get("/<handoff_id:str>/stream")
@require("handoff", api=False)
async def conversation_stream(request: Request, handoff_id: str) -> None:
    """Server-sent ``lines`` (new transcript lines, as HTML) and ``state`` (waiting, open, closed) events."""
    desk = request.app.ctx.desk
    stream = await _event_stream(request)
    try:
        found = await desk.handoff(handoff_id)
    except HandoffError:
        await stream.send(_sse("gone", {"error": "no such hand-over"}))
        await stream.eof()
        return
    after = request.headers.get("last-event-id") or request.args.get("after") or "0"
    after = int(after) if after.isdigit() else 0
    shown_state = None
    started = last_sent = last_seen = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        now = time.monotonic()
        if now - last_seen >= PRESENCE_SECONDS:
            await _seen(request)
            last_seen = now
        events = await blocking(request.app.ctx.tracker_reader.events, found.sender_id, after)
        if events:
            after = events[-1].id
            new_lines = transcript_lines(events)
            if new_lines:
                html = _render(request, "admin/_lines.html", lines=new_lines)
                await stream.send(_sse("lines", {"html": html, "last": after}, after))
                last_sent = now
        current = await desk.handoff(handoff_id)
        if (current.state, current.agent) != shown_state:
            shown_state = (current.state, current.agent)
            await stream.send(_sse("state", {"state": current.state, "agent": current.agent}))
            last_sent = now
        if now - last_sent >= KEEPALIVE_SECONDS:
            await stream.send(": still here\n\n")
            last_sent = now
        await asyncio.sleep(POLL_SECONDS)
    await stream.eof()


async def _act(request: Request, handoff_id: str, action: Any, done: str) -> HTTPResponse:
    """Run a desk operation; JSON for the page's script, else back to the conversation page."""
    try:
        result = await action()
    except (HandoffError, ValueError, RelayError) as error:
        status = getattr(error, "status", None) or (409 if isinstance(error, Closed) else
                                                    404 if isinstance(error, HandoffError) else 400)
        if _wants_json(request):
            return response.json({"error": str(error)}, status=status)
        return await _conversation_page(request, handoff_id, status=status, refusal={"error": str(error)})
    if _wants_json(request):
        return response.json({"ok": True, "handoff": result.to_dict()})
    return response.redirect(f"/admin/inbox/{quote(handoff_id)}?done={done}", status=303)


@inbox.post("/<handoff_id:str>/take")
@require("handoff", api=False)
async def take(request: Request, handoff_id: str) -> HTTPResponse:
    """Take the conversation."""
    return await _act(request, handoff_id, lambda: request.app.ctx.desk.take(handoff_id, request.ctx.staff), "taken")


@inbox.post("/<handoff_id:str>/reply")
@require("handoff", api=False)
async def reply(request: Request, handoff_id: str) -> HTTPResponse:
    """Send a reply to the shopper's widget (it takes a waiting conversation)."""
    text = (request.form or {}).get("text", "")
    return await _act(request, handoff_id,
                      lambda: request.app.ctx.desk.reply(handoff_id, request.ctx.staff, text), "sent")


@inbox.post("/<handoff_id:str>/handback")
@require("handoff", api=False)
async def hand_back(request: Request, handoff_id: str) -> HTTPResponse:
    """Hand the conversation back to the assistant."""
    return await _act(request, handoff_id,
                      lambda: request.app.ctx.desk.hand_back(handoff_id, request.ctx.staff), "handed-back")


@inbox.post("/<handoff_id:str>/close")
@require("handoff", api=False)
async def close(request: Request, handoff_id: str) -> HTTPResponse:
    """Close the conversation with a note for the team."""
    note = (request.form or {}).get("note", "")[:MAX_NOTE_CHARS]
    return await _act(request, handoff_id,
                      lambda: request.app.ctx.desk.close(handoff_id, request.ctx.staff, note), "closed")


# --- containment ------------------------------------------------------------------------------------------

def _figures(app: Any, days: int) -> dict[str, Any]:
    end = datetime.now(timezone.utc).date()
    start = end - timedelta(days=days - 1)
    since = datetime.combine(start, datetime.min.time(), tzinfo=timezone.utc)
    activity = app.ctx.tracker_reader.activity_since(since.timestamp())
    found = containment(activity, handoffs.handoffs_since(app.ctx.db, since.replace(tzinfo=None)), start, end)
    return {"figures": found, "chart": containment_chart(found), "days": days}


@figures.get("/")
@require("read", api=False)
async def containment_page(request: Request) -> HTTPResponse:
    """How much the assistant handles alone, per day, with a chart."""
    text = request.args.get("days", "30")
    days = min(max(int(text), 1), MAX_DAYS) if text.isdigit() else 30
    data = await blocking(_figures, request.app, days)
    return page(request, "admin/containment.html", **data, today=date.today())

"""Conversations as the agents read them: Rasa's SQL tracker store, read-only, turned into transcript lines.

Rasa's ``SQLTrackerStore`` keeps every event of every conversation in one table, ``events`` (``id``,
``sender_id``, ``type_name``, ``timestamp``, ``intent_name``, ``action_name`` and ``data``, the event as JSON).
The web app reads it with SQLAlchemy, never writes it (``bot/handoff/relay.py`` appends through Rasa), so the
inbox shows what the tracker holds: the shopper's words, the assistant's (product cards as the products' names
and prices the shopper saw), the agents', and when the assistant stepped aside and came back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Optional

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, inspect, select
from sqlalchemy.engine import Engine

from bot.handoff.relay import AGENT_KEY

EVENTS = Table(
    "events", MetaData(),
    Column("id", Integer, primary_key=True), Column("sender_id", String(255)), Column("type_name", String(255)),
    Column("timestamp", Float), Column("intent_name", String(255)), Column("action_name", String(255)),
    Column("data", Text),
)
MAX_EVENTS = 2_000  # the newest events of one conversation an agent's page reads
MAX_FIGURE_ROWS = 2_000_000
FALLBACK_ACTIONS = ("action_fallback", "action_default_fallback")


@dataclass(frozen=True)
class StoredEvent:
    """One event of a conversation as the tracker store holds it."""

    id: int
    type_name: str
    timestamp: float
    data: dict[str, Any]


@dataclass(frozen=True)
class Line:
    """One line of a transcript: who said it, what, and the products or buttons that came with it."""

    event_id: int
    at: datetime
    who: str  # shopper, assistant, agent or system
    text: str
    name: str = ""  # the agent's name
    products: tuple[tuple[str, str], ...] = ()  # (name, price) of each product card shown
    buttons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The line as JSON-ready values."""
        return {"event_id": self.event_id, "at": self.at.isoformat(), "who": self.who, "name": self.name,
                "text": self.text, "products": [{"name": n, "price": p} for n, p in self.products],
                "buttons": list(self.buttons)}


@dataclass
class ConversationState:
    """What the tracker says about a conversation now: its slots of interest and whether the assistant is paused."""

    product_id: Optional[str] = None
    search: Optional[dict[str, Any]] = None
    paused: bool = False
    last_event: int = 0
    slots: dict[str, Any] = field(default_factory=dict)


class TrackerStoreReader:
    """Read-only access to Rasa's SQL tracker store."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Optional[Engine] = None

    @property
    def engine(self) -> Engine:
        """The engine, created on first use."""
        if self._engine is None:
            from knowledge.shopdb.engine import make_engine

            self._engine = make_engine(self.url)
        return self._engine

    def dispose(self) -> None:
        """Close the pooled connections."""
        if self._engine is not None:
            self._engine.dispose()

    def _ready(self) -> bool:
        return "events" in inspect(self.engine).get_table_names()  # Rasa creates it when it starts

    def events(self, sender_id: str, after: int = 0, limit: int = MAX_EVENTS) -> list[StoredEvent]:
        """A conversation's events after event ``after``, oldest first (the newest ``limit`` of them)."""
        if not self._ready():
            return []
        query = (select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
                 .where(EVENTS.c.sender_id == sender_id, EVENTS.c.id > int(after))
                 .order_by(EVENTS.c.id.desc()).limit(max(1, min(int(limit), MAX_EVENTS))))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [StoredEvent(int(i), t, float(ts or 0.0), _json(d)) for i, t, ts, d in reversed(rows)]

    def last_event_id(self, sender_id: str, type_name: Optional[str] = None) -> int:
        """The id of a conversation's newest event (of one type), 0 when there is none."""
        if not self._ready():
            return 0
        query = select(EVENTS.c.id).where(EVENTS.c.sender_id == sender_id)
        if type_name:
            query = query.where(EVENTS.c.type_name == type_name)
        with self.engine.connect() as connection:
            found = connection.execute(query.order_by(EVENTS.c.id.desc()).limit(1)).scalar()
        return int(found or 0)

    def activity_since(self, since: float) -> Iterator[tuple[str, str, float, Optional[str], Optional[str]]]:
        """(sender, type, timestamp, intent, action) of every user message and action since a UNIX time."""
        if not self._ready():
            return iter(())
        query = (select(EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.intent_name,
                        EVENTS.c.action_name)
                 .where(EVENTS.c.timestamp >= since, EVENTS.c.type_name.in_(("user", "action")))
                 .limit(MAX_FIGURE_ROWS))
        with self.engine.connect() as connection:
            return iter(connection.execute(query).all())


def _json(text: Optional[str]) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp or 0.0, tz=timezone.utc)


def _products(custom: Any) -> tuple[tuple[str, str], ...]:
    """The (name, price) of each product card in a custom payload: a single card or a carousel."""
    if not isinstance(custom, dict):
        return ()
    if custom.get("type") == "product_card":
        cards = [custom.get("card")]
    elif custom.get("type") == "carousel":
        cards = custom.get("cards") if isinstance(custom.get("cards"), list) else []
    else:
        return ()
    return tuple((str(card.get("title") or card.get("id") or "a product"), str(card.get("price_text") or ""))
                 for card in cards if isinstance(card, dict))


def _user_text(data: dict[str, Any]) -> str:
    text = str(data.get("text") or "")
    if text.startswith("/"):  # a button's payload: say which intent it stood for
        intent = ((data.get("parse_data") or {}).get("intent") or {}).get("name") or text[1:].split("{")[0]
        return f"[button: {intent.replace('_', ' ')}]"
    return text


def lines(events: Iterable[StoredEvent]) -> list[Line]:
    """The transcript lines of a run of events (events that say nothing to a reader are left out)."""
    found: list[Line] = []
    for event in events:
        data, at = event.data, _when(event.timestamp)
        if event.type_name == "user":
            text = _user_text(data)
            if text:
                found.append(Line(event.id, at, "shopper", text))
        elif event.type_name == "bot":
            metadata = data.get("metadata") or {}
            payload = data.get("data") or {}
            products = _products(payload.get("custom"))
            buttons = tuple(str(b.get("title", "")) for b in payload.get("buttons") or [] if isinstance(b, dict))
            text = str(data.get("text") or "")
            if not (text or products or buttons):
                continue
            agent = metadata.get(AGENT_KEY) if isinstance(metadata, dict) else None
            if isinstance(agent, dict):
                found.append(Line(event.id, at, "agent", text, name=str(agent.get("name") or "agent")))
            else:
                found.append(Line(event.id, at, "assistant", text, products=products, buttons=buttons))
        elif event.type_name == "pause":
            found.append(Line(event.id, at, "system", "The assistant stepped aside: the conversation is with the team."))
        elif event.type_name == "resume":
            found.append(Line(event.id, at, "system", "Handed back: the assistant answers again."))
    return found


def state(events: Iterable[StoredEvent], start: Optional[ConversationState] = None) -> ConversationState:
    """The conversation's state after a run of events (continuing from ``start``)."""
    current = start or ConversationState()
    for event in events:
        current.last_event = max(current.last_event, event.id)
        if event.type_name == "slot":
            name, value = event.data.get("name"), event.data.get("value")
            if isinstance(name, str):
                current.slots[name] = value
            if name == "product_id":
                current.product_id = value if isinstance(value, str) else None
            elif name == "search" and isinstance(value, dict):
                current.search = value  # the last search stays "the last search" when a new one is cleared
        elif event.type_name == "pause":
            current.paused = True
        elif event.type_name in ("resume", "restart", "session_started"):
            current.paused = False
    return current


__all__ = ["ConversationState", "EVENTS", "FALLBACK_ACTIONS", "Line", "StoredEvent", "TrackerStoreReader", "lines",
           "state"]

"""Support records: complaints and requests for a person, kept even when the text is huge or odd.

Texts are cut to :data:`MAX_TEXT_CHARS` (marked with " […]"), NUL characters and lone surrogates are
removed (PostgreSQL and UTF-8 reject them), and an unknown customer id is stored as NULL: the row is
always written.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import Complaint, Customer, HandoffRequest

MAX_TEXT_CHARS = 5_000
MAX_SENDER_CHARS = 255
MAX_TRANSCRIPT_CHARS = 200_000
MAX_TRANSCRIPT_EVENTS = 500
TRUNCATION_MARK = " […]"

_MAX_DEPTH = 6
_MAX_ITEMS = 100


@dataclass(frozen=True)
class HandoffView:
    """A request to hand a conversation to a person."""

    handoff_id: str
    sender_id: str
    customer_id: Optional[str]
    reason: str
    transcript: list[dict[str, Any]]
    created_at: datetime
    status: str


def clean_text(value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """Text safe to store: no NULs or lone surrogates, at most ``limit`` characters (cut ones end in " […]")."""
    text = "" if value is None else str(value)
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if len(text) <= limit:
        return text
    return text[: max(limit - len(TRUNCATION_MARK), 0)] + TRUNCATION_MARK[: limit]


def _json_safe(value: Any, depth: int = 0) -> Any:
    """A JSON-serialisable copy of a value with strings, lists and nesting cut to sane sizes."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_text(value)
    if depth >= _MAX_DEPTH:
        return clean_text(repr(value), 200)
    if isinstance(value, dict):
        items = list(value.items())[:_MAX_ITEMS]
        return {clean_text(key, 100): _json_safe(item, depth + 1) for key, item in items}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, depth + 1) for item in list(value)[:_MAX_ITEMS]]
    return clean_text(value)


def transcript_json(transcript: Optional[Sequence[Any]]) -> str:
    """The transcript as JSON text, keeping the newest events within the size limits."""
    events = list(transcript or [])
    dropped = max(len(events) - MAX_TRANSCRIPT_EVENTS, 0)
    events = events[dropped:]
    encoded = [
        json.dumps(_json_safe(e if isinstance(e, dict) else {"text": e}), ensure_ascii=False, allow_nan=False)
        for e in events
    ]
    size = sum(len(part) + 2 for part in encoded)
    start = 0
    while size > MAX_TRANSCRIPT_CHARS and start < len(encoded):
        size -= len(encoded[start]) + 2
        start += 1
    dropped += start
    kept = encoded[start:]
    if dropped:
        kept.insert(0, json.dumps({"event": "truncated", "dropped_events": dropped}))
    return "[" + ", ".join(kept) + "]"


def _known_customer(session: Session, customer_id: Any) -> Optional[str]:
    """The customer id if such a customer exists, else None."""
    if not isinstance(customer_id, str) or not customer_id or len(customer_id) > 16:
        return None
    return session.scalar(select(Customer.id).where(Customer.id == customer_id))


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6).upper()}"


def _utcnow() -> datetime:
    return datetime.utcnow().replace(microsecond=0)


def record_complaint(db: DB, sender_id: Any, text: Any, customer_id: Optional[str] = None) -> str:
    """Store a complaint and return its id ("CP-…")."""
    with session_scope(db) as session:
        row = Complaint(
            id=_new_id("CP"),
            sender_id=clean_text(sender_id, MAX_SENDER_CHARS),
            customer_id=_known_customer(session, customer_id),
            text=clean_text(text),
            created_at=_utcnow(),
        )
        session.add(row)
        session.commit()
        return row.id


def record_handoff(
    db: DB, sender_id: Any, reason: Any, transcript: Optional[Sequence[Any]], customer_id: Optional[str] = None
) -> str:
    """Store an open request for a person, with the conversation so far, and return its id ("HO-…")."""
    with session_scope(db) as session:
        row = HandoffRequest(
            id=_new_id("HO"),
            sender_id=clean_text(sender_id, MAX_SENDER_CHARS),
            customer_id=_known_customer(session, customer_id),
            reason=clean_text(reason),
            transcript=transcript_json(transcript),
            created_at=_utcnow(),
            status="open",
        )
        session.add(row)
        session.commit()
        return row.id


def _handoff_view(row: HandoffRequest) -> HandoffView:
    return HandoffView(
        handoff_id=row.id, sender_id=row.sender_id, customer_id=row.customer_id, reason=row.reason,
        transcript=json.loads(row.transcript or "[]"), created_at=row.created_at, status=row.status,
    )


def get_handoff(db: DB, handoff_id: str) -> Optional[HandoffView]:
    """One handoff request by id, or None."""
    with session_scope(db) as session:
        row = session.get(HandoffRequest, handoff_id)
        return _handoff_view(row) if row is not None else None


def open_handoffs(db: DB, limit: int = 50) -> list[HandoffView]:
    """The open handoff requests, oldest first (for staff)."""
    with session_scope(db) as session:
        rows = session.scalars(
            select(HandoffRequest)
            .where(HandoffRequest.status == "open")
            .order_by(HandoffRequest.created_at, HandoffRequest.id)
            .limit(max(1, min(int(limit), 500)))
        ).all()
        return [_handoff_view(row) for row in rows]

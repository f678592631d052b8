"""The live hand-over to a person: the queue of conversations, who took them, agents on duty, left messages.

A hand-over is a row of ``handoff_requests`` (``knowledge.shopdb.support.record_handoff`` writes its first
fields) that goes through three states:

* ``waiting`` (stored as ``open``): the shopper asked for a person and the assistant stepped aside;
* ``open`` (stored as ``assigned``): an agent took it (or answered it, which takes it);
* ``closed``: the agent handed the conversation back to the assistant, or closed it with a note.

Agents are "on duty" while the inbox or the helpdesk API has seen them within a few seconds
(``agent_presence``); outside the opening hours or with nobody on duty the shopper may leave a message
(``support_messages``). Everything an outside helpdesk should hear about goes into an outbox
(``handoff_outbox``) in order, and a deliverer sends it with retries.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Sequence

from sqlalchemy import select, update

from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import AgentPresence, Customer, HandoffRequest, OutboxEvent, SupportMessage
from knowledge.shopdb.support import MAX_SENDER_CHARS, clean_text, record_handoff

WAITING, WITH_AGENT, CLOSED = "open", "assigned", "closed"
STATE_NAMES = {WAITING: "waiting", WITH_AGENT: "open", CLOSED: "closed"}
OUTCOMES = ("handed_back", "closed")
MAX_NOTE_CHARS = 2_000
MAX_EMAIL_CHARS = 254
MAX_ATTEMPTS = 8


class HandoffError(ValueError):
    """A hand-over operation that cannot be done (unknown id, already closed)."""


@dataclass(frozen=True)
class Handoff:
    """A conversation handed to a person, as the inbox shows it."""

    id: str
    sender_id: str
    customer_id: Optional[str]
    reason: str
    created_at: datetime
    status: str
    triggered_by: Optional[str]
    previous_intent: Optional[str]
    agent: Optional[str]
    taken_at: Optional[datetime]
    first_reply_at: Optional[datetime]
    closed_at: Optional[datetime]
    outcome: Optional[str]
    close_note: Optional[str]
    forwarded_event: int

    @property
    def state(self) -> str:
        """``waiting``, ``open`` or ``closed``."""
        return STATE_NAMES.get(self.status, self.status)

    @property
    def active(self) -> bool:
        """Whether the conversation is with the team (waiting or open), so the assistant stays silent."""
        return self.status != CLOSED

    def waited(self, now: datetime) -> timedelta:
        """How long the shopper waited for a person's first answer (so far, while there is none)."""
        end = self.first_reply_at or (self.closed_at if self.status == CLOSED else None) or now
        return max(end - self.created_at, timedelta(0))

    def to_dict(self) -> dict[str, Any]:
        """The hand-over as JSON-ready values (times in ISO 8601, UTC)."""
        def iso(value: Optional[datetime]) -> Optional[str]:
            return value.replace(tzinfo=timezone.utc).isoformat() if value else None

        return {
            "id": self.id, "conversation_id": self.sender_id, "customer_id": self.customer_id, "reason": self.reason,
            "state": self.state, "triggered_by": self.triggered_by, "previous_intent": self.previous_intent,
            "agent": self.agent, "created_at": iso(self.created_at), "taken_at": iso(self.taken_at),
            "first_reply_at": iso(self.first_reply_at), "closed_at": iso(self.closed_at), "outcome": self.outcome,
            "close_note": self.close_note,
        }


@dataclass(frozen=True)
class LeftMessage:
    """A message a shopper left for the team."""

    id: str
    sender_id: str
    customer_id: Optional[str]
    email: str
    text: str
    created_at: datetime
    status: str
    handled_by: Optional[str]


@dataclass(frozen=True)
class Delivery:
    """One outbox event due for delivery."""

    id: int
    subject: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


def utcnow() -> datetime:
    """Now in UTC, timezone-naive like every datetime of the shop database."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _view(row: HandoffRequest) -> Handoff:
    return Handoff(
        id=row.id, sender_id=row.sender_id, customer_id=row.customer_id, reason=row.reason,
        created_at=row.created_at, status=row.status, triggered_by=row.triggered_by,
        previous_intent=row.previous_intent, agent=row.agent, taken_at=row.taken_at,
        first_reply_at=row.first_reply_at, closed_at=row.closed_at, outcome=row.outcome, close_note=row.close_note,
        forwarded_event=int(row.forwarded_event or 0),
    )


def _row(session, handoff_id: Any) -> HandoffRequest:  # noqa: ANN001 - sqlalchemy Session
    row = session.get(HandoffRequest, handoff_id) if isinstance(handoff_id, str) and len(handoff_id) <= 16 else None
    if row is None:
        raise HandoffError(f"there is no hand-over {handoff_id!r}")
    return row


def _enqueue(session, subject: str, kind: str, payload: Optional[dict[str, Any]] = None,  # noqa: ANN001 - a SQLAlchemy Session
             now: Optional[datetime] = None) -> None:
    now = now or utcnow()
    session.add(OutboxEvent(subject=subject, kind=kind, payload=json.dumps(payload or {}, ensure_ascii=False),
                            created_at=now, next_attempt_at=now, attempts=0))


# --- the queue --------------------------------------------------------------------------------------------

def request_handoff(db: DB, sender_id: Any, reason: Any, transcript: Optional[Sequence[Any]],
                    customer_id: Optional[str] = None, triggered_by: Optional[str] = None,
                    previous_intent: Optional[str] = None, notify: bool = False) -> Handoff:
    """Put a conversation in the queue for a person (or return its hand-over when it is already there).

    ``notify``: tell the helpdesk (an outbox event), when a webhook is configured.
    """
    current = active_handoff(db, sender_id)
    if current is not None:
        return current
    handoff_id = record_handoff(db, sender_id, reason, transcript, customer_id=customer_id)
    with session_scope(db) as session:
        row = _row(session, handoff_id)
        row.triggered_by = clean_text(triggered_by, 32) if triggered_by else None
        row.previous_intent = clean_text(previous_intent, 64) if previous_intent else None
        if notify:
            _enqueue(session, row.id, "handoff.created")
        session.commit()
        return _view(row)


def active_handoff(db: DB, sender_id: Any) -> Optional[Handoff]:
    """The conversation's hand-over that is waiting or open, if there is one."""
    sender = clean_text(sender_id, MAX_SENDER_CHARS)
    with session_scope(db) as session:
        row = session.scalars(
            select(HandoffRequest).where(HandoffRequest.sender_id == sender, HandoffRequest.status != CLOSED)
            .order_by(HandoffRequest.created_at.desc()).limit(1)
        ).first()
        return _view(row) if row is not None else None


def get_handoff(db: DB, handoff_id: Any) -> Optional[Handoff]:
    """One hand-over by id, or None."""
    with session_scope(db) as session:
        try:
            return _view(_row(session, handoff_id))
        except HandoffError:
            return None


def take(db: DB, handoff_id: str, agent: str, notify: bool = False) -> Handoff:
    """An agent takes a conversation (a waiting one, or one a colleague had); closed ones cannot be taken."""
    with session_scope(db) as session:
        row = _row(session, handoff_id)
        if row.status == CLOSED:
            raise HandoffError(f"{handoff_id} is closed")
        if row.agent != agent or row.status != WITH_AGENT:
            row.status, row.agent, row.taken_at = WITH_AGENT, agent, utcnow()
            if notify:
                _enqueue(session, row.id, "handoff.taken", {"agent": agent})
        session.commit()
        return _view(row)


def record_reply(db: DB, handoff_id: str, agent: str) -> Handoff:
    """Note that an agent answered: it takes a waiting conversation and starts the clock of the first answer."""
    with session_scope(db) as session:
        row = _row(session, handoff_id)
        if row.status == CLOSED:
            raise HandoffError(f"{handoff_id} is closed: the assistant has the conversation again")
        now = utcnow()
        if row.status == WAITING:
            row.status, row.agent, row.taken_at = WITH_AGENT, agent, now
        row.first_reply_at = row.first_reply_at or now
        session.commit()
        return _view(row)


def finish(db: DB, handoff_id: str, agent: str, outcome: str, note: Any = "", notify: bool = False) -> Handoff:
    """End a hand-over: ``handed_back`` (the assistant answers again) or ``closed`` (with a note)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
    with session_scope(db) as session:
        row = _row(session, handoff_id)
        if row.status == CLOSED:
            raise HandoffError(f"{handoff_id} is already closed")
        row.status, row.closed_at, row.outcome = CLOSED, utcnow(), outcome
        row.agent = row.agent or agent
        row.close_note = clean_text(note, MAX_NOTE_CHARS) or None
        if notify:
            _enqueue(session, row.id, f"handoff.{outcome}", {"agent": agent, "note": row.close_note})
        session.commit()
        return _view(row)


def queues(db: DB, closed_limit: int = 20) -> dict[str, list[Handoff]]:
    """The inbox: waiting conversations (longest wait first), open ones, and the latest closed ones."""
    with session_scope(db) as session:
        live = session.scalars(
            select(HandoffRequest).where(HandoffRequest.status != CLOSED)
            .order_by(HandoffRequest.created_at, HandoffRequest.id).limit(500)
        ).all()
        closed = session.scalars(
            select(HandoffRequest).where(HandoffRequest.status == CLOSED)
            .order_by(HandoffRequest.closed_at.desc(), HandoffRequest.id.desc()).limit(max(1, min(closed_limit, 200)))
        ).all()
    return {
        "waiting": [_view(row) for row in live if row.status == WAITING],
        "open": [_view(row) for row in live if row.status == WITH_AGENT],
        "closed": [_view(row) for row in closed],
    }


def handoffs_since(db: DB, since: datetime) -> list[Handoff]:
    """Every hand-over asked for since a moment (naive UTC), oldest first."""
    with session_scope(db) as session:
        rows = session.scalars(select(HandoffRequest).where(HandoffRequest.created_at >= since)
                               .order_by(HandoffRequest.created_at)).all()
        return [_view(row) for row in rows]


def forwarded(db: DB, handoff_id: str, event_id: int) -> None:
    """Remember the last tracker event of the conversation passed on to the helpdesk."""
    with session_scope(db) as session:
        session.execute(update(HandoffRequest).where(HandoffRequest.id == handoff_id)
                        .values(forwarded_event=int(event_id)))
        session.commit()


# --- agents on duty ---------------------------------------------------------------------------------------

def agent_seen(db: DB, username: str, at: Optional[datetime] = None) -> None:
    """Record that an agent is there now (the inbox and the helpdesk API call this while they are in use)."""
    at = at or utcnow()
    with session_scope(db) as session:
        row = session.get(AgentPresence, username)
        if row is None:
            session.add(AgentPresence(username=username, seen_at=at))
        else:
            row.seen_at = max(row.seen_at, at)
        session.commit()


def agents_on_duty(db: DB, within_seconds: float, now: Optional[datetime] = None) -> list[str]:
    """The agents seen within the last ``within_seconds``, by name."""
    since = (now or utcnow()) - timedelta(seconds=within_seconds)
    with session_scope(db) as session:
        return list(session.scalars(select(AgentPresence.username).where(AgentPresence.seen_at >= since)
                                    .order_by(AgentPresence.username)))


def agent_left(db: DB, username: str) -> None:
    """Forget an agent's presence (they signed out)."""
    with session_scope(db) as session:
        row = session.get(AgentPresence, username)
        if row is not None:
            session.delete(row)
            session.commit()


# --- messages left for the team ---------------------------------------------------------------------------

def _known_customer(session, customer_id: Any) -> Optional[str]:  # noqa: ANN001 - sqlalchemy Session
    if not isinstance(customer_id, str) or not customer_id or len(customer_id) > 16:
        return None
    return session.scalar(select(Customer.id).where(Customer.id == customer_id))


def customer_email(db: DB, customer_id: Optional[str]) -> Optional[str]:
    """The e-mail address on record for a customer, if there is such a customer."""
    if not customer_id:
        return None
    with session_scope(db) as session:
        return session.scalar(select(Customer.email).where(Customer.id == customer_id))


def leave_message(db: DB, sender_id: Any, email: Any, message: Any, customer_id: Optional[str] = None,
                  notify: bool = False) -> str:
    """Store a message for the team with the address to answer to; its id ("MS-…")."""
    with session_scope(db) as session:
        row = SupportMessage(
            id=f"MS-{secrets.token_hex(6).upper()}", sender_id=clean_text(sender_id, MAX_SENDER_CHARS),
            customer_id=_known_customer(session, customer_id), email=clean_text(email, MAX_EMAIL_CHARS),
            text=clean_text(message), created_at=datetime.now(timezone.utc).replace(tzinfo=None), status="new",
        )
        session.add(row)
        if notify:
            _enqueue(session, row.id, "message.created")
        session.commit()
        return row.id


def _message_view(row: SupportMessage) -> LeftMessage:
    return LeftMessage(row.id, row.sender_id, row.customer_id, row.email, row.text, row.created_at, row.status,
                       row.handled_by)


def left_messages(db: DB, status: str = "new", limit: int = 50) -> list[LeftMessage]:
    """Messages left for the team with this status, oldest first."""
    with session_scope(db) as session:
        rows = session.scalars(select(SupportMessage).where(SupportMessage.status == status)
                               .order_by(SupportMessage.created_at, SupportMessage.id)
                               .limit(max(1, min(int(limit), 500)))).all()
        return [_message_view(row) for row in rows]


def get_message(db: DB, message_id: Any) -> Optional[LeftMessage]:
    """One left message by id, or None."""
    if not isinstance(message_id, str) or len(message_id) > 16:
        return None
    with session_scope(db) as session:
        row = session.get(SupportMessage, message_id)
        return _message_view(row) if row is not None else None


def message_done(db: DB, message_id: str, agent: str) -> LeftMessage:
    """Mark a left message as answered."""
    with session_scope(db) as session:
        row = session.get(SupportMessage, message_id) if isinstance(message_id, str) else None
        if row is None:
            raise HandoffError(f"there is no message {message_id!r}")
        row.status, row.handled_by, row.handled_at = "done", agent, utcnow()
        session.commit()
        return _message_view(row)


# --- the outbox for an outside helpdesk -------------------------------------------------------------------

def enqueue(db: DB, subject: str, kind: str, payload: Optional[dict[str, Any]] = None) -> None:
    """Add an event for the helpdesk (delivered after every earlier one of the same subject)."""
    with session_scope(db) as session:
        _enqueue(session, subject, kind, payload)
        session.commit()


def due_deliveries(db: DB, limit: int = 20, now: Optional[datetime] = None) -> list[Delivery]:
    """Undelivered events whose time has come, oldest first, at most one per subject (so each stays in order)."""
    now = now or utcnow()
    with session_scope(db) as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.delivered_at.is_(None), OutboxEvent.attempts < MAX_ATTEMPTS)
            .order_by(OutboxEvent.id).limit(500)
        ).all()
    due, seen = [], set()
    for row in rows:
        if row.subject in seen:
            continue
        seen.add(row.subject)
        if row.next_attempt_at <= now:
            due.append(Delivery(row.id, row.subject, row.kind, json.loads(row.payload or "{}"), row.attempts,
                                row.created_at))
        if len(due) >= limit:
            break
    return due


def delivered(db: DB, delivery_id: int) -> None:
    """Mark an outbox event as delivered."""
    with session_scope(db) as session:
        session.execute(update(OutboxEvent).where(OutboxEvent.id == delivery_id).values(delivered_at=utcnow()))
        session.commit()


def delivery_failed(db: DB, delivery_id: int, error: str, now: Optional[datetime] = None) -> None:
    """Count a failed delivery and retry later (2, 4, 8 ... seconds, at most 10 minutes; given up after 8 tries)."""
    now = now or utcnow()
    with session_scope(db) as session:
        row = session.get(OutboxEvent, delivery_id)
        if row is None:
            return
        row.attempts += 1
        row.last_error = clean_text(error, 1000)
        row.next_attempt_at = now + timedelta(seconds=min(600, 2 ** row.attempts))
        session.commit()


def unannounced(db: DB) -> list[tuple[str, str]]:
    """Live hand-overs and new left messages the outbox has never had an event for: (subject, kind to announce).

    The web app's deliverer announces them, so a helpdesk hears of everything even when the process that
    created it (the action server) was not told about the webhook.
    """
    with session_scope(db) as session:
        announced = select(OutboxEvent.subject)
        handoffs = session.scalars(select(HandoffRequest.id).where(
            HandoffRequest.status != CLOSED, HandoffRequest.id.not_in(announced)).order_by(HandoffRequest.created_at)
            .limit(500)).all()
        messages = session.scalars(select(SupportMessage.id).where(
            SupportMessage.status == "new", SupportMessage.id.not_in(announced)).order_by(SupportMessage.created_at)
            .limit(500)).all()
    return [(id, "handoff.created") for id in handoffs] + [(id, "message.created") for id in messages]


def outbox(db: DB, subject: Optional[str] = None, limit: int = 100) -> list[dict[str, Any]]:
    """The outbox's latest events (of one subject), newest first, with their delivery state."""
    with session_scope(db) as session:
        query = select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(max(1, min(limit, 1000)))
        if subject:
            query = query.where(OutboxEvent.subject == subject)
        return [{"id": r.id, "subject": r.subject, "kind": r.kind, "attempts": r.attempts,
                 "delivered": r.delivered_at is not None, "last_error": r.last_error}
                for r in session.scalars(query)]


def undelivered_count(db: DB) -> int:
    """How many events still wait for delivery (given-up ones not counted)."""
    with session_scope(db) as session:
        return len(session.scalars(select(OutboxEvent.id).where(
            OutboxEvent.delivered_at.is_(None), OutboxEvent.attempts < MAX_ATTEMPTS)).all())


__all__ = [
    "CLOSED", "WAITING", "WITH_AGENT", "Delivery", "Handoff", "HandoffError", "LeftMessage", "active_handoff",
    "agent_left", "agent_seen", "agents_on_duty", "customer_email", "delivered", "delivery_failed",
    "due_deliveries", "enqueue", "finish", "forwarded", "get_handoff", "get_message", "handoffs_since",
    "leave_message", "left_messages", "message_done", "outbox", "queues", "record_reply", "request_handoff", "take",
    "unannounced", "undelivered_count",
]

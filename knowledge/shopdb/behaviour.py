"""Live behaviour: what shoppers do in the chat and on the store page, for the recommender and the campaigns.

The ``interactions`` table holds the shop's history (generated or imported: views, carts, purchases,
ratings of known customers). ``behaviour_events`` holds what happens live, one row an event: a product
looked at in the chat, a "Tell me more" or other card click, recommendations shown and clicked, a
campaign shown, held out (its control group) or clicked. A signed-in customer's events carry their id;
a guest's only the conversation (session) id. Together they are the interaction log the recommender is
trained on (:func:`live_interactions`).

    record_events(db, [Event("view", product_id="P0001", customer_id="C0001", session_id="abc")])
    session_products(db, "abc")           # what this conversation looked at, oldest first
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Optional, Sequence

from sqlalchemy import func, insert, select

from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import BEHAVIOUR_KINDS, EVENT_WEIGHTS, SOURCES, BehaviourEvent

#: At most this many events are written by one call (a reply shows a handful of products).
MAX_EVENTS_PER_CALL = 50
GUEST_PREFIX = "session:"


@dataclass(frozen=True)
class Event:
    """An event to record (see :data:`EVENT_WEIGHTS` for the kinds)."""

    kind: str
    product_id: Optional[str] = None
    customer_id: Optional[str] = None
    session_id: Optional[str] = None
    campaign_id: Optional[str] = None
    source: str = "chat"
    at: Optional[datetime] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_WEIGHTS:
            raise ValueError(f"unknown event kind {self.kind!r}; one of {', '.join(BEHAVIOUR_KINDS)}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; one of {', '.join(SOURCES)}")
        if not self.customer_id and not self.session_id:
            raise ValueError("an event needs a customer or a session")


def _clip(text: Optional[str], size: int) -> Optional[str]:
    return None if text is None or text == "" else str(text)[:size]


def record_events(db: DB, events: Iterable[Event], now: Optional[datetime] = None) -> int:
    """Write events (at most :data:`MAX_EVENTS_PER_CALL`; the rest are dropped) in one transaction; the rows written."""
    now = now or datetime.utcnow()
    rows = [
        {"at": event.at or now, "kind": event.kind, "customer_id": _clip(event.customer_id, 64),
         "session_id": _clip(event.session_id, 255), "product_id": _clip(event.product_id, 16),
         "campaign_id": _clip(event.campaign_id, 120), "source": event.source,
         "value": EVENT_WEIGHTS[event.kind]}
        for event in list(events)[:MAX_EVENTS_PER_CALL]
    ]
    if not rows:
        return 0
    with session_scope(db) as session:
        session.execute(insert(BehaviourEvent.__table__), rows)
        session.commit()
    return len(rows)


def session_products(db: DB, session_id: str, kinds: Sequence[str] = ("view", "info", "click", "rec_click",
                                                                      "campaign_click", "cart")) -> list[str]:
    """The products a conversation looked at or clicked, oldest first, each once."""
    with session_scope(db) as session:
        rows = session.execute(
            select(BehaviourEvent.product_id)
            .where(BehaviourEvent.session_id == str(session_id), BehaviourEvent.kind.in_(kinds),
                   BehaviourEvent.product_id.is_not(None))
            .order_by(BehaviourEvent.at, BehaviourEvent.id)
            .limit(1000)
        )
        return list(dict.fromkeys(row[0] for row in rows))


def recent_shown(db: DB, session_id: str, kinds: Sequence[str] = ("rec_shown",),
                 limit: int = 50) -> list[tuple[str, Optional[str]]]:
    """(product, campaign) of the latest products shown to a conversation as recommendations or campaigns, newest first."""
    with session_scope(db) as session:
        rows = session.execute(
            select(BehaviourEvent.product_id, BehaviourEvent.campaign_id)
            .where(BehaviourEvent.session_id == str(session_id), BehaviourEvent.kind.in_(kinds))
            .order_by(BehaviourEvent.at.desc(), BehaviourEvent.id.desc())
            .limit(limit)
        )
        return [(product, campaign) for product, campaign in rows]


def has_event(db: DB, kind: str, campaign_id: Optional[str] = None, customer_id: Optional[str] = None,
              session_id: Optional[str] = None) -> bool:
    """Whether an event of this kind exists for the campaign and the customer (or session)."""
    with session_scope(db) as session:
        query = select(BehaviourEvent.id).where(BehaviourEvent.kind == kind)
        if campaign_id is not None:
            query = query.where(BehaviourEvent.campaign_id == campaign_id)
        if customer_id is not None:
            query = query.where(BehaviourEvent.customer_id == customer_id)
        if session_id is not None:
            query = query.where(BehaviourEvent.session_id == session_id)
        return session.execute(query.limit(1)).first() is not None


def user_key(customer_id: Optional[str], session_id: Optional[str]) -> str:
    """Whom the recommender learns an event for: the customer, or the guest's conversation."""
    return str(customer_id) if customer_id else f"{GUEST_PREFIX}{session_id}"


def live_interactions(db: DB) -> list[tuple[str, str, float, datetime]]:
    """(customer or ``session:<id>``, product, summed weight, last time) of every taste signal in the live log."""
    weights: dict[tuple[str, str], float] = defaultdict(float)
    latest: dict[tuple[str, str], datetime] = {}
    signals = [kind for kind, weight in EVENT_WEIGHTS.items() if weight > 0]
    with session_scope(db) as session:
        rows = session.execute(
            select(BehaviourEvent.customer_id, BehaviourEvent.session_id, BehaviourEvent.product_id,
                   func.sum(BehaviourEvent.value), func.max(BehaviourEvent.at))
            .where(BehaviourEvent.kind.in_(signals), BehaviourEvent.product_id.is_not(None))
            .group_by(BehaviourEvent.customer_id, BehaviourEvent.session_id, BehaviourEvent.product_id)
        )
        for customer, session_id, product, total, last in rows:
            key = (user_key(customer, session_id), product)
            weights[key] += float(total)
            latest[key] = max(latest.get(key, last), last)
    return [(user, product, weight, latest[(user, product)]) for (user, product), weight in weights.items()]


def events(db: DB, campaign_id: Optional[str] = None, kinds: Sequence[str] = (), limit: int = 100_000) -> list[dict]:
    """Events as dicts, oldest first, optionally of one campaign and some kinds (for reports and tests)."""
    with session_scope(db) as session:
        query = select(BehaviourEvent).order_by(BehaviourEvent.at, BehaviourEvent.id).limit(limit)
        if campaign_id is not None:
            query = query.where(BehaviourEvent.campaign_id == campaign_id)
        if kinds:
            query = query.where(BehaviourEvent.kind.in_(kinds))
        return [
            {"at": e.at, "kind": e.kind, "customer_id": e.customer_id, "session_id": e.session_id,
             "product_id": e.product_id, "campaign_id": e.campaign_id, "source": e.source}
            for e in session.execute(query).scalars()
        ]

"""The ``customer_segments`` table: each customer's segment, written by a build and read by the bot."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, func, insert, inspect, select
from sqlalchemy.orm import Session

from knowledge.segments.model import Segment, SegmentModel
from knowledge.shopdb.engine import DB, session_scope

#: Its own metadata: the shop schema (``knowledge.shopdb.models``) stays as it is.
METADATA = MetaData()
CUSTOMER_SEGMENTS = Table(
    "customer_segments",
    METADATA,
    Column("customer_id", String(64), primary_key=True),
    Column("segment", Integer, nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
CHUNK = 5_000


def _has_table(session: Session) -> bool:
    return inspect(session.connection()).has_table(CUSTOMER_SEGMENTS.name)


def store_segments(db: DB, model: SegmentModel, now: Optional[datetime] = None) -> int:
    """Replace every row of ``customer_segments`` with the model's labels (one transaction); return the rows written."""
    now = now or datetime.utcnow().replace(microsecond=0)
    names = {segment.id: segment.name for segment in model.segments}
    rows = [
        {"customer_id": customer, "segment": int(label), "name": names[int(label)], "updated_at": now}
        for customer, label in zip(model.customer_ids.tolist(), model.labels.tolist())
    ]
    with session_scope(db) as session:
        METADATA.create_all(session.connection(), checkfirst=True)
        session.execute(delete(CUSTOMER_SEGMENTS))
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(CUSTOMER_SEGMENTS), rows[start : start + CHUNK])
        session.commit()
    return len(rows)


def segment_of(db: DB, customer_id: str) -> Optional[Segment]:
    """The stored segment of a customer (with its size), or None when unknown or never built."""
    with session_scope(db) as session:
        if not _has_table(session):
            return None
        row = session.execute(
            select(CUSTOMER_SEGMENTS.c.segment, CUSTOMER_SEGMENTS.c.name).where(
                CUSTOMER_SEGMENTS.c.customer_id == str(customer_id)
            )
        ).first()
        if row is None:
            return None
        size = session.execute(
            select(func.count()).select_from(CUSTOMER_SEGMENTS).where(CUSTOMER_SEGMENTS.c.segment == row.segment)
        ).scalar_one()
    return Segment(int(row.segment), row.name, size=int(size))


def segment_members(db: DB, segment_id: int) -> list[str]:
    """The customer ids stored in a segment, sorted (empty when never built)."""
    with session_scope(db) as session:
        if not _has_table(session):
            return []
        return list(
            session.execute(
                select(CUSTOMER_SEGMENTS.c.customer_id)
                .where(CUSTOMER_SEGMENTS.c.segment == int(segment_id))
                .order_by(CUSTOMER_SEGMENTS.c.customer_id)
            ).scalars()
        )


def customer_segments(db: DB, with_no_purchase: bool = False) -> dict[str, str]:
    """Every stored customer's segment name (those without a purchase left out unless asked for)."""
    from knowledge.segments.model import NO_PURCHASE

    with session_scope(db) as session:
        if not _has_table(session):
            return {}
        query = select(CUSTOMER_SEGMENTS.c.customer_id, CUSTOMER_SEGMENTS.c.name)
        if not with_no_purchase:
            query = query.where(CUSTOMER_SEGMENTS.c.segment != NO_PURCHASE)
        return {customer: name for customer, name in session.execute(query)}


def segment_sizes(db: DB) -> dict[str, int]:
    """How many customers each stored segment (by name) holds."""
    with session_scope(db) as session:
        if not _has_table(session):
            return {}
        rows = session.execute(
            select(CUSTOMER_SEGMENTS.c.name, func.count()).group_by(CUSTOMER_SEGMENTS.c.name)
        )
        return {name: int(count) for name, count in rows}

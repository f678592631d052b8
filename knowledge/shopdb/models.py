"""The shop database schema, every table of it: customers, orders and their lines, shipments, returns, support
and interactions; the live behaviour log; the live hand-over (agents, left messages, the helpdesk outbox); staff
accounts, tokens, sessions and the knowledge graph's audit log.

Money is ``Numeric(12, 2)`` read back as ``Decimal``; datetimes are timezone-naive UTC. The functions that use
the tables live in the modules named for them (``orders``, ``behaviour``, ``handoff``, ``staff``, ...);
``knowledge.shopdb.upgrades`` brings a database made by an older version up to this schema.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

ORDER_STATUSES = ("processing", "shipped", "delivered", "cancelled", "returned")
SHIPPING_OPTIONS = ("standard", "express", "pickup")
RETURN_STATUSES = ("requested", "received", "refunded", "rejected")
INTERACTION_KINDS = ("view", "cart", "purchase", "rating")
HANDOFF_STATUSES = ("open", "assigned", "closed")  # waiting for a person, with a person, over
MESSAGE_STATUSES = ("new", "done")  # a message left for the team: to answer, answered
ROLES = ("viewer", "editor", "agent", "admin")  # what staff may do: ``knowledge.shopdb.staff.can``
#: Kinds of event and how much each says about a shopper's taste (0: not a taste signal, e.g. shown).
EVENT_WEIGHTS = {
    "view": 1.0,  # a product's facts or price asked for by name
    "info": 1.5,  # "Tell me more"
    "click": 2.0,  # another click on a product card or button
    "rec_click": 2.0,  # a click on a recommended product
    "campaign_click": 2.0,  # a click on a campaign's product
    "cart": 3.0,  # added to the cart, where the store has one
    "rec_shown": 0.0,
    "campaign_shown": 0.0,
    "campaign_held_out": 0.0,  # the campaign would have been shown: the shopper is in its control group
}
BEHAVIOUR_KINDS = tuple(EVENT_WEIGHTS)
SOURCES = ("chat", "store")

CENT = Decimal("0.01")

Base: Any = declarative_base()  # Any: SQLAlchemy 1.4 types its declarative base only with its mypy plugin


def _in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression for a column holding one of fixed values (constants only, never user input)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Money(TypeDecorator):
    """An amount of money: ``NUMERIC(12, 2)`` in the database, ``Decimal`` with two places in Python."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        """SQLite has no decimals: read the float back without SQLAlchemy's lossy-conversion warning."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(12, 2, asdecimal=False))
        return dialect.type_descriptor(Numeric(12, 2))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Amounts are rounded to cents before they are stored."""
        if value is None:
            return None
        return Decimal(str(value)).quantize(CENT)

    def process_result_value(self, value: Any, dialect: Dialect) -> Optional[Decimal]:
        """Amounts come back as ``Decimal`` with two places on every database."""
        if value is None:
            return None
        if isinstance(value, float):
            value = repr(round(value, 2))
        return Decimal(str(value)).quantize(CENT)


class Customer(Base):
    """A shopper with an account."""

    __tablename__ = "customers"

    id = Column(String(16), primary_key=True)
    name = Column(String(120), nullable=False)
    email = Column(String(254), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False)
    address = Column(String(300), nullable=False)

    orders = relationship("Order", back_populates="customer")


class Order(Base):
    """An order; its id is the order number shoppers see, "SB-" and six digits."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="ck_orders_status"),
        CheckConstraint(_in("shipping_option", SHIPPING_OPTIONS), name="ck_orders_shipping_option"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
    )

    id = Column(String(9), primary_key=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=False)
    placed_at = Column(DateTime, nullable=False, index=True)
    status = Column(String(16), nullable=False)
    shipping_address = Column(String(300), nullable=False)
    shipping_option = Column(String(16), nullable=False)
    shipping_cost = Column(Money, nullable=False, default=Decimal("0.00"))
    total = Column(Money, nullable=False)
    currency = Column(String(3), nullable=False, default="USD")

    customer = relationship("Customer", back_populates="orders")
    lines = relationship("OrderLine", back_populates="order", order_by="OrderLine.id")
    shipment = relationship("Shipment", back_populates="order", uselist=False)
    returns = relationship("Return", back_populates="order", order_by="Return.created_at")


class OrderLine(Base):
    """One product of an order, with the name and price it had when ordered."""

    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_order_lines_quantity"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(9), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    product_id = Column(String(16), nullable=False, index=True)
    product_name = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price = Column(Money, nullable=False)

    order = relationship("Order", back_populates="lines")


class Shipment(Base):
    """How an order travels: carrier, tracking number and dates."""

    __tablename__ = "shipments"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(9), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, unique=True)
    carrier = Column(String(40), nullable=False)
    tracking_number = Column(String(40), nullable=False)
    shipped_at = Column(DateTime, nullable=False)
    expected_delivery = Column(Date, nullable=False)
    delivered_at = Column(DateTime, nullable=True)

    order = relationship("Order", back_populates="shipment")


class Return(Base):
    """A return of a delivered order; its id is "RT-" and six digits."""

    __tablename__ = "returns"
    __table_args__ = (CheckConstraint(_in("status", RETURN_STATUSES), name="ck_returns_status"),)

    id = Column(String(9), primary_key=True)
    order_id = Column(String(9), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)
    reason = Column(String(500), nullable=False, default="")
    status = Column(String(16), nullable=False)
    refund_amount = Column(Money, nullable=False)

    order = relationship("Order", back_populates="returns")


class Complaint(Base):
    """A complaint a shopper made in the chat."""

    __tablename__ = "complaints"

    id = Column(String(16), primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=True, index=True)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)


class HandoffRequest(Base):
    """A request to hand the conversation to a person, with the transcript so far (JSON)."""

    __tablename__ = "handoff_requests"
    __table_args__ = (CheckConstraint(_in("status", HANDOFF_STATUSES), name="ck_handoff_requests_status"),)

    id = Column(String(16), primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=True, index=True)
    reason = Column(Text, nullable=False)
    transcript = Column(Text, nullable=False, default="[]")
    created_at = Column(DateTime, nullable=False)
    status = Column(String(16), nullable=False, default="open", index=True)
    # The live hand-over (knowledge/shopdb/handoff.py); added to older databases' tables on start.
    triggered_by = Column(String(32), nullable=True)
    previous_intent = Column(String(64), nullable=True)
    agent = Column(String(64), nullable=True)
    taken_at = Column(DateTime, nullable=True)
    first_reply_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)
    outcome = Column(String(16), nullable=True)
    close_note = Column(Text, nullable=True)
    forwarded_event = Column(Integer, nullable=True)


class Interaction(Base):
    """One shopper-product event for the recommender: view, cart, purchase (value = quantity) or rating (1-5)."""

    __tablename__ = "interactions"
    __table_args__ = (CheckConstraint(_in("kind", INTERACTION_KINDS), name="ck_interactions_kind"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=False, index=True)
    product_id = Column(String(16), nullable=False, index=True)
    kind = Column(String(16), nullable=False)
    value = Column(Float, nullable=False, default=1.0)
    at = Column(DateTime, nullable=False, index=True)


# --- the live behaviour log (knowledge/shopdb/behaviour.py) ---------------------------------------------


class BehaviourEvent(Base):
    """One live event: who (customer and/or conversation), what kind, which product, which campaign, when."""

    __tablename__ = "behaviour_events"
    __table_args__ = (
        CheckConstraint(_in("kind", BEHAVIOUR_KINDS), name="ck_behaviour_events_kind"),
        CheckConstraint(_in("source", SOURCES), name="ck_behaviour_events_source"),
        Index("ix_behaviour_events_session_at", "session_id", "at"),
        Index("ix_behaviour_events_campaign_kind", "campaign_id", "kind"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime, nullable=False, index=True)
    kind = Column(String(24), nullable=False)
    customer_id = Column(String(64), nullable=True, index=True)
    session_id = Column(String(255), nullable=True)
    product_id = Column(String(16), nullable=True, index=True)
    campaign_id = Column(String(120), nullable=True)
    source = Column(String(16), nullable=False, default="chat")
    value = Column(Float, nullable=False, default=1.0)


# --- the live hand-over (knowledge/shopdb/handoff.py) ---------------------------------------------------


class AgentPresence(Base):
    """When a staff member who answers shoppers was last seen in the inbox or the helpdesk API."""

    __tablename__ = "agent_presence"

    username = Column(String(64), primary_key=True)
    seen_at = Column(DateTime, nullable=False, index=True)


class SupportMessage(Base):
    """A message a shopper left for the team while nobody could take the conversation."""

    __tablename__ = "support_messages"
    __table_args__ = (CheckConstraint(_in("status", MESSAGE_STATUSES), name="ck_support_messages_status"),)

    id = Column(String(16), primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=True, index=True)
    email = Column(String(254), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, index=True)
    status = Column(String(16), nullable=False, default="new", index=True)
    handled_by = Column(String(64), nullable=True)
    handled_at = Column(DateTime, nullable=True)


class OutboxEvent(Base):
    """Something an outside helpdesk should hear about, in order: delivered with retries by the web app."""

    __tablename__ = "handoff_outbox"

    id = Column(Integer, primary_key=True, autoincrement=True)
    subject = Column(String(16), nullable=False, index=True)  # the hand-over (HO-…) or left message (MS-…)
    kind = Column(String(32), nullable=False)
    payload = Column(Text, nullable=False, default="{}")
    created_at = Column(DateTime, nullable=False)
    next_attempt_at = Column(DateTime, nullable=False, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    delivered_at = Column(DateTime, nullable=True, index=True)
    last_error = Column(Text, nullable=True)


# --- staff and the graph's audit log (knowledge/shopdb/staff.py, knowledge/editing) -----------------------


class StaffAccount(Base):
    """A support staff member who may sign in to the admin page, the REST API and the CLI."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_staff_role"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False, default="viewer")
    display_name = Column(String(64), nullable=True)  # what shoppers see when this person answers them
    created_at = Column(DateTime, nullable=False)
    active = Column(Boolean, nullable=False, default=True)


class StaffToken(Base):
    """An API token of a staff member, stored as its SHA-256 hash."""

    __tablename__ = "staff_tokens"

    id = Column(Integer, primary_key=True, autoincrement=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    username = Column(String(64), ForeignKey("staff.username", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)
    last_used = Column(DateTime, nullable=True)
    expires_at = Column(DateTime, nullable=True)  # NULL (a token of an older version): created_at + TOKEN_LIFETIME


class StaffSession(Base):
    """A signed-in web session: the cookie's SHA-256 hash, its CSRF token and when it expires."""

    __tablename__ = "staff_sessions"

    id_hash = Column(String(64), primary_key=True)
    username = Column(String(64), ForeignKey("staff.username", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False, index=True)


class KgChange(Base):
    """One change written to the knowledge graph: who, when, what (N-Triples added and removed), which subjects."""

    __tablename__ = "kg_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, index=True)
    summary = Column(Text, nullable=False, default="")
    added = Column(Text, nullable=False, default="")
    removed = Column(Text, nullable=False, default="")
    reverts = Column(Integer, ForeignKey("kg_changes.id"), nullable=True, index=True)
    subjects = Column(Text, nullable=False, default="")


class KgWriteLock(Base):
    """One row that every graph writer updates first: it serialises writers (SQLite write lock, row lock elsewhere)."""

    __tablename__ = "kg_write_lock"

    id = Column(Integer, primary_key=True)
    writes = Column(Integer, nullable=False, default=0)
    updated_at = Column(DateTime, nullable=True)


#: The shop's own tables, parents before children (what ``drop_schema`` drops and ``row_counts`` counts).
TABLES = (
    Customer.__table__,
    Order.__table__,
    OrderLine.__table__,
    Shipment.__table__,
    Return.__table__,
    Complaint.__table__,
    HandoffRequest.__table__,
    Interaction.__table__,
)

#: The staff tables and the graph's audit log.
STAFF_TABLES = (
    StaffAccount.__table__, StaffToken.__table__, StaffSession.__table__, KgChange.__table__, KgWriteLock.__table__,
)

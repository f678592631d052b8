"""What a shopper can do with their orders: look one up, cancel it, change its address, return it.

Every function checks ownership first: an order is only shown or changed for the customer id that owns
it or, without a customer id, for the e-mail address of its customer. An order that does not exist and
an order of someone else raise the same :class:`OrderNotFound`, so nothing leaks. Every value reaches the
database as a bound parameter. Functions that write commit their session.

Returns: :func:`start_return` creates a return with status "requested" and leaves the order "delivered";
the order becomes "returned" only when the goods come back (a staff step). An order has at most one return.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import CENT, Order, Return

MAX_ADDRESS_CHARS = 300
MAX_REASON_CHARS = 500
MAX_RECENT_ORDERS = 50

#: How shoppers write an order number's prefix ("SB-", "sb ", "#SB_") and its six digits: the one definition.
_PREFIX, _DIGITS = r"SB\s*[-_#]?\s*", r"([0-9]{6})"
_ORDER_ID = re.compile(rf"#?\s*(?:{_PREFIX})?{_DIGITS}", re.IGNORECASE | re.ASCII)  # the whole text, prefix optional
_ORDER_ID_IN_TEXT = re.compile(rf"#?\b{_PREFIX}{_DIGITS}\b", re.IGNORECASE | re.ASCII)  # in a sentence, prefixed
#: The only status in which an order can still be cancelled or sent elsewhere (it has not left the warehouse).
OPEN_STATUS = "processing"
_RETURN_ID_ATTEMPTS = 20
_system_random = random.SystemRandom()

# --- errors ---------------------------------------------------------------------------------------


class ShopError(Exception):
    """A shopper's request the shop cannot carry out; ``str(error)`` is safe to show the shopper."""


class OrderNotFound(ShopError):
    """No such order for this shopper (it does not exist, or it is someone else's: the same to the caller)."""

    def __init__(self, order_id: Optional[str] = None) -> None:
        self.order_id = order_id
        what = f"order {order_id}" if order_id else "that order"
        super().__init__(f"I could not find {what} for you.")


class IdentityRequired(OrderNotFound):
    """Neither a customer id nor an e-mail address was given, so no order can be shown."""

    def __init__(self, order_id: Optional[str] = None) -> None:
        super().__init__(order_id)
        self.args = ("Please tell me the e-mail address of your account first.",)


class OrderNotCancellable(ShopError):
    """The order is past the point where it can be cancelled (only "processing" orders can)."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"This order is {status} and can no longer be cancelled.")


class AddressNotChangeable(ShopError):
    """The order has left the warehouse (or was cancelled): its address can no longer change."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"This order is {status}; its shipping address can no longer be changed.")


class InvalidAddress(ShopError, ValueError):
    """The new shipping address is empty, too long or holds control characters."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"That address cannot be used: {reason}.")


class OrderNotReturnable(ShopError):
    """Only delivered orders can be returned."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"This order is {status}; only delivered orders can be returned.")


class OutsideReturnWindow(ShopError):
    """The order was delivered longer ago than the return window allows."""

    def __init__(self, days_since_delivery: int, window_days: int) -> None:
        self.days_since_delivery = days_since_delivery
        self.window_days = window_days
        super().__init__(
            f"This order was delivered {days_since_delivery} days ago; returns are possible within "
            f"{window_days} days of delivery."
        )


class ReturnAlreadyRequested(ShopError):
    """The order already has a return."""

    def __init__(self, return_id: str, status: str) -> None:
        self.return_id = return_id
        self.status = status
        super().__init__(f"There is already a return for this order: {return_id} ({status}).")


# --- views ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderItem:
    """One line of an order as the shopper sees it."""

    product_id: str
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        """Quantity times unit price."""
        return (self.unit_price * self.quantity).quantize(CENT)


@dataclass(frozen=True)
class ReturnView:
    """A return of an order."""

    return_id: str
    order_id: str
    status: str
    reason: str
    refund_amount: Decimal
    currency: str
    created_at: datetime
    days_since_delivery: Optional[int] = None
    window_days: Optional[int] = None


@dataclass(frozen=True)
class OrderView:
    """An order as its owner may see it: status, items, money, shipping and returns."""

    order_id: str
    customer_id: str
    status: str
    placed_at: datetime
    items: tuple[OrderItem, ...]
    shipping_cost: Decimal
    total: Decimal
    currency: str
    shipping_option: str
    shipping_address: str
    carrier: Optional[str] = None
    tracking_number: Optional[str] = None
    shipped_at: Optional[datetime] = None
    expected_delivery: Optional[date] = None
    delivered_at: Optional[datetime] = None
    returns: tuple[ReturnView, ...] = ()

    @property
    def cancellable(self) -> bool:
        """Whether the order can still be cancelled."""
        return self.status == OPEN_STATUS

    @property
    def address_changeable(self) -> bool:
        """Whether the shipping address can still be changed."""
        return self.status == OPEN_STATUS

    @property
    def item_count(self) -> int:
        """How many pieces the order holds."""
        return sum(item.quantity for item in self.items)


@dataclass(frozen=True)
class OrderSummary:
    """One line of a shopper's order history."""

    order_id: str
    placed_at: datetime
    status: str
    total: Decimal
    currency: str
    item_count: int


# --- order numbers and addresses ------------------------------------------------------------------


def normalize_order_id(text: Any) -> Optional[str]:
    """The canonical order number ("SB-104532") from "sb104532", "SB 104532", "#SB-104532", "104532", ...; else None."""
    if not isinstance(text, str) or len(text) > 32:
        return None
    match = _ORDER_ID.fullmatch(text.strip().rstrip(".,;:!?").strip())
    return f"SB-{match.group(1)}" if match else None


def find_order_id(text: Any) -> Optional[str]:
    """The canonical number of the first order number written in a sentence ("where is sb 104532?"), else None."""
    match = _ORDER_ID_IN_TEXT.search(text) if isinstance(text, str) else None
    return f"SB-{match.group(1)}" if match else None


# Invisible format characters that reorder or hide text: line/paragraph separators, direction marks and
# overrides, the BOM.
_FORBIDDEN_FORMAT = {"\u2028", "\u2029", "\u200e", "\u200f", "\ufeff"} | {chr(c) for c in range(0x202A, 0x202F)} | {
    chr(c) for c in range(0x2066, 0x206A)
}


def validate_address(text: Any) -> str:
    """The address with outer and repeated spaces removed; raises InvalidAddress when unusable."""
    if not isinstance(text, str):
        raise InvalidAddress("it is not text")
    if any(unicodedata.category(c) == "Cc" or c in _FORBIDDEN_FORMAT for c in text):
        raise InvalidAddress("it contains control characters")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InvalidAddress("it is empty")
    if len(cleaned) > MAX_ADDRESS_CHARS:
        raise InvalidAddress(f"it is longer than {MAX_ADDRESS_CHARS} characters")
    if not any(c.isalnum() for c in cleaned):
        raise InvalidAddress("it has no letters or digits")
    return cleaned


# --- reading --------------------------------------------------------------------------------------


def _owned_order(session: Session, order_id: Any, customer_id: Any, email: Any) -> Order:
    """The order if the shopper owns it (customer id, else e-mail); OrderNotFound otherwise."""
    canonical = normalize_order_id(order_id)
    has_customer = isinstance(customer_id, str) and customer_id.strip() != ""
    has_email = isinstance(email, str) and email.strip() != ""
    if not has_customer and not has_email:
        raise IdentityRequired(canonical)
    if canonical is None:
        raise OrderNotFound(None)
    order = session.get(
        Order, canonical,
        options=[joinedload(Order.customer), joinedload(Order.shipment), selectinload(Order.lines),
                 selectinload(Order.returns)],
        populate_existing=True,
    )
    if order is None:
        raise OrderNotFound(canonical)
    if has_customer:
        owned = order.customer_id == customer_id.strip()
    else:
        owned = order.customer.email.strip().lower() == email.strip().lower()
    if not owned:
        raise OrderNotFound(canonical)
    return order


def _return_view(row: Return, currency: str) -> ReturnView:
    return ReturnView(
        return_id=row.id, order_id=row.order_id, status=row.status, reason=row.reason,
        refund_amount=row.refund_amount, currency=currency, created_at=row.created_at,
    )


def _view(order: Order) -> OrderView:
    shipment = order.shipment
    return OrderView(
        order_id=order.id,
        customer_id=order.customer_id,
        status=order.status,
        placed_at=order.placed_at,
        items=tuple(
            OrderItem(line.product_id, line.product_name, line.quantity, line.unit_price) for line in order.lines
        ),
        shipping_cost=order.shipping_cost,
        total=order.total,
        currency=order.currency,
        shipping_option=order.shipping_option,
        shipping_address=order.shipping_address,
        carrier=shipment.carrier if shipment else None,
        tracking_number=shipment.tracking_number if shipment else None,
        shipped_at=shipment.shipped_at if shipment else None,
        expected_delivery=shipment.expected_delivery if shipment else None,
        delivered_at=shipment.delivered_at if shipment else None,
        returns=tuple(_return_view(row, order.currency) for row in order.returns),
    )


def lookup_order(db: DB, order_id: Any, customer_id: Optional[str] = None, email: Optional[str] = None) -> OrderView:
    """The order if this shopper owns it (by customer id, else by e-mail, case-insensitive); else OrderNotFound."""
    with session_scope(db) as session:
        return _view(_owned_order(session, order_id, customer_id, email))


def customer_orders(db: DB, customer_id: str, limit: int = 5) -> list[OrderSummary]:
    """A customer's most recent orders, newest first (at most ``limit``, capped at 50)."""
    limit = max(1, min(int(limit), MAX_RECENT_ORDERS))
    with session_scope(db) as session:
        orders = session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(limit)
            .options(selectinload(Order.lines))
        ).all()
        return [
            OrderSummary(o.id, o.placed_at, o.status, o.total, o.currency, sum(line.quantity for line in o.lines))
            for o in orders
        ]


OPEN_RETURN_STATUSES = ("requested", "received")


def open_returns(db: DB, customer_id: str, limit: int = 20) -> list[ReturnView]:
    """A customer's returns that are not settled yet (requested or received), newest first."""
    with session_scope(db) as session:
        rows = session.execute(
            select(Return, Order.currency).join(Order, Order.id == Return.order_id)
            .where(Order.customer_id == customer_id, Return.status.in_(OPEN_RETURN_STATUSES))
            .order_by(Return.created_at.desc(), Return.id.desc()).limit(max(1, min(int(limit), 100)))
        ).all()
        return [_return_view(row, currency) for row, currency in rows]


# --- changing -------------------------------------------------------------------------------------


def _set_while_processing(session: Session, order: Order, **values: Any) -> bool:
    """Update the order only if it is still processing (atomic: a concurrent shipment wins); whether it did."""
    result = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OPEN_STATUS)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def cancel_order(db: DB, order_id: Any, customer_id: Optional[str] = None, email: Optional[str] = None) -> OrderView:
    """Cancel the shopper's order while it is processing; raises OrderNotCancellable otherwise."""
    with session_scope(db) as session:
        order = _owned_order(session, order_id, customer_id, email)
        if order.status != OPEN_STATUS or not _set_while_processing(session, order, status="cancelled"):
            session.rollback()
            raise OrderNotCancellable(_current_status(session, order.id))
        session.commit()
        return _view(_reload(session, order.id))


def change_shipping_address(
    db: DB, order_id: Any, new_address: Any, customer_id: Optional[str] = None, email: Optional[str] = None
) -> OrderView:
    """Change the shipping address of the shopper's order before it ships; raises InvalidAddress or AddressNotChangeable."""
    with session_scope(db) as session:
        order = _owned_order(session, order_id, customer_id, email)
        address = validate_address(new_address)
        if order.status != OPEN_STATUS or not _set_while_processing(session, order, shipping_address=address):
            session.rollback()
            raise AddressNotChangeable(_current_status(session, order.id))
        session.commit()
        return _view(_reload(session, order.id))


def _current_status(session: Session, order_id: str) -> str:
    return session.scalar(select(Order.status).where(Order.id == order_id)) or "unknown"


def _reload(session: Session, order_id: str) -> Order:
    order = session.get(
        Order, order_id,
        options=[joinedload(Order.shipment), selectinload(Order.lines), selectinload(Order.returns)],
        populate_existing=True,
    )
    assert order is not None
    return order


def _new_return_id(session: Session) -> str:
    for _ in range(_RETURN_ID_ATTEMPTS):
        candidate = f"RT-{_system_random.randrange(100000, 1000000)}"
        if session.get(Return, candidate) is None:
            return candidate
    raise RuntimeError("could not find a free return number")


def _utcnow() -> datetime:
    return datetime.utcnow().replace(microsecond=0)


def start_return(
    db: DB,
    order_id: Any,
    window_days: int,
    today: date,
    reason: str = "",
    customer_id: Optional[str] = None,
    email: Optional[str] = None,
) -> ReturnView:
    """Open a return ("requested", refund = order total) for a delivered order inside the return window."""
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 0:
        raise ValueError("window_days must be a non-negative int")
    if isinstance(today, datetime):
        today = today.date()
    reason_text = " ".join(str(reason or "").replace("\x00", "").split())[:MAX_REASON_CHARS]
    with session_scope(db) as session:
        order = _owned_order(session, order_id, customer_id, email)
        if order.returns:
            existing = order.returns[-1]
            raise ReturnAlreadyRequested(existing.id, existing.status)
        if order.status != "delivered" or order.shipment is None or order.shipment.delivered_at is None:
            raise OrderNotReturnable(order.status)
        days = (today - order.shipment.delivered_at.date()).days
        if days > window_days:
            raise OutsideReturnWindow(days, window_days)
        for attempt in range(3):
            row = Return(
                id=_new_return_id(session), order_id=order.id, created_at=_utcnow(), reason=reason_text,
                status="requested", refund_amount=order.total,
            )
            session.add(row)
            try:
                session.commit()
                break
            except IntegrityError:  # another request took the same number meanwhile
                session.rollback()
                if attempt == 2:
                    raise
        return replace(_return_view(row, order.currency), days_since_delivery=max(days, 0), window_days=window_days)

"""A shopper's orders as the assistant handles them: status, cancelling, a new address, a return.

The rules live here and in ``knowledge.shopdb.orders``: only the owner (the verified customer, or a guest by the
e-mail address on the order) sees or changes an order; only an order that has not left the warehouse can be
cancelled or sent elsewhere; a return opens inside the window the graph's return policy states. Refusals are
``ShopError`` exceptions whose fields say why, for the caller to put in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Optional

from knowledge.emails import find_email, normalize_email
from knowledge.policies import ReturnPolicy, return_policy
from knowledge.shopdb.engine import DB
from knowledge.shopdb.orders import (
    AddressNotChangeable, OrderNotCancellable, OrderView, ReturnView, cancel_order, change_shipping_address,
    find_order_id, lookup_order, normalize_order_id, start_return, validate_address,
)
from knowledge.sparql import SparqlEndpoint

__all__ = ["OrderDesk", "Shopper", "StartedReturn", "find_email", "find_order_id", "normalize_email",
           "normalize_order_id", "validate_address"]

#: The terms of a return when the graph states no return policy.
DEFAULT_RETURN_POLICY = ReturnPolicy(window_days=30, refund_days=14, refund_method="your original payment method",
                                     condition="", free_returns=False)


@dataclass(frozen=True)
class Shopper:
    """Who asks about an order: the verified signed-in customer, or a guest known by the e-mail on the order."""

    customer_id: Optional[str] = None
    email: Optional[str] = None

    @property
    def signed_in(self) -> bool:
        """Whether the shopper is a verified customer (a guest must also give the order's e-mail address)."""
        return bool(self.customer_id)

    def owner(self) -> dict[str, Optional[str]]:
        """The ownership check the database applies: the customer id, else the e-mail address."""
        return {"customer_id": self.customer_id} if self.customer_id else {"email": self.email}


@dataclass(frozen=True)
class StartedReturn:
    """A return just opened, with the policy whose terms apply to it."""

    order: OrderView
    opened: ReturnView
    policy: ReturnPolicy


class OrderDesk:
    """The order requests of the assistant, on the shop database ``db`` and the policies in the graph ``kg``."""

    def __init__(self, db: DB, kg: SparqlEndpoint, today: Callable[[], date] = date.today) -> None:
        self.db, self.kg, self.today = db, kg, today

    def order(self, order_id: Any, shopper: Shopper) -> OrderView:
        """The shopper's order (OrderNotFound when there is none, or it is someone else's)."""
        return lookup_order(self.db, order_id, **shopper.owner())

    def cancellable(self, order_id: Any, shopper: Shopper) -> OrderView:
        """The shopper's order, when it can still be cancelled (else OrderNotCancellable)."""
        order = self.order(order_id, shopper)
        if not order.cancellable:
            raise OrderNotCancellable(order.status)
        return order

    def cancel(self, order_id: Any, shopper: Shopper) -> OrderView:
        """Cancel the shopper's order, if it has not shipped yet."""
        return cancel_order(self.db, order_id, **shopper.owner())

    def readdressable(self, order_id: Any, shopper: Shopper) -> OrderView:
        """The shopper's order, when its shipping address can still change (else AddressNotChangeable)."""
        order = self.order(order_id, shopper)
        if not order.address_changeable:
            raise AddressNotChangeable(order.status)
        return order

    def change_address(self, order_id: Any, address: Any, shopper: Shopper) -> OrderView:
        """Send the shopper's order to a new address, if it has not shipped yet."""
        return change_shipping_address(self.db, order_id, address, **shopper.owner())

    def return_policy(self) -> ReturnPolicy:
        """The return policy the graph states, or the default terms."""
        return return_policy(self.kg) or DEFAULT_RETURN_POLICY

    def start_return(self, order_id: Any, shopper: Shopper, reason: str = "") -> StartedReturn:
        """Open a return of a delivered order inside the policy's window (OutsideReturnWindow, OrderNotReturnable)."""
        order = self.order(order_id, shopper)
        policy = self.return_policy()  # read before writing: without the graph, nothing is written
        opened = start_return(self.db, order.order_id, window_days=policy.window_days, today=self.today(),
                              reason=reason, **shopper.owner())
        return StartedReturn(order, opened, policy)

"""The shop database (SQLAlchemy 1.4): customers, orders, shipments, returns, support records, interactions.

    db = connect()                      # Settings().database_url; the schema is created on first use
    order = lookup_order(db, "sb 100001", email="alex@example.com")
    cancel_order(db, order.order_id, customer_id=order.customer_id)

The demo data comes from :func:`knowledge.shopdb.generate.generate_shop` (imported on its own: it pulls
in the demo catalog).
"""

from knowledge.shopdb.engine import DB, ShopDB, connect, ensure_schema, make_engine, row_counts, session_scope
from knowledge.shopdb.orders import (
    AddressNotChangeable,
    IdentityRequired,
    InvalidAddress,
    OrderItem,
    OrderNotCancellable,
    OrderNotFound,
    OrderNotReturnable,
    OrderSummary,
    OrderView,
    OutsideReturnWindow,
    ReturnAlreadyRequested,
    ReturnView,
    ShopError,
    cancel_order,
    change_shipping_address,
    customer_orders,
    lookup_order,
    normalize_order_id,
    start_return,
    validate_address,
)
from knowledge.shopdb.support import HandoffView, get_handoff, open_handoffs, record_complaint, record_handoff

__all__ = [
    "DB",
    "AddressNotChangeable",
    "HandoffView",
    "IdentityRequired",
    "InvalidAddress",
    "OrderItem",
    "OrderNotCancellable",
    "OrderNotFound",
    "OrderNotReturnable",
    "OrderSummary",
    "OrderView",
    "OutsideReturnWindow",
    "ReturnAlreadyRequested",
    "ReturnView",
    "ShopDB",
    "ShopError",
    "cancel_order",
    "change_shipping_address",
    "connect",
    "customer_orders",
    "ensure_schema",
    "get_handoff",
    "lookup_order",
    "make_engine",
    "normalize_order_id",
    "open_handoffs",
    "record_complaint",
    "record_handoff",
    "row_counts",
    "session_scope",
    "start_return",
    "validate_address",
]

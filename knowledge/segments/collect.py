"""Collecting what each customer bought: order lines from the shop database or the UCI Online Retail data."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np
from sqlalchemy import func, select

from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import Customer, Interaction, Order, OrderLine, Return

from knowledge.segments.catalog import as_catalog

if TYPE_CHECKING:
    from knowledge.recommend.evaluation import RetailData

#: Return statuses that mean the goods came back (a merely requested return still counts as a purchase).
RETURNED = ("received", "refunded")
SECONDS_PER_DAY = 86400.0


@dataclass
class Purchases:
    """Order lines of every customer as parallel arrays (one row a line), plus every known customer."""

    customers: np.ndarray  # customer id of the line
    orders: np.ndarray  # order (invoice) id
    dates: np.ndarray  # datetime64[s], when the order was placed
    statuses: np.ndarray  # order status ("" when the source has none)
    items: np.ndarray  # product id / stock code
    categories: np.ndarray  # category slug ("" when unknown: no category shares)
    quantities: np.ndarray  # float64
    prices: np.ndarray  # float64 unit price paid
    reference_prices: np.ndarray  # float64 mean price of the line's category (price sensitivity baseline)
    all_customers: np.ndarray  # every customer id, buyers or not, sorted
    as_of: np.datetime64  # the snapshot moment: recency and tenure count back from it
    category_labels: dict[str, str] = field(default_factory=dict)  # slug -> label for people
    views: Optional[np.ndarray] = None  # per all_customers: product views (None: no interaction log)
    carts: Optional[np.ndarray] = None  # per all_customers: add-to-cart events
    descriptions: Optional[np.ndarray] = None  # per line: product text (online retail keywords)
    currency: str = ""
    category_prices: dict[str, float] = field(default_factory=dict)  # slug -> mean catalog price

    LINE_FIELDS = ("customers", "orders", "dates", "statuses", "items", "categories", "quantities", "prices",
                   "reference_prices")

    def __len__(self) -> int:
        return len(self.orders)

    def subset(self, mask: np.ndarray) -> "Purchases":
        """The lines selected by a boolean mask or index array (customers, snapshot and activity kept)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in self.LINE_FIELDS:
            values[name] = values[name][mask]
        if self.descriptions is not None:
            values["descriptions"] = self.descriptions[mask]
        return Purchases(**values)


def _str(values: Sequence[object]) -> np.ndarray:
    """Values as a numpy unicode array (at least one character wide)."""
    array = np.asarray([str(v) for v in values])
    return array if array.dtype.kind == "U" else array.astype("U1")


def _times(values: Sequence[object]) -> np.ndarray:
    """Datetimes as ``datetime64[s]``."""
    return np.asarray(list(values), dtype="datetime64[s]")


def _group_means(keys: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """The mean of ``values`` per distinct key."""
    ids, index = np.unique(keys, return_inverse=True)
    means = np.bincount(index, weights=values, minlength=len(ids)) / np.bincount(index, minlength=len(ids))
    return dict(zip(ids.tolist(), means.tolist()))


def collect_shop(db: DB, products: Sequence[Any], currency: str = "") -> Purchases:
    """Every order line, returned order and browsing count of the shop database, with the catalog's categories.

    ``products``: the catalog, as :class:`~knowledge.segments.catalog.CatalogItem` (``catalog_items(kg)``
    reads them from the live graph), graph ``Product`` objects or demo-store products.
    """
    items_ = as_catalog(products)
    catalog = {p.id: p for p in items_}
    slugs, catalog_prices = _str([p.category for p in items_]), np.array([p.price for p in items_])
    category_prices = _group_means(slugs, catalog_prices) if items_ else {}
    with session_scope(db) as session:
        lines = session.execute(
            select(Order.customer_id, Order.id, Order.placed_at, Order.status, OrderLine.product_id,
                   OrderLine.quantity, OrderLine.unit_price)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .order_by(Order.placed_at, Order.id, OrderLine.id)
        ).all()
        returned = set(session.execute(select(Return.order_id).where(Return.status.in_(RETURNED))).scalars())
        last_order = session.execute(select(func.max(Order.placed_at))).scalar()
        customers = sorted(session.execute(select(Customer.id)).scalars())
        counts = session.execute(
            select(Interaction.customer_id, Interaction.kind, func.count())
            .where(Interaction.kind.in_(("view", "cart")))
            .group_by(Interaction.customer_id, Interaction.kind)
        ).all()
    columns = list(zip(*lines)) if lines else [[]] * 7
    items = _str(columns[4])
    categories = _str([catalog[i].category if i in catalog else "" for i in items.tolist()])
    prices = np.asarray([float(v) for v in columns[6]], dtype=np.float64)
    own_means = _group_means(items, prices) if len(items) else {}
    reference = np.asarray(
        [category_prices.get(c) or own_means[i] for c, i in zip(categories.tolist(), items.tolist())], dtype=np.float64
    )
    orders = _str(columns[1])
    statuses = _str(columns[3])
    if returned:
        statuses = np.where(np.isin(orders, list(returned)), "returned", statuses)
    all_customers = _str(customers)
    position = {cid: n for n, cid in enumerate(all_customers.tolist())}
    views, carts = np.zeros(len(all_customers)), np.zeros(len(all_customers))
    for customer_id, kind, count in counts:
        if customer_id in position:
            (views if kind == "view" else carts)[position[customer_id]] = count
    labels = {p.category: p.label for p in items_}
    return Purchases(
        customers=_str(columns[0]), orders=orders, dates=_times(columns[2]), statuses=statuses, items=items,
        categories=categories, quantities=np.asarray(columns[5], dtype=np.float64), prices=prices,
        reference_prices=reference, all_customers=all_customers,
        as_of=np.datetime64(last_order, "s") if last_order is not None else np.datetime64("now", "s"),
        category_labels=labels, views=views, carts=carts, currency=currency, category_prices=category_prices,
    )


def collect_online_retail(data: "RetailData", currency: str = "GBP") -> Purchases:
    """Invoices of the UCI Online Retail data as purchases: no categories, each stock code's mean price as baseline."""
    means = _group_means(data.items, data.prices)
    reference = np.asarray([means[item] for item in data.items.tolist()], dtype=np.float64)
    return Purchases(
        customers=data.customers, orders=data.invoices, dates=data.dates.astype("datetime64[s]"),
        statuses=np.full(len(data), "", dtype="U1"), items=data.items, categories=np.full(len(data), "", dtype="U1"),
        quantities=data.quantities.astype(np.float64), prices=data.prices.astype(np.float64),
        reference_prices=reference, all_customers=np.unique(data.customers),
        as_of=data.dates.max().astype("datetime64[s]") if len(data) else np.datetime64("now", "s"),
        descriptions=data.descriptions, currency=currency,
    )

"""Unit tests of knowledge.shopdb.generate: a full-size demo shop in a real SQLite file, and small ones."""

from __future__ import annotations

import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from knowledge.demo_store import SHIPPING_OPTIONS, Product, generate_products
from knowledge.shopdb import connect, row_counts
from knowledge.shopdb.generate import DEMO_ORDERS, TODAY, DatabaseNotEmpty, generate_shop
from knowledge.shopdb.models import TABLES, Customer, Interaction, Order, OrderLine, Return, Shipment

MAX_DAYS = {slug: high for slug, _, _, _, high, _ in SHIPPING_OPTIONS}


@pytest.fixture(scope="module")
def products() -> list[Product]:
    return generate_products()


@dataclass
class FullShop:
    """The full-size demo shop and what the generator reported."""

    url: str
    counts: dict[str, int]
    seconds: float
    rows: dict[str, list[Any]]


@pytest.fixture(scope="module")
def full_shop(tmp_path_factory: pytest.TempPathFactory, products: list[Product]) -> FullShop:
    url = f"sqlite:///{tmp_path_factory.mktemp('shopdb') / 'shop.db'}"
    started = time.monotonic()
    counts = generate_shop(url, products)
    seconds = time.monotonic() - started
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:  # Core rows: attribute access like the models, much faster
            rows = {
                key: connection.execute(select(table)).all()
                for key, table in (
                    ("customers", Customer.__table__), ("orders", Order.__table__), ("lines", OrderLine.__table__),
                    ("shipments", Shipment.__table__), ("returns", Return.__table__),
                    ("interactions", Interaction.__table__),
                )
            }
    finally:
        engine.dispose()
    return FullShop(url, counts, seconds, rows)


def test_full_size_counts(full_shop: FullShop) -> None:
    counts = full_shop.counts
    assert counts["customers"] >= 1000
    assert counts["orders"] >= 10000
    assert counts["order_lines"] > counts["orders"]
    assert counts["interactions"] > 5 * counts["orders"]
    engine = create_engine(full_shop.url, future=True)
    try:
        stored = row_counts(engine)
    finally:
        engine.dispose()
    assert {name: stored[name] for name in counts} == counts
    assert stored["complaints"] == stored["handoff_requests"] == 0  # how long it takes: bench/shop_generation.py


def test_ids_and_emails_have_the_documented_forms(full_shop: FullShop) -> None:
    customers, orders = full_shop.rows["customers"], full_shop.rows["orders"]
    assert all(re.fullmatch(r"C\d{4,}", c.id) for c in customers)
    assert len({c.email for c in customers}) == len(customers)
    assert all(c.email == c.email.lower() and "@" in c.email for c in customers)
    assert all(re.fullmatch(r"SB-\d{6}", o.id) for o in orders)
    assert all(re.fullmatch(r"RT-\d{6}", r.id) for r in full_shop.rows["returns"])


def test_status_mix_by_age(full_shop: FullShop) -> None:
    orders = full_shop.rows["orders"]
    statuses = Counter(o.status for o in orders)
    assert set(statuses) == {"processing", "shipped", "delivered", "cancelled", "returned"}
    assert 0.03 < statuses["cancelled"] / len(orders) < 0.07
    assert 0.025 < statuses["returned"] / len(orders) < 0.06
    assert statuses["delivered"] / len(orders) > 0.8
    now = datetime.combine(TODAY, datetime.min.time())
    start = now - timedelta(days=365)
    assert all(start <= o.placed_at < now for o in orders)
    age = lambda o: (now - o.placed_at).days  # noqa: E731 - a one-line helper read more easily inline
    assert max(age(o) for o in orders if o.status == "processing") <= 3
    assert max(age(o) for o in orders if o.status == "shipped") <= 12
    assert sum(age(o) > 30 for o in orders if o.status == "delivered") > 0.8 * statuses["delivered"]


def test_lines_point_at_real_products(full_shop: FullShop, products: list[Product]) -> None:
    catalog = {p.id: p for p in products}
    lines = full_shop.rows["lines"]
    for line in lines:
        product = catalog[line.product_id]
        assert line.product_name == product.name
        assert line.unit_price == product.price
        assert line.quantity >= 1
    interactions = full_shop.rows["interactions"]
    assert {row.product_id for row in interactions} <= set(catalog)
    assert len({line.product_id for line in lines}) > 0.8 * len(catalog)


def test_totals_add_up(full_shop: FullShop) -> None:
    subtotal: dict[str, Decimal] = defaultdict(Decimal)
    for line in full_shop.rows["lines"]:
        subtotal[line.order_id] += line.unit_price * line.quantity
    for order in full_shop.rows["orders"]:
        assert order.total == subtotal[order.id] + order.shipping_cost
        assert order.currency == "USD"


def test_shipments_match_statuses(full_shop: FullShop) -> None:
    orders = {o.id: o for o in full_shop.rows["orders"]}
    shipments = {s.order_id: s for s in full_shop.rows["shipments"]}
    assert len(shipments) == len(full_shop.rows["shipments"])
    for order in orders.values():
        shipment = shipments.get(order.id)
        if order.status in ("processing", "cancelled"):
            assert shipment is None, order.id
            continue
        assert shipment is not None, order.id
        assert shipment.carrier in ("DHL", "UPS", "FedEx", "USPS")
        assert shipment.tracking_number
        assert shipment.shipped_at > order.placed_at
        assert shipment.expected_delivery == shipment.shipped_at.date() + timedelta(days=MAX_DAYS[order.shipping_option])
        if order.status == "shipped":
            assert shipment.delivered_at is None
        else:
            assert shipment.delivered_at is not None and shipment.delivered_at > shipment.shipped_at


def test_returns_match_orders(full_shop: FullShop) -> None:
    orders = {o.id: o for o in full_shop.rows["orders"]}
    shipments = {s.order_id: s for s in full_shop.rows["shipments"]}
    returns = full_shop.rows["returns"]
    by_order = Counter(r.order_id for r in returns)
    assert max(by_order.values()) == 1
    for row in returns:
        order = orders[row.order_id]
        assert row.refund_amount == order.total
        assert row.created_at > shipments[order.id].delivered_at
        if row.status == "requested":
            assert order.status == "delivered"
        else:
            assert row.status in ("received", "refunded") and order.status == "returned"
    returned = {o.id for o in orders.values() if o.status == "returned"}
    assert returned == {r.order_id for r in returns if r.status != "requested"}


def test_interactions_come_from_orders_and_types(full_shop: FullShop, products: list[Product]) -> None:
    orders = {o.id: o for o in full_shop.rows["orders"]}
    interactions = full_shop.rows["interactions"]
    kinds = Counter(row.kind for row in interactions)
    assert set(kinds) == {"view", "cart", "purchase", "rating"}
    assert kinds["view"] > kinds["cart"] > kinds["purchase"] > kinds["rating"] > 1000
    expected = Counter(
        (orders[line.order_id].customer_id, line.product_id, float(line.quantity), orders[line.order_id].placed_at)
        for line in full_shop.rows["lines"] if orders[line.order_id].status != "cancelled"
    )
    purchases = Counter((r.customer_id, r.product_id, r.value, r.at) for r in interactions if r.kind == "purchase")
    assert purchases == expected
    ratings = [r.value for r in interactions if r.kind == "rating"]
    assert set(ratings) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert 3.2 < sum(ratings) / len(ratings) < 4.5
    # Latent shopper types: a shopper's purchases concentrate on a category far more than chance.
    category = {p.id: p.category.slug for p in products}
    bought = [(r.customer_id, category[r.product_id]) for r in interactions if r.kind == "purchase"]

    def top_share(pairs: list[tuple[str, str]]) -> float:
        per: dict[str, Counter] = defaultdict(Counter)
        for customer, slug in pairs:
            per[customer][slug] += 1
        shares = [max(c.values()) / sum(c.values()) for c in per.values() if sum(c.values()) >= 5]
        return sum(shares) / len(shares)

    shuffled = [slug for _, slug in bought]
    random.Random(7).shuffle(shuffled)
    assert top_share(bought) > top_share([(c, s) for (c, _), s in zip(bought, shuffled)]) + 0.1


def test_demo_customers_and_orders(full_shop: FullShop) -> None:
    customers = {c.id: c for c in full_shop.rows["customers"]}
    assert customers["C0001"].email == "alex@example.com"
    assert customers["C0002"].email == "sam@example.com"
    orders = {o.id: o for o in full_shop.rows["orders"]}
    shipments = {s.order_id: s for s in full_shop.rows["shipments"]}
    for order_id, fact in DEMO_ORDERS.items():
        assert orders[order_id].customer_id == fact.customer_id
        assert orders[order_id].status == fact.status
        if fact.tracking_number:
            assert (shipments[order_id].carrier, shipments[order_id].tracking_number) == (fact.carrier,
                                                                                           fact.tracking_number)
        if fact.delivered_days_ago is not None:
            assert (TODAY - shipments[order_id].delivered_at.date()).days == fact.delivered_days_ago
    assert sorted(o.id for o in orders.values() if o.customer_id == "C0001") == [
        "SB-100001", "SB-100002", "SB-100003", "SB-100004"]
    assert [o.id for o in orders.values() if o.customer_id == "C0002"] == ["SB-100005"]
    assert not [r for r in full_shop.rows["returns"] if r.order_id in DEMO_ORDERS]


def _dump(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            return {t.name: connection.execute(select(t).order_by(*t.primary_key.columns)).all() for t in TABLES}
    finally:
        engine.dispose()


def test_same_seed_same_shop(tmp_path: Path, products: list[Product]) -> None:
    urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db", "c.db")]
    generate_shop(urls[0], products, seed=5, customers=50, orders=300)
    generate_shop(urls[1], products, seed=5, customers=50, orders=300)
    generate_shop(urls[2], products, seed=6, customers=50, orders=300)
    first, second, other = (_dump(url) for url in urls)
    assert first == second
    assert first["orders"] != other["orders"]
    assert len(first["customers"]) == 50 and len(first["orders"]) == 300


def test_today_moves_every_date(tmp_path: Path, products: list[Product]) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    generate_shop(url, products, today=date(2025, 3, 1), customers=20, orders=60)
    db = connect(url)
    try:
        with db.session() as session:
            latest = session.scalar(select(Order.placed_at).order_by(Order.placed_at.desc()).limit(1))
            shipment = session.scalars(select(Shipment).where(Shipment.order_id == "SB-100003")).one()
            assert latest < datetime(2025, 3, 1)
            assert shipment.delivered_at.date() == date(2025, 2, 19)
    finally:
        db.dispose()


def test_refuses_a_filled_database_unless_replacing(tmp_path: Path, products: list[Product]) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    generate_shop(url, products, customers=10, orders=30)
    with pytest.raises(DatabaseNotEmpty):
        generate_shop(url, products, customers=12, orders=40)
    counts = generate_shop(url, products, customers=12, orders=40, replace=True)
    engine = create_engine(url, future=True)
    try:
        assert row_counts(engine)["customers"] == counts["customers"] == 12
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM orders")).scalar_one() == 40
    finally:
        engine.dispose()


@pytest.mark.parametrize("options", [{"customers": 2}, {"orders": 4}, {"orders": 10**7}])
def test_rejects_impossible_sizes(tmp_path: Path, products: list[Product], options: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        generate_shop(f"sqlite:///{tmp_path / 'shop.db'}", products, **options)
    with pytest.raises(ValueError):
        generate_shop(f"sqlite:///{tmp_path / 'shop.db'}", [])

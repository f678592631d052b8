"""The shop database on PostgreSQL: a private server started by the ``postgres_url`` fixture (tests/postgres.py),
or the one TEST_DATABASE_URL names (a server whose databases the test may create and drop):

    TEST_DATABASE_URL=postgresql://user:password@127.0.0.1:5432/postgres pytest tests/unit/test_shopdb_postgres.py
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterator

import pytest
from sqlalchemy import inspect

from knowledge.demo_store import generate_products
from knowledge.shopdb import (
    OrderNotCancellable,
    OrderNotFound,
    OutsideReturnWindow,
    ShopDB,
    cancel_order,
    change_shipping_address,
    connect,
    get_handoff,
    lookup_order,
    record_complaint,
    record_handoff,
    row_counts,
    start_return,
)
from knowledge.shopdb.engine import drop_schema
from knowledge.shopdb.generate import TODAY, generate_shop

from tests.postgres import create_database


@pytest.fixture(scope="module")
def db(postgres_url: str) -> Iterator[ShopDB]:
    shop = connect(create_database(postgres_url, "shopdb_test"))
    drop_schema(shop.engine)
    generate_shop(shop, generate_products(), customers=60, orders=400)
    yield shop
    drop_schema(shop.engine)
    shop.dispose()


def test_generated_shop_on_postgres(db: ShopDB) -> None:
    counts = row_counts(db.engine)
    assert counts["customers"] == 60 and counts["orders"] == 400 and counts["interactions"] > 1000
    view = lookup_order(db, "sb 100002", email="ALEX@example.com")
    assert view.carrier == "UPS" and isinstance(view.total, Decimal)
    assert view.total == sum((i.line_total for i in view.items), Decimal("0")) + view.shipping_cost


def test_services_on_postgres(db: ShopDB) -> None:
    with pytest.raises(OrderNotFound):
        lookup_order(db, "SB-100001", email="' OR 1=1 --")
    address = "1 Main St'); DROP TABLE orders; --"
    assert change_shipping_address(db, "SB-100005", address, customer_id="C0002").shipping_address == address
    assert cancel_order(db, "SB-100005", customer_id="C0002").status == "cancelled"
    with pytest.raises(OrderNotCancellable):
        cancel_order(db, "SB-100005", customer_id="C0002")
    assert start_return(db, "SB-100003", 30, TODAY, "too small", customer_id="C0001").status == "requested"
    with pytest.raises(OutsideReturnWindow):
        start_return(db, "SB-100004", 30, TODAY, "late", customer_id="C0001")
    record_complaint(db, "web-1", "nul \x00 and " + "x" * 9000, customer_id="C4040")
    handoff = get_handoff(db, record_handoff(db, "web-1", "help", [{"text": "hi\x00"}], customer_id="C0001"))
    assert handoff is not None and handoff.transcript == [{"text": "hi"}]
    assert "orders" in inspect(db.engine).get_table_names()

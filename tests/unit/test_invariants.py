"""tests/invariants.py itself: a same-size change to the graph or a row is caught where a count would not be."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from knowledge.demo_store import generate_products
from knowledge.products import count_triples
from knowledge.shopdb import connect, row_counts
from knowledge.shopdb.generate import generate_shop
from knowledge.sparql import OxigraphStoreClient
from tests.invariants import Snapshot

PRICE = "<https://shop.example/product/P0001-offer> <https://schema.org/price>"


@pytest.fixture(scope="module")
def shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("invariants") / "shop.db"
    generate_shop(f"sqlite:///{path}", generate_products(), customers=30, orders=120)
    return path


def test_a_replaced_price_keeps_the_count_and_fails_the_snapshot(memory_kg: OxigraphStoreClient) -> None:
    before, count = Snapshot.take(memory_kg), count_triples(memory_kg)
    memory_kg.update("DELETE { ?o <https://schema.org/price> ?p } INSERT { ?o <https://schema.org/price> 1.00 } "
                     "WHERE { ?o <https://schema.org/price> ?p FILTER(?o = <https://shop.example/product/P0001-offer>) }")
    after = Snapshot.take(memory_kg)
    assert count_triples(memory_kg) == count and before.graph_digest != after.graph_digest
    with pytest.raises(AssertionError, match="the graph changed") as caught:
        before.assert_unchanged(after, "a set")
    assert PRICE in str(caught.value)


def test_an_update_in_place_keeps_the_counts_and_fails_the_snapshot(shop_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "shop.db"
    copy.write_bytes(shop_file.read_bytes())
    db = connect(f"sqlite:///{copy}")
    try:
        before, counts = Snapshot.take(engine=db.engine), row_counts(db.engine)
        Snapshot.take(engine=db.engine).assert_unchanged(before)  # reading twice changes nothing
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE orders SET status = 'cancelled' WHERE id = 'SB-100001'"))
        after = Snapshot.take(engine=db.engine)
        assert row_counts(db.engine) == counts and before.database_digest != after.database_digest
        with pytest.raises(AssertionError, match="table orders changed"):
            before.assert_unchanged(after, "an UPDATE")
        with pytest.raises(AssertionError, match="table orders changed"):  # a log may grow, never change
            before.assert_unchanged(after, "an UPDATE", appendable={"orders"})
    finally:
        db.dispose()


def test_an_appendable_log_may_grow_under_new_keys_only(shop_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "shop.db"
    copy.write_bytes(shop_file.read_bytes())
    db = connect(f"sqlite:///{copy}")
    try:
        before = Snapshot.take(engine=db.engine)
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO complaints (id, sender_id, text, created_at) "
                                    "VALUES ('CP-1', 's', 'late', '2026-01-01 00:00:00')"))
        after = Snapshot.take(engine=db.engine)
        before.assert_unchanged(after, "a complaint", appendable={"complaints"})
        with pytest.raises(AssertionError, match="table complaints changed"):
            before.assert_unchanged(after, "a complaint")
    finally:
        db.dispose()

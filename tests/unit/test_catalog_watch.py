"""Unit tests of knowledge.catalog_watch and knowledge.catalog_state: the catalog's names follow the graph.

A staff edit (the real ``Editor`` on an in-process Oxigraph store and a real SQLite audit log) is taken in
by re-reading only the products the audit log names; a new load of the catalog, a graph that went back in
time or a counter without its audit row make the names be read again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest
from rdflib import Literal, URIRef

from knowledge.catalog_state import read_state
from knowledge.catalog_watch import PENDING_ROUNDS, AuditChangeLog, CatalogWatch
from knowledge.editing import Editor, create_product, delete_product, set_value
from knowledge.loading import load_graph, read_turtle
from knowledge.namespaces import PRODUCT
from knowledge.shop import Shop
from knowledge.shopdb import ShopDB, connect
from knowledge.shopdb.staff import add_staff
from knowledge.sparql import OxigraphStoreClient, SparqlEndpoint, render
from knowledge.vocabulary import CatalogNames


class CountingNames(CatalogNames):
    """The real catalog names, counting how they were brought up to date."""

    def __init__(self) -> None:
        super().__init__()
        self.rebuilds = 0
        self.updated: list[set[URIRef]] = []

    def rebuild(self, kg: SparqlEndpoint) -> None:
        self.rebuilds += 1
        super().rebuild(kg)

    def update(self, kg: SparqlEndpoint, products: set[URIRef], others: set[URIRef]) -> None:
        self.updated.append(set(products))
        super().update(kg, products, others)


@pytest.fixture(scope="module")
def staff_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("staff") / "shop.db"
    shop = connect(f"sqlite:///{path}")
    add_staff(shop, "alice", "alice-password", role="editor")
    shop.dispose()
    return path


@pytest.fixture
def db_url(staff_db: Path, tmp_path: Path) -> str:
    shutil.copyfile(staff_db, tmp_path / "shop.db")
    return f"sqlite:///{tmp_path / 'shop.db'}"


@pytest.fixture
def db(db_url: str) -> Iterator[ShopDB]:
    shop = connect(db_url)
    yield shop
    shop.dispose()


@pytest.fixture
def names() -> CountingNames:
    return CountingNames()


@pytest.fixture
def watch(memory_kg: OxigraphStoreClient, db_url: str, names: CountingNames) -> CatalogWatch:
    watch = CatalogWatch(memory_kg, poll_seconds=3600, changes=AuditChangeLog(db_url), background=False)
    watch.ensure(names)
    return watch


def _best(names: CatalogNames, mention: str) -> str | None:
    best = names.vocabulary.resolve(mention).best
    return best.product_id if best else None


def test_a_staff_rename_is_taken_in_from_the_audit_log(
    memory_kg: OxigraphStoreClient, db: ShopDB, watch: CatalogWatch, names: CountingNames
) -> None:
    assert _best(names, "Trailblazer 2 GTX Running Shoe") == "P0001"
    Editor(memory_kg, db).apply(set_value(memory_kg, PRODUCT.P0001, "schema:name", Literal("Moonwalker Zero")), "alice")
    assert read_state(memory_kg).last_change >= 1
    watch.check()
    assert names.rebuilds == 1 and names.updated == [{PRODUCT.P0001}]  # one product re-read, not the catalog
    assert _best(names, "moonwalker zero") == "P0001"
    assert [s.text for s in names.tag("is the Moonwalker Zero waterproof?") if s.label == "product"] == ["Moonwalker Zero"]
    assert all(m.score < 100 for m in names.vocabulary.resolve("Trailblazer 2 GTX Running Shoe").matches)  # old name gone
    assert "trailblazer 2 gtx running shoe" not in {s.text.lower() for s in names.tag("the Trailblazer 2 GTX Running Shoe")}
    watch.check()
    assert names.rebuilds == 1 and len(names.updated) == 1  # nothing new: nothing read


def test_new_and_deleted_products_are_followed(
    memory_kg: OxigraphStoreClient, db: ShopDB, watch: CatalogWatch, names: CountingNames
) -> None:
    editor = Editor(memory_kg, db)
    editor.apply(create_product({"id": "P9901", "name": "Quasar Kettle", "brand": "stridewell",
                                 "category": "running-shoes", "price": "19.90", "stock": 3}), "alice")
    watch.check()
    assert _best(names, "quasar kettle") == "P9901"
    assert _best(names, "quasr kettle") == "P9901"  # a typo finds the new name too
    editor.apply(delete_product(memory_kg, PRODUCT.P9901), "alice")
    watch.check()
    assert names.vocabulary.resolve("quasar kettle").matches == ()
    assert not any(s.label == "product" for s in names.tag("a quasar kettle please"))
    assert names.rebuilds == 1


def test_a_new_load_of_the_catalog_is_read_again(
    memory_kg: OxigraphStoreClient, catalog_file: Path, watch: CatalogWatch, names: CountingNames
) -> None:
    graph = read_turtle(catalog_file)
    graph.set((PRODUCT.P0002, URIRef("https://schema.org/name"), Literal("Loaded Anew Boot")))
    load_graph(memory_kg, graph)
    watch.check()
    assert names.rebuilds == 2
    assert _best(names, "loaded anew boot") == "P0002"


def test_a_counter_without_its_audit_row_ends_in_a_rebuild(
    memory_kg: OxigraphStoreClient, watch: CatalogWatch, names: CountingNames
) -> None:
    from knowledge.catalog_state import change_marker

    memory_kg.update(render("INSERT DATA { $p schema:alternateName 'ghost runner' }", p=PRODUCT.P0003))
    memory_kg.update(change_marker(7))  # a write that never reached the audit log
    for _ in range(PENDING_ROUNDS):
        watch.check()
    assert names.rebuilds == 2
    assert _best(names, "ghost runner") == "P0003"


def test_without_an_audit_log_every_change_rebuilds(memory_kg: OxigraphStoreClient, db: ShopDB) -> None:
    names = CountingNames()
    watch = CatalogWatch(memory_kg, poll_seconds=3600, changes=None, background=False)
    watch.ensure(names)
    Editor(memory_kg, db).apply(set_value(memory_kg, PRODUCT.P0001, "schema:name", Literal("Moonwalker Zero")), "alice")
    watch.check()
    assert names.rebuilds == 2 and names.updated == []
    assert _best(names, "moonwalker zero") == "P0001"


def test_the_shop_follows_edits_in_the_background(memory_kg: OxigraphStoreClient, db_url: str, db: ShopDB) -> None:
    import time

    shop = Shop(memory_kg, vocabulary_max_age=0.05, changes=AuditChangeLog(db_url))
    assert shop.resolve("Trailblazer 2 GTX Running Shoe").best.product_id == "P0001"
    Editor(memory_kg, db).apply(set_value(memory_kg, PRODUCT.P0004, "schema:name", Literal("Zephyr Lantern")), "alice")
    deadline = time.monotonic() + 10
    while shop.resolve("zephyr lantern").best is None and time.monotonic() < deadline:
        time.sleep(0.02)
    best = shop.resolve("zephyr lantern").best
    assert best is not None and best.product_id == "P0004"
    assert shop.resolve_in_text("do you have the zephyr lantern in stock").best.product_id == "P0004"


def test_an_unreadable_audit_log_is_answered_by_a_rebuild(
    memory_kg: OxigraphStoreClient, db: ShopDB, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    names = CountingNames()
    watch = CatalogWatch(memory_kg, poll_seconds=3600, background=False,
                         changes=AuditChangeLog(f"sqlite:///{tmp_path / 'a-file' / 'nothing.db'}"))
    watch.ensure(names)
    Editor(memory_kg, db).apply(set_value(memory_kg, PRODUCT.P0001, "schema:name", Literal("Moonwalker Zero")), "alice")
    watch.check()
    assert names.rebuilds == 2
    assert _best(names, "moonwalker zero") == "P0001"

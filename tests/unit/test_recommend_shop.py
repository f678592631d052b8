"""The shop's recommender on a generated shop database and the demo graph: picks, reasons, stock, speed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from knowledge.demo_store import generate_products
from knowledge.products import get_products
from knowledge.recommend.shop import ShopRecommender, ensure_model, purchased, shop_interactions
from knowledge.shopdb.engine import ShopDB, connect
from knowledge.shopdb.generate import generate_shop
from knowledge.sparql import OxigraphStoreClient, render


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> ShopDB:
    """A small generated shop: 200 customers, 1,500 orders."""
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}")
    generate_shop(db, generate_products(), today=date(2026, 11, 29), customers=200, orders=1500)
    return db


@pytest.fixture
def engine(shop_db: ShopDB, memory_kg: OxigraphStoreClient, tmp_path: Path) -> ShopRecommender:
    """A recommender trained on the small shop and the demo graph."""
    return ShopRecommender.load(ensure_model(tmp_path / "rec.npz", shop_db, memory_kg), memory_kg, shop_db)


def test_interactions_are_weighted_pairs(shop_db: ShopDB) -> None:
    pairs = shop_interactions(shop_db)
    assert pairs and all(weight > 0 for _, _, weight in pairs)
    assert len({(c, p) for c, p, _ in pairs}) == len(pairs)


def test_customer_picks_are_in_stock_not_bought_and_explained(engine: ShopRecommender, shop_db: ShopDB) -> None:
    picks = engine.for_customer("C0001", n=3)
    bought = set(purchased(shop_db, "C0001"))
    assert len(picks) == 3
    assert all(s.product.in_stock and s.product.id not in bought and s.reason for s in picks)


def test_category_filter(engine: ShopRecommender) -> None:
    picks = engine.for_customer("C0001", n=2, category="Headphones")
    assert picks and all(s.product.category == "Headphones" for s in picks)


def test_out_of_stock_products_are_never_suggested(engine: ShopRecommender, memory_kg: OxigraphStoreClient) -> None:
    memory_kg.update(render("DELETE { ?p shop:stockLevel ?s } INSERT { ?p shop:stockLevel 0 } WHERE { ?p shop:stockLevel ?s }"))
    assert engine.for_customer("C0001", n=3) == [] and engine.like(["P0001"]) == []


def test_similar_items_for_a_product_in_focus(engine: ShopRecommender) -> None:
    picks = engine.like(["P0001"], n=3)
    assert picks and all(s.product.id != "P0001" for s in picks)
    assert all("Trailblazer 2 GTX Running Shoe" in s.reason for s in picks)


def test_unknown_customer_gets_popular_items(engine: ShopRecommender) -> None:
    picks = engine.for_customer("C9999", n=3)
    assert len(picks) == 3 and all("popular" in s.reason for s in picks)


def test_the_saved_model_is_reused(shop_db: ShopDB, memory_kg: OxigraphStoreClient, tmp_path: Path) -> None:
    path = ensure_model(tmp_path / "rec.npz", shop_db, memory_kg)
    stamp = path.stat().st_mtime_ns
    assert ensure_model(path, shop_db, memory_kg).stat().st_mtime_ns == stamp
    assert get_products(memory_kg, ["P0001"])  # the graph is untouched by training

"""The shop's recommender on a generated shop database and the demo graph: requests honoured before the top N,
segments inside the picks (stored, or placed from a conversation's views), live behaviour in the training
data, and a model file reloaded when it changes."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from knowledge.demo_store import generate_products
from knowledge.products import all_product_ids, get_products
from knowledge.recommend.base import load_model
from knowledge.recommend.request import Request, product_stems
from knowledge.recommend.shop import (
    LiveRecommender,
    ShopRecommender,
    ensure_model,
    is_current,
    purchased,
    refresh,
    shop_interactions,
    shopper_label,
    train,
)
from knowledge.segments import customer_segments, segment_of
from knowledge.segments.features import SHARE_PREFIX
from knowledge.segments.model import SegmentModel
from knowledge.shopdb.behaviour import Event, record_events
from knowledge.shopdb.engine import ShopDB, connect
from knowledge.shopdb.generate import generate_shop
from knowledge.shopdb.models import Customer, Interaction, Order, OrderLine
from knowledge.sparql import OxigraphStoreClient, render

D = Decimal
LIGHT, NEW = "C9001", "C9002"  # one purchase; no history at all


def add_customer(db: ShopDB, customer_id: str, bought: tuple[str, ...] = ()) -> None:
    """A customer with one delivered order of these products (and its purchase interactions), or none."""
    now = datetime(2026, 11, 20, 12, 0)
    with db.session() as session:
        session.add(Customer(id=customer_id, name=f"Test {customer_id}", email=f"{customer_id.lower()}@example.com",
                             created_at=now - timedelta(days=30), address="1 Test Street"))
        if bought:
            order_id = f"SB-9{customer_id[-5:]}"
            session.add(Order(id=order_id, customer_id=customer_id, placed_at=now, status="delivered",
                              shipping_address="1 Test Street", shipping_option="standard", total=D("50.00")))
            for product in bought:
                session.add(OrderLine(order_id=order_id, product_id=product, product_name=product, quantity=1,
                                      unit_price=D("50.00")))
                session.add(Interaction(customer_id=customer_id, product_id=product, kind="purchase", value=1.0, at=now))
        session.commit()


@pytest.fixture(scope="module")
def kg(catalog_file: Path) -> OxigraphStoreClient:
    client = OxigraphStoreClient()
    client.load_turtle(str(catalog_file))
    return client


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopDB]:
    """A small generated shop (200 customers, 1,500 orders) plus a light and a brand-new customer."""
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}")
    generate_shop(db, generate_products(), today=date(2026, 11, 29), customers=200, orders=1500)
    add_customer(db, LIGHT, ("P0001",))
    add_customer(db, NEW)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def model_path(shop_db: ShopDB, kg: OxigraphStoreClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nightly job's output: segments stored and saved, then the recommender trained with them."""
    folder = tmp_path_factory.mktemp("models")
    refresh(shop_db, kg, folder / "recommender.npz", folder / "segments.npz")
    return folder / "recommender.npz"


@pytest.fixture(scope="module")
def engine(model_path: Path, kg: OxigraphStoreClient, shop_db: ShopDB) -> ShopRecommender:
    return ShopRecommender.load(model_path, kg, shop_db)


def in_stock_ids(kg: OxigraphStoreClient, request: Request) -> set[str]:
    return {p.id for p in get_products(kg, all_product_ids(kg)) if request.matches(p)}


# --- training ---------------------------------------------------------------------------------------


def test_interactions_are_weighted_pairs_with_times(shop_db: ShopDB) -> None:
    pairs = shop_interactions(shop_db)
    assert pairs and all(weight > 0 and isinstance(at, datetime) for _, _, weight, at in pairs)
    assert len({(c, p) for c, p, _, _ in pairs}) == len(pairs)


def test_live_behaviour_is_learned_guests_by_conversation(shop_db: ShopDB, kg: OxigraphStoreClient,
                                                          tmp_path: Path) -> None:
    record_events(shop_db, [Event("view", product_id="P0002", session_id="guest-1"),
                            Event("info", product_id="P0003", session_id="guest-1"),
                            Event("rec_shown", product_id="P0004", session_id="guest-1"),
                            Event("click", product_id="P0005", customer_id="C0001", session_id="s-c1")])
    pairs = {(user, product): weight for user, product, weight, _ in shop_interactions(shop_db)}
    assert pairs[("session:guest-1", "P0002")] == 1.0 and pairs[("session:guest-1", "P0003")] == 1.5
    assert ("session:guest-1", "P0004") not in pairs  # being shown a product is no taste signal
    assert pairs[("C0001", "P0005")] >= 2.0
    model = train(shop_db, get_products(kg, all_product_ids(kg)), tmp_path / "rec.npz")
    assert "session:guest-1" in model.user_index_
    assert set(customer_segments(shop_db).values()) <= set(model.segments)


def test_the_hybrid_is_trained_with_the_stored_segments(engine: ShopRecommender, shop_db: ShopDB) -> None:
    stored = customer_segments(shop_db)
    assert stored and set(stored.values()) == set(engine.model.segments)
    assert engine.model.segment_of("C0001") == stored["C0001"]
    assert engine.segments is not None and engine.segments.k == len(set(stored.values()))


# --- requests ---------------------------------------------------------------------------------------


def test_a_budget_is_applied_before_the_top_n(engine: ShopRecommender, kg: OxigraphStoreClient, shop_db: ShopDB) -> None:
    request = Request(max_price=D("30"))
    fitting = in_stock_ids(kg, request) - set(purchased(shop_db, "C0001"))
    picks = engine.recommend(request, customer_id="C0001")
    assert len(picks) == min(3, len(fitting)) > 0
    assert all(s.product.price <= D("30") and s.product.in_stock and s.product.id in fitting for s in picks)


@pytest.mark.parametrize("customer", ["C0001", LIGHT, None])
def test_category_colour_and_brand_are_honoured(engine: ShopRecommender, kg: OxigraphStoreClient,
                                                shop_db: ShopDB, customer: str) -> None:
    request = Request(category="Headphones", color="black")
    picks = engine.recommend(request, customer_id=customer)
    assert picks and all(request.matches(s.product) for s in picks)
    bought = set(purchased(shop_db, customer)) if customer else set()
    assert len(picks) == min(3, len(in_stock_ids(kg, request) - bought))
    brand = picks[0].product.brand
    assert all(s.product.brand == brand for s in engine.recommend(Request(brand=brand), customer_id=customer))


def test_an_answer_is_empty_only_when_nothing_fits(engine: ShopRecommender, kg: OxigraphStoreClient) -> None:
    assert engine.recommend(Request(max_price=D("0.50")), customer_id="C0001") == []
    stock = [p for p in get_products(kg, all_product_ids(kg)) if p.in_stock]
    owners: dict[str, list[str]] = {}
    for product in stock:
        for word in product_stems(product):
            owners.setdefault(word, []).append(product.id)
    word, (product_id,) = next((w, ids) for w, ids in sorted(owners.items()) if len(ids) == 1 and w.isalpha())
    only = engine.recommend(Request(words=(word,)))  # one product of the catalog is described by it
    assert [s.product.id for s in only] == [product_id]
    assert [s.product.id for s in engine.recommend(Request(words=(word, "birthday")))] == [product_id]  # unknown ignored


def test_cheaper_than_a_product_excludes_it(engine: ShopRecommender, kg: OxigraphStoreClient) -> None:
    hero = get_products(kg, ["P0001"])[0]
    request = Request(category="Running Shoes", max_price=hero.price - D("0.01"), exclude=("P0001",))
    picks = engine.recommend(request, customer_id="C0001")
    assert picks and all(s.product.price < hero.price and s.product.id != "P0001" for s in picks)


def test_out_of_stock_products_are_never_suggested(model_path: Path, shop_db: ShopDB, catalog_file: Path) -> None:
    client = OxigraphStoreClient()
    client.load_turtle(str(catalog_file))
    client.update(render("DELETE { ?p shop:stockLevel ?s } INSERT { ?p shop:stockLevel 0 } WHERE { ?p shop:stockLevel ?s }"))
    empty = ShopRecommender.load(model_path, client, shop_db)
    assert empty.for_customer("C0001", n=3) == [] and empty.like(["P0001"]) == []


# --- who the picks are for --------------------------------------------------------------------------


def test_known_customer_gets_personal_picks_not_bought_before(engine: ShopRecommender, shop_db: ShopDB) -> None:
    picks = engine.for_customer("C0001", n=3)
    bought = set(purchased(shop_db, "C0001"))
    assert len(picks) == 3
    assert all(s.product.in_stock and s.product.id not in bought and s.reason for s in picks)


def test_a_customer_with_little_history_gets_their_segments_picks(engine: ShopRecommender, shop_db: ShopDB) -> None:
    segment = segment_of(shop_db, LIGHT)
    assert segment is not None and segment.id >= 0 and engine.model.is_cold(LIGHT)
    picks = engine.recommend(Request(), customer_id=LIGHT)
    assert len(picks) == 3 and "P0001" not in {s.product.id for s in picks}
    assert all(s.reason == f"popular with {shopper_label(segment.name)} like you" for s in picks)
    popular = engine.model.fallback_scores(segment=segment.name)
    ranked = engine.model.item_index_.decode(np.argsort(-popular, kind="stable")[:10])
    assert picks[0].product.id in ranked


def test_no_history_customer_is_placed_by_the_nearest_centroid_after_a_few_views(
    engine: ShopRecommender, shop_db: ShopDB, kg: OxigraphStoreClient
) -> None:
    assert segment_of(shop_db, NEW).id < 0  # stored without a purchase: no segment of their own
    shoes = [p.id for p in get_products(kg, all_product_ids(kg)) if p.category == "Running Shoes"][:3]
    record_events(shop_db, [Event("view", product_id=shoes[0], customer_id=NEW, session_id="new-1"),
                            Event("view", product_id=shoes[1], customer_id=NEW, session_id="new-1")])
    two = engine.recommend(Request(), customer_id=NEW, session_id="new-1")
    assert all(s.reason.startswith("shoppers who liked the") for s in two)  # two views: not enough to place
    record_events(shop_db, [Event("view", product_id=shoes[2], customer_id=NEW, session_id="new-1")])
    placed = engine.segments.segment(engine.segments.place_by_products(get_products(kg, shoes))).name
    picks = engine.recommend(Request(), customer_id=NEW, session_id="new-1")
    assert picks and all(s.reason == f"popular with {shopper_label(placed)} like you" for s in picks)


def test_placing_a_segments_typical_shopper_finds_that_segment(engine: ShopRecommender) -> None:
    model: SegmentModel = engine.segments
    typical = model.typical()
    shares = [j for j, name in enumerate(model.feature_names) if name.startswith(SHARE_PREFIX)]
    assert shares
    for segment in range(model.k):
        counts = {model.feature_names[j][len(SHARE_PREFIX):]: typical[segment, j] for j in shares}
        x = model.scaled(np.where(np.isin(np.arange(len(model.feature_names)), shares), typical[segment], 0)[None, :])
        distances = ((model.centers[:, shares] - x[0, shares]) ** 2).sum(axis=1)
        assert model.place(counts) == int(distances.argmin())
    assert model.place({}) is None


def test_a_guest_who_looked_at_products_gets_similar_ones(engine: ShopRecommender) -> None:
    picks = engine.like(["P0001"], n=3)
    assert picks and all(s.product.id != "P0001" for s in picks)
    assert all("Trailblazer 2 GTX Running Shoe" in s.reason for s in picks)


def test_nobody_gets_popular_items(engine: ShopRecommender) -> None:
    picks = engine.recommend(Request())
    assert len(picks) == 3 and all("popular" in s.reason for s in picks)


# --- the model file ---------------------------------------------------------------------------------


def test_a_new_model_file_is_picked_up_without_a_restart(model_path: Path, kg: OxigraphStoreClient,
                                                         shop_db: ShopDB, tmp_path: Path) -> None:
    path = tmp_path / "recommender.npz"
    path.write_bytes(model_path.read_bytes())
    live = LiveRecommender(path, kg, shop_db, check_seconds=0.0)
    first = live.get()
    assert live.get() is first  # unchanged file: the same recommender
    train(shop_db, get_products(kg, all_product_ids(kg)), path)
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))  # a coarse file system could keep the old mtime
    second = live.get()
    assert second is not first and second.model.matrix_.nnz >= first.model.matrix_.nnz
    path.write_bytes(b"not a model")  # a broken file keeps the working model
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    assert live.get() is second


def test_ensure_model_trains_when_missing_or_of_an_older_format(shop_db: ShopDB, kg: OxigraphStoreClient,
                                                                tmp_path: Path) -> None:
    old = tmp_path / "recommender.npz"
    np.savez_compressed(old, __header__=np.array(json.dumps({"format": 1, "class": "Hybrid"})))
    assert not is_current(old)
    assert ensure_model(old, shop_db, kg) == old and is_current(old)
    stamp = old.stat().st_mtime_ns
    assert ensure_model(old, shop_db, kg).stat().st_mtime_ns == stamp  # a current model is reused
    assert load_model(old).is_fitted


def test_the_fallback_search_can_be_the_shops_facet_index(model_path: Path, kg: OxigraphStoreClient,
                                                          shop_db: ShopDB, engine: ShopRecommender) -> None:
    from knowledge.shop import Shop

    shop = Shop(kg, vocabulary_max_age=3600)
    shop._build_facets()
    asked: list[object] = []
    indexed = ShopRecommender.load(model_path, kg, shop_db, search=lambda facets: asked.append(facets) or shop.search(facets))
    for request in (Request(category="Jackets", color="olive", n=10), Request(max_price=D("30"), n=12),
                    Request(category="Running Shoes", max_price=D("90"), exclude=("P0001",), n=8)):
        picks = indexed.recommend(request, customer_id="C0001")
        assert [s.product.id for s in picks] == [s.product.id for s in engine.recommend(request, customer_id="C0001")]
        assert all(request.matches(s.product) for s in picks)
    assert asked, "the ranking never ran dry: the fallback was not exercised"

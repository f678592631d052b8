"""End to end on a catalog that is not the demo store's (tests/unit/fixtures/tea_shop.ttl, in a real Oxigraph
server): `shopbot segments build` reads the categories from the live graph, `shopbot nightly` trains the
recommender with the segments, and a light customer gets their segment's picks, named in the reason."""

from __future__ import annotations

import argparse
import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from bot.cli_recommend import register as register_recommend
from bot.cli_segments import register as register_segments
from bot.services import free_port, oxigraph_service
from knowledge.loading import load_graph, read_turtle
from knowledge.products import all_product_ids, get_products
from knowledge.recommend.request import Request
from knowledge.recommend.shop import ShopRecommender, shopper_label
from knowledge.segments import customer_segments, segment_of
from knowledge.segments.naming import PERSONAS
from knowledge.shopdb import connect
from knowledge.shopdb.models import Customer, Interaction, Order, OrderLine
from knowledge.sparql import HttpSparqlClient

FIXTURE = Path(__file__).parent / "fixtures" / "tea_shop.ttl"
TASTES = {"green-tea": ["P2001", "P2002", "P2003", "P2004"], "teapots": ["P2005", "P2006", "P2007", "P2008"],
          "cookbooks": ["P2009", "P2010", "P2011", "P2012"]}
LIGHT, NEW = "T0999", "T1000"


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpSparqlClient]:
    """A private Oxigraph server holding only the tea shop."""
    root = tmp_path_factory.mktemp("tea-graph")
    port = free_port()
    service = oxigraph_service(root / "data", port, root / "logs")
    service.start()
    try:
        service.wait_ready(30)
        client = HttpSparqlClient(f"http://127.0.0.1:{port}/query", f"http://127.0.0.1:{port}/update", timeout=30)
        load_graph(client, read_turtle(FIXTURE))
        yield client
    finally:
        service.stop()


def _order(session, number: int, customer: str, at: datetime, products: list[str], prices: dict) -> None:
    order_id = f"SB-{number:06d}"
    total = sum((prices[p] for p in products), Decimal("0"))
    session.add(Order(id=order_id, customer_id=customer, placed_at=at, status="delivered", shipping_address="1 Leaf Lane",
                      shipping_option="standard", total=total, currency="EUR"))
    for product in products:
        session.add(OrderLine(order_id=order_id, product_id=product, product_name=product, quantity=1,
                              unit_price=prices[product]))
        session.add(Interaction(customer_id=customer, product_id=product, kind="purchase", value=1.0, at=at))


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory: pytest.TempPathFactory, graph: HttpSparqlClient) -> str:
    """90 customers of three tastes with 2-5 orders each over half a year, a light customer and a new one."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tea-shop') / 'shop.db'}"
    prices = {p.id: p.price for p in get_products(graph, all_product_ids(graph))}
    rng = random.Random(5)
    start = datetime(2026, 5, 1)
    db = connect(url)
    number = 100000
    with db.session() as session:
        for n in range(90):
            taste = list(TASTES)[n % 3]
            customer = f"T{n:04d}"
            session.add(Customer(id=customer, name=f"Tea {n}", email=f"t{n}@example.com", created_at=start,
                                 address="1 Leaf Lane"))
            for _ in range(rng.randint(2, 5)):
                number += 1
                basket = rng.sample(TASTES[taste], 2) + ([rng.choice(sum(TASTES.values(), []))] if rng.random() < 0.2 else [])
                _order(session, number, customer, start + timedelta(days=rng.randint(0, 180)), basket, prices)
        for customer in (LIGHT, NEW):
            session.add(Customer(id=customer, name=customer, email=f"{customer.lower()}@example.com", created_at=start,
                                 address="1 Leaf Lane"))
        _order(session, 999999, LIGHT, start + timedelta(days=170), ["P2009"], prices)
        session.commit()
    db.dispose()
    return url


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="shopbot")
    commands = parser.add_subparsers(dest="command", required=True)
    register_segments(commands)
    register_recommend(commands)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def built(shop_url: str, graph: HttpSparqlClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`shopbot segments build` then `shopbot nightly`, against the tea shop's graph and database."""
    var = tmp_path_factory.mktemp("tea-var")
    patch = pytest.MonkeyPatch()
    patch.setenv("DATABASE_URL", shop_url)
    patch.setenv("SHOPBOT_VAR_DIR", str(var))
    patch.setenv("SPARQL_QUERY_URL", graph.query_url)
    patch.setenv("SPARQL_UPDATE_URL", graph.update_url)
    patch.setenv("SHOPBOT_CURRENCY", "EUR")
    try:
        assert run(["segments", "build"]) == 0
        assert run(["nightly", "--quiet"]) == 0
        yield var
    finally:
        patch.undo()


def test_segments_come_from_the_live_catalog(built: Path, shop_url: str) -> None:
    db = connect(shop_url)
    try:
        stored = customer_segments(db)
        names = set(stored.values())
    finally:
        db.dispose()
    assert len(stored) == 91  # every buyer, the light customer included; the new one has no purchase
    assert any(label in name for name in names for label in ("Green Tea", "Teapots", "Cookbooks"))
    assert not any(persona in name for name in names for persona in PERSONAS.values())  # nothing of the demo store
    for taste in TASTES:  # shoppers of one taste share a segment
        members = [stored[f"T{n:04d}"] for n in range(90) if list(TASTES)[n % 3] == taste]
        assert Counter(members).most_common(1)[0][1] >= 0.8 * len(members)


def test_nightly_trains_the_recommender_with_the_segments(built: Path, shop_url: str, graph: HttpSparqlClient) -> None:
    path = built / "models" / "recommender.npz"
    assert path.exists() and (built / "models" / "segments.npz").exists()
    db = connect(shop_url)
    try:
        engine = ShopRecommender.load(path, graph, db)
        segment = segment_of(db, LIGHT)
        assert segment is not None and segment.name in engine.model.segments
        picks = engine.recommend(Request(), customer_id=LIGHT)
        assert picks and all(s.reason == f"popular with {shopper_label(segment.name)} like you" for s in picks)
        assert "P2009" not in {s.product.id for s in picks}  # bought already
        cookbooks = [s for s in engine.recommend(Request(category="Cookbooks", max_price=Decimal("25")), customer_id=LIGHT)]
        assert cookbooks and all(s.product.category == "Cookbooks" and s.product.price <= 25 for s in cookbooks)
        placed = engine.recommend(Request(), customer_id=NEW, viewed=["P2005", "P2006", "P2007"])
        assert placed and all(s.reason.startswith("popular with ") for s in placed)
    finally:
        db.dispose()

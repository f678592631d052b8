"""A 20,000-product catalog: loaded with ``shopbot kg load`` into a private Oxigraph, then answered.

The synthetic catalog (``knowledge.synthetic``, fixed seed) is written once and cached under the project's
``var/cache``. The checks use the generated products as the oracle: names from the far end of the catalog
resolve to their products, faceted searches return exactly the products the catalog says, and the store
written by the bulk path opens again after a restart and still answers. Last, the whole assistant (``Stack``:
Oxigraph, action server, Rasa server, web server) is started on that same store, answers about a product at the
far end of the catalog over REST, is stopped and started again, and answers again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

import bot.stack
from bot.services import Service, free_port, oxigraph_service
from bot.stack import Stack
from knowledge.demo_store import Product
from knowledge.products import SearchFacets, count_products, get_product
from knowledge.formatting import money
from knowledge.settings import PROJECT_ROOT, Settings
from knowledge.shop import Shop
from knowledge.sparql import HttpSparqlClient
from tests.integration.rest import chat

pytestmark = pytest.mark.slow

SIZE = 20_000
CACHE = PROJECT_ROOT / "var" / "cache"


@pytest.fixture(scope="module")
def products() -> list[Product]:
    from knowledge.synthetic import generate_catalog

    return generate_catalog(SIZE)


@pytest.fixture(scope="module")
def catalog_file(products: list[Product]) -> Path:
    from knowledge.demo_store import SEED
    from knowledge.synthetic import write_ntriples

    path = CACHE / f"catalog-{SIZE}-{SEED}.nt"
    if not path.exists():
        partial = path.with_suffix(".part")
        write_ntriples(products, partial)
        partial.replace(path)
    return path


class Store:
    """A private Oxigraph server that can be stopped and started again on the same data."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        # where a Stack with these settings keeps its Oxigraph data: the stack test opens this very store
        self.settings = Settings(
            var_dir=root / "var", oxigraph_port=self.port, sparql_query_url=f"http://127.0.0.1:{self.port}/query",
            sparql_update_url=f"http://127.0.0.1:{self.port}/update", action_port=free_port(), rasa_port=free_port(),
            web_port=free_port(), catalog_cache_seconds=1.0,
        )
        self.service: Service = oxigraph_service(self.settings.oxigraph_dir, self.port, root / "logs")
        base = f"http://127.0.0.1:{self.port}"
        self.client = HttpSparqlClient(f"{base}/query", f"{base}/update", timeout=60)

    def start(self) -> float:
        self.service = oxigraph_service(self.settings.oxigraph_dir, self.port, self.root / "logs")
        self.service.start()
        return self.service.wait_ready(30, busy_grace=60)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, catalog_file: Path) -> Iterator[Store]:
    store = Store(tmp_path_factory.mktemp("oxigraph-20k"))
    store.start()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SPARQL_", "SHOPBOT_VAR_DIR"))}
    env.update(OXIGRAPH_PORT=str(store.port), SHOPBOT_VAR_DIR=str(store.root / "var"), PYTHONPATH=str(PROJECT_ROOT))
    try:
        done = subprocess.run([sys.executable, "-m", "bot.cli", "kg", "load", str(catalog_file), "--quiet",
                               "--no-text-index"], capture_output=True, text=True, env=env, timeout=900, check=False)
        store.load_output = done.stdout + done.stderr
        assert done.returncode == 0, store.load_output
        yield store
    finally:
        store.service.stop()


@pytest.fixture(scope="module")
def shop(store: Store) -> Shop:
    shop = Shop(store.client, vocabulary_max_age=3600)
    shop._build_facets()
    return shop


def test_the_load_command_loads_every_product(store: Store) -> None:
    assert f"({SIZE:,} products)" in store.load_output
    assert "conforms to the shapes" in store.load_output
    assert count_products(store.client) == SIZE


def test_names_from_the_far_end_resolve(shop: Shop, products: list[Product]) -> None:
    for product in products[-25:]:
        best = shop.resolve(product.name).best
        assert best is not None and best.product_id == product.id, product.name
        found = shop.resolve_in_text(f"how much is the {product.name.lower()} today?").best
        assert found is not None and found.product_id == product.id
    typo = products[-3].name[:3] + products[-3].name[4:]  # among many near names: offered first, to choose from
    assert shop.resolve(typo).matches[0].product_id == products[-3].id


@pytest.mark.parametrize("pick", [0, 7, 13])
def test_faceted_search_returns_the_right_products(shop: Shop, products: list[Product], pick: int) -> None:
    far = products[-1 - pick * 101]
    color, ceiling = far.colors[0], far.price + Decimal("10")
    expected = sorted((p for p in products if p.category.label == far.category.label and color in p.colors
                       and p.price <= ceiling), key=lambda p: (p.price, p.name))
    facets = SearchFacets(category=far.category.label.lower(), color=color.upper(), max_price=ceiling,
                          sort="price_asc", limit=50)
    assert shop.facets.ready
    assert shop.search_ids(facets) == [p.id for p in expected[:50]]
    assert [p.id for p in shop.search(facets)] == [p.id for p in expected[:50]]


def test_the_store_opens_again_after_a_restart_and_answers(store: Store, products: list[Product]) -> None:
    store.service.stop()
    store.start()
    far = products[-2]
    product = get_product(store.client, far.id)
    assert product is not None and product.name == far.name and product.price == far.price


def far_price_is_answered(stack: Stack, product: Product) -> None:
    """Ask the running assistant over REST for the price of a product from the far end of the catalog."""
    answer = chat(stack, f"far-{product.id}").say(f"how much is the {product.name}?")
    text = "\n".join(m.get("text", "") for m in answer)
    cards = [m["custom"]["card"] for m in answer if m.get("custom", {}).get("type") == "product_card"]
    assert money(product.price, "USD") in text, text
    assert cards and cards[0]["id"] == product.id


@pytest.mark.stack
@pytest.mark.timeout(1200)
def test_the_whole_stack_restarts_on_the_large_store_and_answers(store: Store, products: list[Product],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # the stack opens the loaded store itself (its Oxigraph on the same directory and port); product texts are
    # not encoded before the start, as for any catalog above TEXT_INDEX_AT_START, but in the background
    monkeypatch.setattr(bot.stack, "TEXT_INDEX_AT_START", SIZE - 1)
    store.service.stop()
    stack = Stack(store.settings)
    try:
        stack.start()
        assert {s.name for s in stack.services} == {"oxigraph", "action server", "rasa server", "web server"}
        assert count_products(store.client) == SIZE  # the stack opened the loaded store, not a demo store
        job = stack.text_job  # above the threshold the product texts are encoded beside the stack, niced
        assert job is not None and job.poll() is None and os.getpriority(os.PRIO_PROCESS, job.pid) == 19
        far_price_is_answered(stack, products[-7])
        stack.stop()
        assert job.poll() is not None and stack.text_job is None
        stack.start()
        far_price_is_answered(stack, products[-11])
        stocked = next(p for p in reversed(products[:-13]) if p.stock >= 5)
        assert f"{stocked.name} is in stock ({stocked.stock} available)" in chat(stack, "far-stock").text(
            f"is the {stocked.name} in stock?")
        switch_to_the_demo_store(stack, products)
    finally:
        stack.stop()


def switch_to_the_demo_store(stack: Stack, products: list[Product]) -> None:
    """`shopbot kg load --new-store` of the demo catalog while the stack runs: readers see 20,000 products, then
    321 (or, while the server restarts, no answer), and the assistant follows the new catalog."""
    from knowledge.sparql import KnowledgeGraphUnavailable

    settings = stack.settings
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SPARQL_", "SHOPBOT_VAR_DIR"))}
    env.update(OXIGRAPH_PORT=str(settings.oxigraph_port), SHOPBOT_VAR_DIR=str(settings.var_dir),
               PYTHONPATH=str(PROJECT_ROOT))
    reader = HttpSparqlClient(settings.sparql_query_url, timeout=10)
    seen: set[object] = set()
    load = subprocess.Popen([sys.executable, "-m", "bot.cli", "kg", "load", str(settings.catalog_file),
                             "--new-store", "--no-text-index"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    switched = False
    while load.poll() is None:
        switched = stack.follow() or switched
        try:
            seen.add(count_products(reader))
        except KnowledgeGraphUnavailable:
            seen.add("no answer")
    output = load.stdout.read() if load.stdout else ""
    assert load.returncode == 0, output
    assert switched and "answers from the new store" in output and "conforms to the shapes" in output, output
    assert seen <= {SIZE, 321, "no answer"} and SIZE in seen, seen
    assert count_products(reader) == 321 and not stack.follow()
    assert money(Decimal("129.00"), "USD") in chat(stack, "demo-again").text("how much is the trailblazer 2?")
    far = products[-7]  # no longer in the graph: no price, whatever the names still say
    assert money(far.price, "USD") not in chat(stack, "far-gone").text(f"how much is the {far.name}?")

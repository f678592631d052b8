"""``shopbot kg load --atomic``: while a catalog replaces the demo store, readers see the old one or the new one.

A reader thread counts the products over and over while a generated catalog (the demo's 321 products and 1,679
more) is loaded into the real SPARQL server, through the Graph Store endpoint (Oxigraph's bulk loader) and as
SPARQL updates. Every count it saw must be 321 or 2,000: never an empty or half-loaded catalog.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import pytest

from knowledge.bulk_loading import STAGING, load_file_atomically
from knowledge.catalog_state import change_marker, read_state
from knowledge.products import count_products, get_product
from knowledge.sparql import HttpSparqlClient
from tests.conftest import SparqlServer

pytestmark = pytest.mark.slow

SIZE = 2_000


@pytest.fixture(scope="module")
def large_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from knowledge.synthetic import generate_catalog, write_ntriples

    path = tmp_path_factory.mktemp("catalog") / f"catalog-{SIZE}.nt"
    write_ntriples(generate_catalog(SIZE), path)
    return path


def store_url(server: SparqlServer) -> str:
    """The local Oxigraph server's Graph Store endpoint ('' for a server given by TEST_SPARQL_QUERY_URL)."""
    return "" if os.environ.get("TEST_SPARQL_QUERY_URL") else server.query_url.rsplit("/", 1)[0] + "/store"


def counts_while(kg: HttpSparqlClient, load: Callable[[], None]) -> list[int]:
    """The product counts a reader saw, one query after another, while ``load`` ran (and once after)."""
    reader = HttpSparqlClient(kg.query_url, kg.update_url, timeout=60, auth=kg.auth)
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(count_products(reader))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        load()
    finally:
        done.set()
        thread.join()
    seen.append(count_products(reader))
    return seen


@pytest.mark.parametrize("bulk", [True, False], ids=["graph-store", "sparql-updates"])
def test_readers_never_see_a_half_loaded_catalog(fresh_kg: HttpSparqlClient, sparql_server: SparqlServer,
                                                 large_catalog: Path, bulk: bool) -> None:
    fresh_kg.update(change_marker(42))
    before = read_state(fresh_kg)
    seen = counts_while(fresh_kg, lambda: load_file_atomically(fresh_kg, large_catalog,
                                                               store_url(sparql_server) if bulk else ""))
    assert len(seen) >= 3, "the reader did not read during the load"
    assert set(seen) <= {321, SIZE}, sorted(set(seen))
    assert seen[-1] == SIZE
    after = read_state(fresh_kg)
    assert after.last_change == 42 and after.load_id not in (None, before.load_id)
    # nothing left staged (a SELECT: Virtuoso 7.2 answers this ASK true for an empty graph)
    assert not fresh_kg.select(f"SELECT ?s WHERE {{ GRAPH <{STAGING}> {{ ?s ?p ?o }} }} LIMIT 1")
    assert get_product(fresh_kg, f"P{SIZE:04d}") is not None and get_product(fresh_kg, "P0001") is not None


def test_loading_again_replaces_rather_than_adds(fresh_kg: HttpSparqlClient, sparql_server: SparqlServer,
                                                 large_catalog: Path) -> None:
    load_file_atomically(fresh_kg, large_catalog, store_url(sparql_server))
    load_file_atomically(fresh_kg, large_catalog, store_url(sparql_server))
    assert count_products(fresh_kg) == SIZE
    single = get_product(fresh_kg, "P0007")
    assert single is not None and len(single.colors) == len(set(single.colors))


"""Shared fixtures: the demo catalog, an in-process graph and a real Oxigraph server."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from knowledge.loading import load_graph, read_turtle
from knowledge.settings import PROJECT_ROOT
from knowledge.sparql import HttpSparqlClient, OxigraphStoreClient

CATALOG = PROJECT_ROOT / "data" / "store" / "catalog.ttl"

pytest_plugins = ["tests.actions"]  # the actions' tracker fixtures: action_context, trained_context, domain, shop_db


@pytest.fixture(scope="session")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store's Turtle catalog (generated into a temp folder if the checkout lacks it)."""
    if CATALOG.exists():
        return CATALOG
    from knowledge.demo_store import write_store

    path, _ = write_store(tmp_path_factory.mktemp("store"))
    return path


@pytest.fixture(scope="session")
def catalog_graph(catalog_file: Path):  # noqa: ANN201 - rdflib.Graph
    """The demo catalog parsed by rdflib (do not modify)."""
    return read_turtle(catalog_file)


@pytest.fixture
def memory_kg(catalog_file: Path) -> OxigraphStoreClient:
    """A fresh in-process pyoxigraph store holding the demo catalog."""
    client = OxigraphStoreClient()
    client.load_turtle(str(catalog_file))
    return client


@dataclass
class SparqlServer:
    """A running SPARQL 1.1 server the tests talk to over HTTP."""

    query_url: str
    update_url: str
    client: HttpSparqlClient


@pytest.fixture(scope="session")
def sparql_server(tmp_path_factory: pytest.TempPathFactory, catalog_graph) -> Iterator[SparqlServer]:
    """A real SPARQL server: TEST_SPARQL_QUERY_URL/TEST_SPARQL_UPDATE_URL if set, else a fresh local Oxigraph."""
    query_url = os.environ.get("TEST_SPARQL_QUERY_URL")
    if query_url:
        update_url = os.environ.get("TEST_SPARQL_UPDATE_URL", query_url)
        user, password = os.environ.get("TEST_SPARQL_USER"), os.environ.get("TEST_SPARQL_PASSWORD", "")
        client = HttpSparqlClient(query_url, update_url, timeout=30, auth=(user, password) if user else None)
        load_graph(client, catalog_graph)
        yield SparqlServer(query_url, update_url, client)
        return
    from bot.services import free_port, oxigraph_service

    root = tmp_path_factory.mktemp("oxigraph")
    port = free_port()
    service = oxigraph_service(root / "data", port, root / "logs")
    service.start()
    try:
        service.wait_ready(30)
        base = f"http://127.0.0.1:{port}"
        client = HttpSparqlClient(f"{base}/query", f"{base}/update", timeout=30)
        load_graph(client, catalog_graph)
        yield SparqlServer(f"{base}/query", f"{base}/update", client)
    finally:
        service.stop()


@pytest.fixture
def kg(sparql_server: SparqlServer) -> HttpSparqlClient:
    """The real SPARQL server holding the demo catalog, for tests that only read."""
    return sparql_server.client


@pytest.fixture
def fresh_kg(sparql_server: SparqlServer, catalog_graph) -> Iterator[HttpSparqlClient]:
    """The real SPARQL server, for tests that write: the demo catalog is restored afterwards."""
    yield sparql_server.client
    load_graph(sparql_server.client, catalog_graph)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201 - a hook wrapper
    """In CI (``CI=true``) a skip that tests/allowed_skips.yml does not list is a failure."""
    from tests.skips import fail_unexpected_skip

    outcome = yield
    fail_unexpected_skip(item, outcome.get_result())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server the tests may fill and empty: TEST_DATABASE_URL if set, else a private one (tests/postgres.py)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        yield url
        return
    from bot.cluster_services import postgres_binaries
    from bot.services import free_port
    from tests.postgres import PrivatePostgres

    if postgres_binaries() is None:
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql package)")
    server = PrivatePostgres(free_port())
    server.start()
    try:
        yield server.url()
    finally:
        server.stop()

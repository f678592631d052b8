"""One cluster for the tests of this folder: PostgreSQL, Redis, two Rasa replicas, an action server, the web app
and nginx, on free loopback ports with a fresh graph (``bot/cluster.py``); stopped when the folder is done."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from bot.cluster import Cluster
from bot.cluster_services import NGINX, REDIS_SERVER, postgres_binaries
from bot.services import free_port
from knowledge.settings import Settings
from tests.integration.conftest import browser  # noqa: F401 - the Playwright chromium fixture

LISTED = re.compile(r"^\d+\. (.+?) – ", re.M)  # "1. Trailblazer 3 Lite Running Shoe – $150.95"


@pytest.fixture(scope="package")
def cluster() -> Iterator[Cluster]:
    """The running cluster; its processes are killed only by the tests that say so (they run last)."""
    missing = [name for name, found in (("postgresql", postgres_binaries()), ("redis-server", Path(REDIS_SERVER).exists()),
                                        ("nginx", Path(NGINX).exists())) if not found]
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)}; `make cluster-packages` installs Debian's packages")
    oxigraph_port = free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="shopbot-cluster-"))
    var_dir.chmod(0o755)  # PostgreSQL runs as the postgres user when the tests run as root: it must reach its folder
    settings = Settings(
        var_dir=var_dir,
        oxigraph_port=oxigraph_port,
        sparql_query_url=f"http://127.0.0.1:{oxigraph_port}/query",
        sparql_update_url=f"http://127.0.0.1:{oxigraph_port}/update",
        catalog_cache_seconds=1.0,
    )
    running = Cluster(settings, replicas=2, action_servers=1, public_port=free_port())
    try:
        running.start()
        yield running
    finally:
        running.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


def new_conversation(url: str) -> str:
    """A conversation id issued by the Rasa server at ``url`` (any replica: they share the secret)."""
    started = requests.post(f"{url}/webhooks/rest/conversation", timeout=30)
    assert started.status_code == 200, started.text
    return started.json()["sender"]


def say(url: str, sender: str, text: str) -> str:
    """Send one message over REST to the Rasa server at ``url``; everything the bot wrote, as one string."""
    answer = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)
    assert answer.status_code == 200, answer.text
    return "\n".join(message.get("text", "") for message in answer.json())


def listed_names(text: str) -> list[str]:
    """The product names of a numbered list in an answer."""
    return LISTED.findall(text)


def tracker_events(cluster: Cluster, sender: str) -> list[dict[str, Any]]:
    """A conversation's events as the tracker store (PostgreSQL) holds them, in order."""
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.settings.tracker_store_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT data FROM events WHERE sender_id = :sender ORDER BY id"),
                                      {"sender": sender}).fetchall()
    finally:
        engine.dispose()
    return [json.loads(row[0]) for row in rows]

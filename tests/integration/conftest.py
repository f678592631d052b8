"""The running assistant, shared by the end-to-end tests: started once per session on free ports."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from bot.stack import Stack
from bot.services import free_port
from knowledge.settings import Settings
from knowledge.shop import Shop


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Oxigraph, the action server, the Rasa server and the web server on free ports, with a fresh graph."""
    oxigraph_port = free_port()
    settings = Settings(
        var_dir=tmp_path_factory.mktemp("var"),
        oxigraph_port=oxigraph_port,
        sparql_query_url=f"http://127.0.0.1:{oxigraph_port}/query",
        sparql_update_url=f"http://127.0.0.1:{oxigraph_port}/update",
        action_port=free_port(),
        rasa_port=free_port(),
        web_port=free_port(),
        catalog_cache_seconds=1.0,
    )
    running = Stack(settings)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def shop(stack: Stack) -> Shop:
    """The stack's graph, read directly to check the bot's answers."""
    return Shop.from_settings(stack.settings)


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless chromium from Debian (installed by `make test` with apt-get), driven by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: run `make browser` (apt-get install chromium) or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()

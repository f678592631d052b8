"""The assistant as ``shopbot run`` starts it with its default settings, attacked from outside.

The stack here is the defaults on purpose: whatever these tests show is what a shop gets without configuring
anything. Variants (the Rasa API turned on, a web app behind a proxy) are started beside it where a test
needs them, on the same graph and database.
"""

from __future__ import annotations

import secrets
from typing import Iterator

import pytest

from bot.stack import Stack
from bot.services import Service, free_port, rasa_service, web_service
from bot.training import model_path
from knowledge.settings import Settings
from knowledge.shop import Shop
from knowledge.shopdb import connect
from knowledge.shopdb.engine import ShopDB
from tests.security.remote import RemoteHost


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Oxigraph, the action server, the Rasa server and the web app with default settings, on free ports."""
    settings = Settings(
        var_dir=tmp_path_factory.mktemp("secure-var"), oxigraph_port=free_port(), action_port=free_port(),
        rasa_port=free_port(), web_port=free_port(), catalog_cache_seconds=1.0, staff_sparql_seconds=5.0,
        staff_sparql_memory_mb=768,
    )
    assert not settings.rasa_api_token and settings.rasa_host == "127.0.0.1" and settings.action_host == "127.0.0.1"
    running = Stack(settings)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def shop(stack: Stack) -> Shop:
    """The stack's graph, read directly."""
    return Shop.from_settings(stack.settings)


@pytest.fixture(scope="session")
def db(stack: Stack) -> Iterator[ShopDB]:
    """The stack's shop database, read directly."""
    database = connect(stack.settings.database_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def remote() -> Iterator[RemoteHost]:
    """Another host: requests from a network namespace (or a second address of this machine)."""
    host = RemoteHost()
    try:
        host.start()
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield host
    finally:
        host.stop()


def extra_service(service: Service, timeout: float) -> Service:
    """Start a service beside the stack and wait until it answers."""
    service.start()
    try:
        service.wait_ready(timeout)
    except Exception:
        service.stop()
        raise
    return service


@pytest.fixture(scope="module")
def api_rasa(stack: Stack) -> Iterator[tuple[Service, str]]:
    """A second Rasa server of the same assistant with the HTTP API on (RASA_API_TOKEN), listening on 0.0.0.0."""
    settings, token = stack.settings, secrets.token_urlsafe(24)
    env = {**settings.service_env(), **settings.secret_env("shopper-token", "action-server"),
           "RASA_API_TOKEN": token, "RASA_HOST": "0.0.0.0"}
    port = free_port()
    service = rasa_service(model_path(), port, settings.var_dir / "logs-api", settings.action_endpoint_url, env)
    extra_service(service, 300)
    try:
        yield service, token
    finally:
        service.stop()


@pytest.fixture(scope="module")
def proxied_web(stack: Stack) -> Iterator[Service]:
    """A second web app behind a TLS-terminating proxy on this machine: it trusts X-Forwarded-For from 127.0.0.1 only,
    its public URL is https, and it listens on every interface (so other hosts can try to spoof the header)."""
    settings = stack.settings
    env = {**settings.service_env(), **settings.secret_env("shopper-token"), "WEB_HOST": "0.0.0.0",
           "SHOPBOT_TRUSTED_PROXIES": "127.0.0.1, ::1", "SHOPBOT_PUBLIC_URL": "https://shop.example"}
    service = web_service(free_port(), settings.var_dir / "logs-proxied", env)
    extra_service(service, 60)
    try:
        yield service
    finally:
        service.stop()

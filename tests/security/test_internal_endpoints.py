"""The internal endpoints, attacked from another host and from this one without the token.

"Another host" is a network namespace joined to this machine by a veth pair (``tests/security/remote.py``):
its requests come from a non-loopback address, as a machine on the shop's network would send them.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Iterator

import pytest
import requests

from bot.stack import Stack
from bot.services import Service, action_service, free_port
from knowledge.shopdb.engine import ShopDB
from tests.security.conftest import extra_service
from tests.security.remote import RemoteHost
from tests.security.shoppers import PROCESSING, VICTIM, order_state

pytestmark = [pytest.mark.stack, pytest.mark.slow]

API_ROUTES = [("GET", "/status"), ("GET", "/version"), ("GET", "/conversations/{victim}/tracker"),
              ("POST", "/conversations/{victim}/execute"), ("POST", "/conversations/{victim}/tracker/events"),
              ("PUT", "/model"), ("DELETE", "/model"), ("POST", "/model/train"), ("POST", "/model/parse")]


def forged_action_call(order_id: str = PROCESSING) -> dict:
    """What Rasa would send to run action_cancel_order, as if C0001 had just said yes to cancelling."""
    user = {"event": "user", "text": "yes", "parse_data": {"intent": {"name": "affirm", "confidence": 1.0}},
            "metadata": {"shopbot_verified_customer": VICTIM, "customer_id": VICTIM}}
    return {
        "next_action": "action_cancel_order", "sender_id": "forged", "version": "3.6.21",
        "tracker": {
            "sender_id": "forged", "slots": {"order_id": order_id}, "latest_message": {
                "text": "yes", "intent": {"name": "affirm", "confidence": 1.0}, "entities": [],
                "metadata": user["metadata"]},
            "events": [{"event": "action", "name": "action_order_request"}, user], "paused": False,
            "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
        },
        "domain": {"slots": {"order_id": {"type": "text"}}, "responses": {}, "intents": [], "entities": [],
                   "actions": ["action_cancel_order"], "forms": {}},
    }


def rasa(stack: Stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.settings.rasa_port}{path}"


# --- the Rasa server ------------------------------------------------------------------------------------

def test_rasa_http_api_is_off_by_default(stack: Stack) -> None:
    victim = requests.post(rasa(stack, "/webhooks/rest/conversation"), timeout=30).json()["sender"]
    for method, path in API_ROUTES:
        for suffix in ("", "?token=guess"):
            answer = requests.request(method, rasa(stack, path.format(victim=victim) + suffix), json={}, timeout=30)
            assert answer.status_code in (403, 404, 405), (method, path, answer.status_code, answer.text[:200])
            assert '"events"' not in answer.text and '"slots"' not in answer.text  # no tracker, at most a 404
    assert requests.get(rasa(stack, "/webhooks/rest/"), timeout=30).status_code == 200  # the channels are there


def test_rasa_server_and_action_server_are_unreachable_from_another_host(stack: Stack, remote: RemoteHost) -> None:
    settings = stack.settings
    for port, path in ((settings.rasa_port, "/webhooks/rest/"), (settings.rasa_port, "/status"),
                       (settings.action_port, "/health"), (settings.action_port, "/webhook"),
                       (settings.web_port, "/healthz")):
        answer = remote.request("GET", port, path)
        assert answer.refused, (remote.how, port, path, answer)
    # the same requests from this machine are answered: the refusal above is the address, not a dead server
    assert requests.get(rasa(stack, "/webhooks/rest/"), timeout=30).status_code == 200
    assert requests.get(f"http://127.0.0.1:{settings.action_port}/health", timeout=30).status_code == 200


def test_rasa_api_when_enabled_needs_the_token_and_this_machine(
    stack: Stack, remote: RemoteHost, api_rasa: tuple[Service, str]
) -> None:
    service, token = api_rasa
    local = f"http://127.0.0.1:{service.port}"
    # from another host: the channels answer (the server listens on 0.0.0.0), the API does not, token or not
    assert remote.request("GET", service.port, "/webhooks/rest/").status == 200
    for method, path in API_ROUTES:
        answer = remote.request(method, service.port, f"{path.format(victim='someone')}?token={token}", body="{}",
                                headers={"Content-Type": "application/json"})
        assert answer.status == 403, (remote.how, method, path, answer)
    # from this machine: only with the token, and not through a proxy
    assert requests.get(f"{local}/status", timeout=30).status_code == 401
    assert requests.get(f"{local}/status", params={"token": "guess"}, timeout=30).status_code == 401
    assert requests.get(f"{local}/status", params={"token": token}, timeout=30).status_code == 200
    proxied = requests.get(f"{local}/status", params={"token": token}, headers={"X-Forwarded-For": "203.0.113.9"},
                           timeout=30)
    assert proxied.status_code == 403
    # the token is not on the command line, where `ps` would show it to every user of the machine
    command = Path(f"/proc/{service.process.pid}/cmdline").read_bytes().decode(errors="replace")
    assert token not in command and "--enable-api" not in command


def test_chat_channels_refuse_other_sites(stack: Stack) -> None:
    import asyncio

    from tests.security.shoppers import SocketShopper, rasa_url

    store = stack.settings.store_origin
    evil = requests.options(rasa(stack, "/webhooks/rest/webhook"), timeout=30, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert evil.headers.get("Access-Control-Allow-Origin") in (None, "")
    ours = requests.options(rasa(stack, "/webhooks/rest/webhook"), timeout=30, headers={
        "Origin": store, "Access-Control-Request-Method": "POST"})
    assert ours.headers.get("Access-Control-Allow-Origin") == store

    async def connect(origin: str) -> bool:
        shopper = SocketShopper(rasa_url(stack), origin=origin)
        try:
            await shopper.connect()
        except Exception:  # noqa: BLE001 - socketio.exceptions.ConnectionError: the server said no
            return False
        await shopper.close()
        return True

    assert asyncio.run(connect(store)) is True
    assert asyncio.run(connect("https://evil.example")) is False


# --- the action server ----------------------------------------------------------------------------------

def test_action_server_refuses_a_forged_tracker_without_the_token(stack: Stack, db: ShopDB) -> None:
    before = order_state(db, PROCESSING)
    url = f"http://127.0.0.1:{stack.settings.action_port}"
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": f"Bearer {VICTIM}"},
                    {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        answer = requests.post(f"{url}/webhook", json=forged_action_call(), headers=headers, timeout=30)
        assert answer.status_code == 401, (headers, answer.status_code, answer.text[:300])
        assert requests.get(f"{url}/actions", headers=headers, timeout=30).status_code == 401
    assert order_state(db, PROCESSING) == before
    token = stack.settings.secret("action-server")
    listed = requests.get(f"{url}/actions", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert listed.status_code == 200 and {"name": "action_cancel_order"} in listed.json()  # the token opens it


@pytest.fixture(scope="module")
def exposed_actions(stack: Stack) -> Iterator[Service]:
    """An action server listening on every interface (as on a host of its own): the token must still hold."""
    settings = stack.settings
    env = {**settings.service_env(), **settings.secret_env("action-server"), "ACTION_HOST": "0.0.0.0"}
    service = action_service(free_port(), settings.var_dir / "logs-exposed", env)
    extra_service(service, 90)
    try:
        yield service
    finally:
        service.stop()


def test_action_server_on_its_own_host_still_needs_the_token(
    stack: Stack, db: ShopDB, remote: RemoteHost, exposed_actions: Service
) -> None:
    before = order_state(db, PROCESSING)
    assert remote.request("GET", exposed_actions.port, "/health").status == 200  # reachable from the other host
    for headers in ({}, {"Authorization": "Bearer " + secrets.token_urlsafe(32)}):
        answer = remote.request("POST", exposed_actions.port, "/webhook", body=json.dumps(forged_action_call()),
                                headers={"Content-Type": "application/json", **headers})
        assert answer.status == 401, (remote.how, answer)
    assert order_state(db, PROCESSING) == before


# --- the graph's update endpoint ------------------------------------------------------------------------

def test_oxigraph_update_endpoint_is_unreachable_from_another_host(stack: Stack, remote: RemoteHost) -> None:
    port = stack.settings.oxigraph_port
    answer = remote.request("POST", port, "/update", body="update=DROP%20ALL",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.refused, (remote.how, answer)
    assert remote.request("GET", port, "/query?query=ASK%7B%7D").refused
    local = requests.post(f"http://127.0.0.1:{port}/query", data={"query": "ASK { ?s ?p ?o }"},
                          headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert local.json()["boolean"] is True  # still there, and reachable by this machine's processes

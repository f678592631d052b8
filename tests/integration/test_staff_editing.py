"""Staff edit the knowledge graph through the CLI, the REST API and the admin page; the chat follows."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from decimal import Decimal
from typing import Callable, Iterator

import pytest
import requests

from bot.stack import Stack
from bot.services import child_env
from knowledge.editing import document
from knowledge.products import get_product
from knowledge.settings import PROJECT_ROOT
from knowledge.shop import Shop
from knowledge.shopdb import connect
from knowledge.shopdb.staff import add_staff, issue_token
from tests.integration.rest import chat
from tests.invariants import Snapshot

pytestmark = [pytest.mark.stack, pytest.mark.slow]

# Seconds an edit may take to reach the bot's answers: a generous bound (the stack caches the catalog for 1 s and
# an edit is live in 1-3 s here), so a slow machine does not fail a correct test; bench/edit_latency.py measures it.
LIVE_WITHIN = 30.0
PASSWORD = "correct horse battery staple"
ROLES = {"ada": "admin", "eddie": "editor", "vic": "viewer"}
# Signing in and out and the read-only SPARQL endpoint accept POST but change no data.
NOT_WRITES = {("POST", "/admin/login"), ("POST", "/admin/logout"), ("POST", "/api/kg/tokens"), ("POST", "/api/kg/sparql"),
              ("POST", "/account/signin"), ("POST", "/account/signout")}  # the last two: the shopper's demo sign-in


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> dict[str, str]:
    """An admin, an editor and a viewer, each with an API token."""
    db = connect(stack.settings.database_url)
    try:
        for name, role in ROLES.items():
            add_staff(db, name, PASSWORD, role)
        return {name: issue_token(db, name) for name in ROLES}
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def content(stack: Stack, shop: Shop) -> Iterator[Callable[[], Snapshot]]:
    """Take a snapshot of every triple of the stack's graph and every row of its shop database."""
    db = connect(stack.settings.database_url)
    try:
        yield lambda: Snapshot.take(shop.kg, db.engine)
    finally:
        db.dispose()


def api(stack: Stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.settings.web_port}/api/kg{path}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def shopbot(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    """Run the shopbot CLI against the stack's graph and database."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=str(PROJECT_ROOT), env=child_env(stack.settings.service_env()))


def until(condition: Callable[[], bool], timeout: float = LIVE_WITHIN) -> float:
    """Seconds until ``condition()`` holds (polled); fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - started


def price_said(stack: Stack, product_name: str, name: str) -> str:
    return chat(stack, f"{name}-{time.monotonic_ns()}").text(f"how much is the {product_name}?")


def test_cli_price_change_is_live_in_the_chat_and_revert_restores_it(stack: Stack, shop: Shop, tokens) -> None:
    product = get_product(shop.kg, "P0003")
    before = document(shop.kg, "P0003")
    changed = shopbot(stack, "kg", "set", "P0003", "schema:price", "77.70", "--user", "eddie")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    change_id = re.search(r"change (\d+) by eddie", changed.stdout).group(1)
    until(lambda: "$77.70" in price_said(stack, product.name, "cli-set"))

    reverted = shopbot(stack, "kg", "revert", change_id, "--user", "eddie")
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    until(lambda: f"${product.price:,.2f}" in price_said(stack, product.name, "cli-revert"))
    assert document(shop.kg, "P0003").triples == before.triples  # exactly as before

    history = shopbot(stack, "kg", "history", "--subject", "P0003")
    assert f"revert change {change_id}" in history.stdout


def test_cli_refuses_a_viewer_and_invalid_values(stack: Stack, shop: Shop, tokens, content) -> None:
    before = content()
    viewer = shopbot(stack, "kg", "set", "P0004", "schema:price", "10", "--user", "vic")
    assert viewer.returncode != 0 and "viewer" in viewer.stdout + viewer.stderr
    cheap = shopbot(stack, "kg", "set", "P0004", "schema:price", '"cheap"', "--user", "eddie")
    assert cheap.returncode != 0 and "nothing was written" in cheap.stdout + cheap.stderr
    before.assert_unchanged(content(), "refused CLI edits")


def write_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the web app that changes something, with sample path parameters."""
    from bot.web.app import create_app

    app = create_app(name=f"routes_{time.monotonic_ns()}")
    routes = set()
    for route in app.router.routes:
        path = "/" + route.path.replace("<product_id:str>", "P0005").replace("<change_id:int>", "1")
        for method in route.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            if (method, path) not in NOT_WRITES:
                routes.add((method, path))
    return sorted(routes)


def test_every_write_endpoint_refuses_anonymous_and_wrong_role_requests(
    stack: Stack, shop: Shop, tokens, content
) -> None:
    routes = write_routes()
    assert len(routes) >= 13 and ("PATCH", "/api/kg/products/P0005") in routes
    base = f"http://127.0.0.1:{stack.settings.web_port}"
    viewer = session_for(stack, "vic")  # signing in writes a session row: before the snapshot
    before = content()
    for method, path in routes:
        body = {"set": {"price": "1.00"}, "add": [["P0005", "schema:color", '"pink"']], "fields": {"id": "P0999"}}
        anonymous = requests.request(method, base + path, json=body, timeout=30, allow_redirects=False)
        assert anonymous.status_code == 401, (method, path, anonymous.status_code)
        if path.startswith("/api/"):
            wrong = requests.request(method, base + path, json=body, headers=auth(tokens["vic"]), timeout=30)
            expected = 403
        else:
            wrong = viewer.request(method, base + path, data={"csrf_token": viewer.csrf, "price": "1"}, timeout=30,
                                   allow_redirects=False)
            expected = 403
        assert wrong.status_code == expected, (method, path, wrong.status_code)
        if path.startswith("/api/kg/staff"):
            editor = requests.request(method, base + path, json={}, headers=auth(tokens["eddie"]), timeout=30)
            assert editor.status_code == 403, (method, path)
    before.assert_unchanged(content(), "refused writes")
    assert requests.get(api(stack, "/products/P0005"), timeout=30).status_code == 401
    assert requests.get(api(stack, "/history"), headers=auth("not-a-token"), timeout=30).status_code == 401


class Browserless(requests.Session):
    """A signed-in admin page session (cookie) and its CSRF token."""

    csrf = ""


def session_for(stack: Stack, username: str) -> Browserless:
    """Sign in on the admin page like a browser does; keep the cookie and the page's CSRF token."""
    base = f"http://127.0.0.1:{stack.settings.web_port}"
    session = Browserless()
    form = session.get(base + "/admin/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    signed = session.post(base + "/admin/login", data={"username": username, "password": PASSWORD,
                                                        "csrf_token": token, "next": "/admin/"}, timeout=30)
    assert signed.status_code == 200 and f"{username} (" in signed.text
    session.csrf = re.search(r'name="csrf_token" value="([^"]+)"', signed.text).group(1)
    return session


def test_api_refuses_invalid_values_and_writes_nothing(stack: Stack, shop: Shop, tokens, content) -> None:
    editor = auth(tokens["eddie"])
    before = content()
    cheap = requests.patch(api(stack, "/products/P0006"), json={"set": {"price": "cheap"}}, headers=editor, timeout=30)
    assert cheap.status_code in (400, 422), cheap.text
    negative = requests.patch(api(stack, "/products/P0006"), json={"set": {"stock": "-3"}}, headers=editor, timeout=30)
    assert negative.status_code == 422 and any("stockLevel" in p for p in negative.json()["problems"])
    nameless = requests.post(api(stack, "/products"), headers=editor, timeout=30, json={"fields": {
        "id": "P0990", "brand": "stridewell", "category": "running-shoes", "price": "10", "stock": "1"}})
    assert nameless.status_code == 422 and any("name" in p for p in nameless.json()["problems"])
    bad_json = requests.post(api(stack, "/triples"), data=b"\xff\xfe{", headers=editor, timeout=30)
    assert bad_json.status_code == 400
    before.assert_unchanged(content(), "refused API edits")


def test_two_editors_on_one_product_the_second_gets_a_conflict_and_loses_nothing(
    stack: Stack, shop: Shop, tokens, content
) -> None:
    seen = requests.get(api(stack, "/products/P0007"), headers=auth(tokens["eddie"]), timeout=30).json()
    first = requests.patch(api(stack, "/products/P0007"), headers=auth(tokens["eddie"]), timeout=30,
                           json={"version": seen["version"], "set": {"stock": "11"}})
    assert first.status_code == 200, first.text
    after_first = content()
    second = requests.patch(api(stack, "/products/P0007"), headers=auth(tokens["ada"]), timeout=30,
                            json={"version": seen["version"], "set": {"stock": "12"}})
    assert second.status_code == 409
    rejected = second.json()["change"]
    assert any("12" in line for line in rejected["lines"])  # the second editor's change comes back
    assert get_product(shop.kg, "P0007").stock == 11
    after_first.assert_unchanged(content(), "the refused second edit")  # no triple, no audit row


def test_new_colour_and_new_product_are_live_in_the_chat(stack: Stack, shop: Shop, tokens) -> None:
    editor = auth(tokens["eddie"])
    product = get_product(shop.kg, "P0008")
    added = requests.post(api(stack, "/triples"), headers=editor, timeout=30,
                          json={"add": [["prod:P0008", "schema:color", '"navy"']]})
    assert added.status_code == 200, added.text
    until(lambda: "navy" in chat(stack, f"colour-{time.monotonic_ns()}").text(
        f"what colours does the {product.name} come in?"))

    created = requests.post(api(stack, "/products"), headers=editor, timeout=30, json={"fields": {
        "id": "P0991", "name": "Zephyr Glide Trail Shoe", "brand": "stridewell", "category": "running-shoes",
        "price": "111.50", "stock": "9", "color": ["teal"], "alternate_name": ["cloudhopper"]}})
    assert created.status_code == 201, created.text
    until(lambda: "$111.50" in price_said(stack, "Zephyr Glide Trail Shoe", "new"))
    until(lambda: "$111.50" in price_said(stack, "cloudhopper", "alias"))


def test_revert_through_the_api_restores_the_triples_exactly(stack: Stack, shop: Shop, tokens) -> None:
    before = document(shop.kg, "P0009").triples
    changed = requests.post(api(stack, "/triples"), headers=auth(tokens["eddie"]), timeout=30, json={
        "set": [["P0009", "schema:price", "55.55"]], "add": [["P0009", "schema:material", '"hemp"']]})
    assert changed.status_code == 200, changed.text
    assert document(shop.kg, "P0009").triples != before
    reverted = requests.post(api(stack, f"/changes/{changed.json()['id']}/revert"), headers=auth(tokens["eddie"]),
                             timeout=30)
    assert reverted.status_code == 200, reverted.text
    assert document(shop.kg, "P0009").triples == before
    again = requests.post(api(stack, f"/changes/{changed.json()['id']}/revert"), headers=auth(tokens["eddie"]),
                          timeout=30)
    assert again.status_code == 409


def test_staff_sparql_endpoint_is_read_only(stack: Stack, shop: Shop, tokens, content) -> None:
    viewer = auth(tokens["vic"])
    query = 'PREFIX schema: <https://schema.org/> SELECT ?name WHERE { ?p schema:productID "P0001" ; schema:name ?name }'
    rows = requests.get(api(stack, "/sparql"), params={"query": query}, headers=viewer, timeout=30).json()["rows"]
    assert rows == [{"name": '"Trailblazer 2 GTX Running Shoe"'}]
    before = content()
    for update in ("DROP ALL", "DELETE WHERE { ?s ?p ?o }", "CLEAR DEFAULT"):
        refused = requests.post(api(stack, "/sparql"), data={"query": update}, headers=viewer, timeout=30)
        assert refused.status_code == 400
    before.assert_unchanged(content(), "SPARQL updates")


@pytest.mark.browser
def test_staff_changes_a_price_in_the_admin_page_and_the_store_chat_states_it(stack: Stack, shop: Shop, tokens, browser) -> None:
    base = f"http://127.0.0.1:{stack.settings.web_port}"
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(base + "/admin/products/P0010")
    page.fill('input[name="username"]', "eddie")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Sign in")')
    page.wait_for_url("**/admin/products/P0010")
    page.fill('form[aria-label="Facts"] input[name="price"]', "64.25")
    page.click('button:has-text("Save facts")')
    assert "Saved as change" in page.locator(".ok").inner_text()
    assert get_product(shop.kg, "P0010").price == Decimal("64.25")

    page.goto(base + "/")
    page.click(".sb-launcher")
    name = get_product(shop.kg, "P0010").name
    page.fill("#sb-input", f"how much is the {name}?")
    page.press("#sb-input", "Enter")
    page.wait_for_selector('.sb-card[data-product-id="P0010"]')
    assert page.locator('.sb-card[data-product-id="P0010"] .sb-card-price').last.inner_text() == "$64.25"
    context.close()


# Last in this module: it locks sign-ins from 127.0.0.1 for a few minutes.
def test_sign_in_is_rate_limited(stack: Stack, tokens) -> None:
    statuses = [requests.post(api(stack, "/tokens"), json={"username": "ada", "password": f"guess {n}"}, timeout=30)
                .status_code for n in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429
    staff = requests.get(api(stack, "/staff"), headers=auth(tokens["ada"]), timeout=30)
    assert staff.status_code == 200 and {s["username"] for s in staff.json()} >= set(ROLES)
    assert all("password" not in str(s).lower() for s in staff.json())

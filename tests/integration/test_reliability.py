"""Reliability: the assistant when parts of it fail, when shoppers send garbage, when staff edit at once.

Run alone with ``pytest -m reliability``. What is covered elsewhere is not repeated here:

* the graph server down during a chat (apology, then recovery): ``test_stack.py::test_graph_down_gets_an_apology_then_recovers``;
* the Rasa server restarted mid-conversation (the form goes on from the SQL tracker store):
  ``test_stack.py::test_cancellation_is_written_and_the_conversation_survives_a_rasa_restart``.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from decimal import Decimal
from typing import Any, Iterator

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rdflib import Literal
from sqlalchemy import func, select

from bot.stack import Stack
from bot.services import Service
from knowledge.namespaces import PRODUCT, SHOP
from knowledge.products import get_product
from knowledge.shop import Shop
from knowledge.shopdb import connect
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.staff import KgChange, add_staff, get_staff, issue_token
from tests.integration.rest import chat
from tests.invariants import Snapshot

pytestmark = [pytest.mark.reliability, pytest.mark.stack, pytest.mark.slow]

APOLOGY = "Sorry, I can't look that up right now"  # bot/domain/products.yml: utter_kg_unavailable
ANSWER_WITHIN = 30.0  # seconds; Rasa's own action timeout is 300 s, a dead action server must not come near it
STAFF = "rhea"
PASSWORD = "correct horse battery staple"
CONTENDED = "P0077"  # a product no other test edits


def money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def service(stack: Stack, name: str) -> Service:
    return next(s for s in stack.services if s.name == name)


def webhook(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.rasa_port}/webhooks/rest/webhook"


def web(stack: Stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.settings.web_port}{path}"


@pytest.fixture(scope="module")
def db(stack: Stack) -> Iterator[ShopDB]:
    shop_db = connect(stack.settings.database_url)
    try:
        yield shop_db
    finally:
        shop_db.dispose()


@pytest.fixture(scope="module")
def staff_auth(db: ShopDB) -> dict[str, str]:
    """An editor's API token, as an Authorization header."""
    if get_staff(db, STAFF) is None:
        add_staff(db, STAFF, PASSWORD, "editor")
    return {"Authorization": f"Bearer {issue_token(db, STAFF)}"}


def audit_count(db: ShopDB) -> int:
    """How many changes the audit log holds."""
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(KgChange.__table__)).scalar_one())


# --- a part of the assistant goes away -------------------------------------------------------------

def test_action_server_down_gets_an_apology_then_the_same_conversation_goes_on(stack: Stack, shop: Shop) -> None:
    product = get_product(shop.kg, "P0001")
    actions = service(stack, "action server")
    bot = chat(stack, f"actions-down-{time.monotonic_ns()}")
    assert money(product.price) in bot.text(f"how much is the {product.name}?")
    actions.stop()
    try:
        for question in ("how much is it?", "is it in stock?", "where is my order SB-100002"):
            started = time.monotonic()
            answer = bot.say(question)  # fails unless 200
            seconds = time.monotonic() - started
            texts = [m.get("text", "") for m in answer]
            assert seconds < ANSWER_WITHIN, (question, seconds)
            assert sum(APOLOGY in t for t in texts) == 1, (question, answer)  # one apology, not silence
    finally:
        actions.start()
        actions.wait_ready(90)
    # the product in focus was kept: the conversation goes on where it was
    assert money(product.price) in bot.text("how much is it?")
    assert f"{product.stock} available" in bot.text("is it in stock?")


def test_graph_down_staff_api_answers_503_and_the_store_page_says_so(
    stack: Stack, shop: Shop, db: ShopDB, staff_auth: dict[str, str]
) -> None:
    oxigraph = service(stack, "oxigraph")
    version = requests.get(web(stack, f"/api/kg/products/{CONTENDED}"), headers=staff_auth, timeout=30).json()["version"]
    before = Snapshot.take(shop.kg, db.engine)
    requests_while_down = [
        ("GET", "/api/kg/products", None),
        ("GET", f"/api/kg/products/{CONTENDED}", None),
        ("PATCH", f"/api/kg/products/{CONTENDED}", {"version": version, "set": {"stock": "5"}}),
        ("POST", "/api/kg/triples", {"add": [[CONTENDED, "schema:color", '"pink"']]}),
        ("POST", "/api/kg/products", {"fields": {"id": "P0987", "name": "Downtime Runner", "brand": "stridewell",
                                                 "category": "running-shoes", "price": "10", "stock": "1"}}),
        ("DELETE", f"/api/kg/products/{CONTENDED}", {"version": version}),
        ("GET", "/api/kg/export", None),
        ("GET", "/api/kg/sparql?query=ASK%20%7B%7D", None),
    ]
    oxigraph.stop()
    try:
        store = requests.get(web(stack, "/"), timeout=30)
        assert store.status_code == 503
        assert "The catalog is unavailable right now" in store.text  # a page with a notice, not a server error
        for method, path, body in requests_while_down:
            answer = requests.request(method, web(stack, path), json=body, headers=staff_auth, timeout=30)
            assert answer.status_code == 503, (method, path, answer.status_code, answer.text[:300])
            assert "knowledge graph is unavailable" in answer.json()["error"], (method, path)
        history = requests.get(web(stack, "/api/kg/history"), headers=staff_auth, timeout=30)
        assert history.status_code == 200  # the audit log lives in the database, which is still there
        assert requests.get(web(stack, "/healthz"), timeout=30).status_code == 200
    finally:
        oxigraph.start()
        oxigraph.wait_ready(30)
    before.assert_unchanged(Snapshot.take(shop.kg, db.engine), "graph down")  # nothing half-written, triple for triple
    assert requests.get(web(stack, "/"), timeout=30).status_code == 200
    again = requests.get(web(stack, f"/api/kg/products/{CONTENDED}"), headers=staff_auth, timeout=30)
    assert again.status_code == 200 and again.json()["version"] == version


# --- hostile input through the REST channel --------------------------------------------------------

HOSTILE = [
    "", " ", "\n\t", "x" * 5000,
    "<script>alert(1)</script>", "how much is the <script>alert('x')</script>?", '<img src=x onerror="alert(1)">',
    "tell me about </textarea><svg/onload=alert(1)>", "javascript:alert(document.cookie)", "<!--", "&lt;script&gt;",
    'how much is the x" } ; DROP ALL ; #', 'trailblazer" . } INSERT DATA { <urn:a> <urn:b> <urn:c> } #',
    "DELETE WHERE { ?s ?p ?o }", "CLEAR DEFAULT", "SELECT * WHERE { ?s ?p ?o }",
    "'; DROP TABLE orders; --", "where is my order SB-100001' OR '1'='1", "1; UPDATE orders SET status='cancelled'",
    "SB-100001\"; DELETE FROM customers; --", "cancel order SB-100001 UNION SELECT * FROM staff_accounts",
    "\x00\x01\x02\x1b[31mred\x1b[0m\x7f", "\u0085\u009b\u008d", "🙂🔥👟 how much 🛒?", "👨‍👩‍👧‍👦" * 50,
    "مرحبا، كم سعر الحذاء؟", "שלום, כמה עולה הנעל?", "\u202etrailblazer\u202c", "\ufeff\u200b\u200dhi\u2028\u2029",
    "Z̸̡̢͇a̵l̶g̷o̶ how much", "%s%s%n{0}{{7*7}}${7*7}#{7*7}", "../../../../etc/passwd", "\\x00\\u0000",
    "/restart", '/ask_price{"product": "<script>alert(1)</script>"}', '/track_order{"order_id": "SB-100002"}',
]
FRAGMENTS = [h for h in HOSTILE if 0 < len(h) < 200] + ["how much is", "trailblazer 2", "red running shoes", "order"]
HTML = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
#: Logs a chat may append to (never change): the products shown and viewed, the Rasa tracker if it shares the database.
APPENDED = ("behaviour_events", "events")
#: The largest tables (130,000 rows together) are compared at the start and the end of each test rather than after
#: each of its ~400 inputs, which would add minutes; orders, customers and every other table are compared every time.
PER_TEST = ("interactions", "order_lines", "shipments")
RECORDED = {"complaints": re.compile(r"reference CP-[0-9A-F]+"), "handoff_requests": re.compile(r"request HO-[0-9A-F]+")}

texts = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Mn", "Me", "So", "Co"]), max_size=80),
    st.text(st.characters(min_codepoint=0x0590, max_codepoint=0x06FF), max_size=120),  # Hebrew and Arabic
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), min_size=1, max_size=5).map(" ".join),
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=30)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=8,
)


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


class Invariants:
    """What hostile input must never change: every triple of the graph and every row of the shop database."""

    def __init__(self, stack: Stack, shop: Shop, db: ShopDB) -> None:
        self.stack, self.shop, self.db = stack, shop, db
        self.snapshot = self.take()
        self.announced = {table: 0 for table in RECORDED}

    def take(self) -> Snapshot:
        """The graph and the shop tables but the largest (compared over the whole test by the fixture)."""
        return Snapshot.take(self.shop.kg, self.db.engine, skip=PER_TEST)

    def post(self, raw: bytes, content_type: str = "application/json") -> requests.Response:
        """Send a raw body; check the status, the answer's shape and that nothing changed."""
        answer = requests.post(webhook(self.stack), data=raw, headers={"Content-Type": content_type}, timeout=120)
        assert answer.status_code < 500, (raw[:200], answer.status_code, answer.text[:300])
        # 401/403: a broken shopper token, or a conversation id the server did not issue to this shopper
        assert answer.status_code in (200, 400, 401, 403, 413), (raw[:200], answer.status_code, answer.text[:300])
        payload = answer.json()
        if answer.status_code == 200:
            assert isinstance(payload, list) and all(isinstance(m, dict) for m in payload), payload
            # an answer is at least one message that says something: silence is not a safe answer
            assert any(m.get("text", "").strip() or m.get("image") or m.get("custom") for m in payload), (
                raw[:200], payload)
            said = list(strings(payload))
            assert not any(HTML.search(s) for s in said), (raw[:200], payload)
        else:
            assert isinstance(payload, dict) and payload.get("error"), payload
            said = []
        self.check_unchanged(" ".join(said), raw)
        return answer

    def check_unchanged(self, said: str, raw: bytes) -> None:
        """The graph and every table exactly as before, but for the records the bot announced and its view log."""
        later = self.take()
        # A message NLU takes for a complaint or a request for a person is recorded: only then, and as many
        # new rows as the bot announced with a reference number; no existing row changes.
        changes = self.snapshot.table_changes(later)
        for table, pattern in RECORDED.items():
            announced = len(pattern.findall(said))
            change = changes.get(table)
            added = len(change.added) if change else 0
            assert added == announced, (table, raw[:200], said[:300])
            self.announced[table] += announced
        self.snapshot.assert_unchanged(later, raw[:200], appendable={*RECORDED, *APPENDED})
        self.snapshot = later


@pytest.fixture()
def invariants(stack: Stack, shop: Shop, db: ShopDB) -> Iterator[Invariants]:
    """Checks each input (the graph and the shop tables), and every table, the largest too, over the whole test."""
    first = Snapshot.take(shop.kg, db.engine)
    checker = Invariants(stack, shop, db)
    yield checker
    last = Snapshot.take(shop.kg, db.engine)
    first.assert_unchanged(last, "over the whole test", appendable={*RECORDED, *APPENDED})
    changes = first.table_changes(last)
    for table in RECORDED:
        added = len(changes[table].added) if table in changes else 0
        assert added == checker.announced[table], (table, added, checker.announced[table])


def conversation(stack: Stack) -> str:
    """A new guest conversation id, issued by the server."""
    return requests.post(webhook(stack).rsplit("/", 1)[0] + "/conversation", timeout=30).json()["sender"]


def message_body(sender: str, text: str, metadata: Any = None) -> bytes:
    body: dict[str, Any] = {"sender": sender, "message": text}
    if metadata is not None:
        body["metadata"] = metadata
    return json.dumps(body).encode()


def test_hostile_messages_get_a_safe_answer_and_change_nothing(invariants: Invariants) -> None:
    for text in HOSTILE:
        answer = invariants.post(message_body(conversation(invariants.stack), text))
        assert answer.status_code == 200, (text, answer.text[:300])
    too_long = invariants.post(message_body(conversation(invariants.stack), "x" * 100_000))  # 100 kB
    assert too_long.status_code == 413, too_long.text

    @settings(max_examples=120, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(text=texts, metadata=st.one_of(st.none(), st.just({"customer_id": "C0001"}),
                                          st.dictionaries(st.text(max_size=12), json_values, max_size=3)))
    def generated(text: str, metadata: Any) -> None:
        answer = invariants.post(message_body(conversation(invariants.stack), text, metadata))
        assert answer.status_code in (200, 413), answer.text[:300]  # a claimed customer_id changes nothing

    generated()


malformed = st.one_of(
    st.binary(max_size=2000),
    st.binary(min_size=1, max_size=200).map(lambda raw: b"\xff" + raw),  # never UTF-8
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),  # not JSON, mostly
    json_values.filter(lambda value: not isinstance(value, dict)).map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({}, optional={"sender": json_values, "message": json_values, "metadata": json_values,
                                        "input_channel": json_values}).map(lambda body: json.dumps(body).encode()),
    st.text(st.characters(max_codepoint=0x1F), max_size=40).map(  # control characters, escaped in JSON
        lambda text: json.dumps({"sender": "controls", "message": text}).encode()),
)


def test_malformed_bodies_get_a_clear_400_never_a_500(invariants: Invariants) -> None:
    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(raw=malformed, content_type=st.sampled_from(["application/json", "text/plain",
                                                        "application/x-www-form-urlencoded"]))
    @example(raw=b"", content_type="application/json")
    @example(raw=b"   ", content_type="application/json")
    @example(raw=b"\xff\xfe{\x00\x81", content_type="application/json")
    @example(raw=bytes(range(256)) * 400, content_type="application/octet-stream")  # 100 kB of binary
    @example(raw=b'{"sender": "s", "message": "' + b"\xc3\x28\xa0\xa1\xe2\x28\xa1" + b'"}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": "\\ud800 half an emoji"}', content_type="application/json")
    @example(raw=b"sender=me&message=hi", content_type="application/x-www-form-urlencoded")
    @example(raw=b"<html><script>alert(1)</script></html>", content_type="text/html")
    @example(raw=b"[" * 100_000, content_type="application/json")  # nesting deeper than the JSON parser goes
    @example(raw=b'{"sender": "s", "message": 1' + b"0" * 5000 + b"}", content_type="application/json")
    @example(raw=b"[]", content_type="application/json")
    @example(raw=b"null", content_type="application/json")
    @example(raw=b'"how much is the trailblazer 2?"', content_type="application/json")
    @example(raw=b'{"message": "hi"}', content_type="application/json")
    @example(raw=b'{"sender": "s"}', content_type="application/json")
    @example(raw=b'{"sender": 42, "message": "hi"}', content_type="application/json")
    @example(raw=b'{"sender": "", "message": "hi"}', content_type="application/json")
    @example(raw=json.dumps({"sender": "s" * 300, "message": "hi"}).encode(), content_type="application/json")
    @example(raw=b'{"sender": "s", "message": ["hi"]}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": {"text": "hi"}}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": null}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": "hi", "metadata": "C0001"}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": "hi", "metadata": [1, 2]}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": "hi", "input_channel": {"x": 1}}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": "hi", "token": "forged.jwt.token"}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": "hi", "token": ["x"]}', content_type="application/json")
    @example(raw=b'{"sender": "s", "message": "hi", "metadata": {"customer_id": "C0001"}}', content_type="application/json")
    def posted(raw: bytes, content_type: str) -> None:
        answer = invariants.post(raw, content_type)
        if answer.status_code != 200:
            return
        body = json.loads(raw)  # only a well-formed request may be answered
        assert isinstance(body, dict) and isinstance(body.get("sender"), str) and isinstance(body.get("message"), str)

    posted()


# --- staff editing one product at once -------------------------------------------------------------

def product_url(stack: Stack) -> str:
    return web(stack, f"/api/kg/products/{CONTENDED}")


def stock_of(stack: Stack, shop: Shop) -> int:
    return get_product(shop.kg, CONTENDED).stock


def test_twenty_editors_at_once_one_wins_the_rest_get_409_and_no_update_is_lost(
    stack: Stack, shop: Shop, db: ShopDB, staff_auth: dict[str, str]
) -> None:
    editors = 20
    seen = requests.get(product_url(stack), headers=staff_auth, timeout=30).json()
    start, changes = seen["facts"]["stock"], audit_count(db)
    assert start == stock_of(stack, shop)
    before = Snapshot.take(shop.kg)

    # Round 1: all from the same version, each setting its own stock: exactly one write gets through.
    barrier = threading.Barrier(editors)
    results: dict[int, requests.Response] = {}

    def edit_once(n: int) -> None:
        barrier.wait(30)
        results[n] = requests.patch(product_url(stack), headers=staff_auth, timeout=120,
                                    json={"version": seen["version"], "set": {"stock": str(start + 100 + n)}})

    threads = [threading.Thread(target=edit_once, args=(n,)) for n in range(editors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    statuses = sorted(r.status_code for r in results.values())
    assert len(results) == editors and statuses == [200] + [409] * (editors - 1), statuses
    winner = next(n for n, r in results.items() if r.status_code == 200)
    assert stock_of(stack, shop) == start + 100 + winner
    added, removed = before.graph_changes(Snapshot.take(shop.kg))  # the 19 refused edits wrote nothing at all
    stock = (PRODUCT[CONTENDED], SHOP.stockLevel)
    assert added == {f"{stock[0].n3()} {stock[1].n3()} {Literal(start + 100 + winner).n3()} ."}, added
    assert removed == {f"{stock[0].n3()} {stock[1].n3()} {Literal(start).n3()} ."}, removed
    assert audit_count(db) == changes + 1
    assert all("change" in r.json() for r in results.values() if r.status_code == 409)  # the rejected edit comes back

    # Round 2: each editor re-reads and retries until its +1 gets through: 20 increments, none lost.
    base, changes = stock_of(stack, shop), audit_count(db)
    barrier = threading.Barrier(editors)
    attempts: dict[int, int] = {}
    failures: list[str] = []

    def increment(n: int) -> None:
        rng = random.Random(n)
        barrier.wait(30)
        deadline = time.monotonic() + 240
        tries = 0
        while time.monotonic() < deadline:
            tries += 1
            current = requests.get(product_url(stack), headers=staff_auth, timeout=60).json()
            answer = requests.patch(product_url(stack), headers=staff_auth, timeout=120, json={
                "version": current["version"], "set": {"stock": str(current["facts"]["stock"] + 1)}})
            if answer.status_code == 200:
                attempts[n] = tries
                return
            if answer.status_code != 409:
                failures.append(f"{n}: {answer.status_code} {answer.text[:200]}")
                return
            time.sleep(rng.uniform(0, 0.05 * min(tries, 10)))
        failures.append(f"{n}: no success within the deadline after {tries} tries")

    threads = [threading.Thread(target=increment, args=(n,)) for n in range(editors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not failures, failures
    assert len(attempts) == editors
    assert stock_of(stack, shop) == base + editors  # no lost update
    assert audit_count(db) == changes + editors

    # Leave the product as it was for whoever comes next.
    current = requests.get(product_url(stack), headers=staff_auth, timeout=30).json()
    restored = requests.patch(product_url(stack), headers=staff_auth, timeout=60,
                              json={"version": current["version"], "set": {"stock": str(start)}})
    assert restored.status_code == 200, restored.text

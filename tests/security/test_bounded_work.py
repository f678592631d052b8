"""Work per request is bounded: long messages on every channel, the staff SPARQL console, request bodies.

Figures are measured in ``bench/``; the time limits here are generous bounds that only an unbounded amount of
work (a quadratic regex over 100 kB, a query that never ends) would pass.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from typing import Iterator

import pytest
import requests

from bot.stack import Stack
from knowledge.products import count_triples
from knowledge.shop import Shop
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.staff import add_staff, get_staff, issue_token
from tests.security.shoppers import RestShopper, SocketShopper, rasa_url, texts

pytestmark = [pytest.mark.stack, pytest.mark.slow]

PASSWORD = "correct horse battery staple"
# Price-like text at the message cap: what made the price-range regex quadratic (0.33 s at 4,000 characters).
PRICE_LIKE = ["1" * 4_990, "under " + "9" * 4_990, "$1 " * 1_660, "between 1 and " + "1-" * 2_490, "1,000" * 998]


def web(stack: Stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.settings.web_port}{path}"


@pytest.fixture(scope="module")
def staff(stack: Stack, db: ShopDB) -> dict[str, str]:
    """A viewer's and an editor's API token."""
    tokens = {}
    for name, role in (("vera", "viewer"), ("ed", "editor")):
        if get_staff(db, name) is None:
            add_staff(db, name, PASSWORD, role)
        tokens[role] = {"Authorization": f"Bearer {issue_token(db, name)}"}
    return tokens


# --- messages -------------------------------------------------------------------------------------------

def test_a_100_kb_message_over_socketio_is_refused_at_once(stack: Stack) -> None:
    async def send() -> tuple[float, str, str]:
        shopper = SocketShopper(rasa_url(stack))
        await shopper.connect()
        try:
            await shopper.request_session()
            started = time.monotonic()
            events = await shopper.say("1" * 100_000, timeout=10, quiet=0.2)
            seconds = time.monotonic() - started
            after = texts(await shopper.say("how much is the trailblazer 2?"))  # the conversation goes on
            return seconds, texts(events), after
        finally:
            await shopper.close()

    seconds, answer, after = asyncio.run(send())
    assert "too long" in answer and "5,000 characters" in answer
    assert seconds < 3.0, f"a 100 kB message took {seconds:.2f} s to answer"  # refused unread: ~0.1 s here
    assert "$129.00" in after


def test_an_oversized_socketio_frame_closes_only_that_socket(stack: Stack) -> None:
    async def send() -> tuple[bool, str]:
        greedy, honest = SocketShopper(rasa_url(stack)), SocketShopper(rasa_url(stack))
        await greedy.connect()
        await honest.connect()
        try:
            await greedy.request_session()
            await honest.request_session()
            await greedy.client.emit("user_uttered", {"message": "x" * 400_000, "session_id": greedy.session_id})
            await asyncio.sleep(1.5)
            return greedy.client.connected, texts(await honest.say("how much is the trailblazer 2?"))
        finally:
            for shopper in (greedy, honest):
                if shopper.client.connected:
                    await shopper.close()

    greedy_still_connected, honest_answer = asyncio.run(send())
    assert not greedy_still_connected
    assert "$129.00" in honest_answer


@pytest.mark.parametrize("message", PRICE_LIKE, ids=["digits", "under", "dollars", "ranges", "thousands"])
def test_a_long_price_like_message_is_answered_promptly_on_both_channels(stack: Stack, message: str) -> None:
    assert len(message) <= stack.settings.max_message_chars
    rest = RestShopper(rasa_url(stack))
    rest.start()
    started = time.monotonic()
    answer = rest.post(message)
    rest_seconds = time.monotonic() - started
    assert answer.status_code == 200, answer.text

    async def over_socket() -> float:
        shopper = SocketShopper(rasa_url(stack))
        await shopper.connect()
        try:
            await shopper.request_session()
            begun = time.monotonic()
            await shopper.say(message, timeout=30, quiet=0.1)
            return time.monotonic() - begun
        finally:
            await shopper.close()

    socket_seconds = asyncio.run(over_socket())
    assert rest_seconds < 10 and socket_seconds < 10, (rest_seconds, socket_seconds)


# --- the staff SPARQL console ---------------------------------------------------------------------------

class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # http.server's name
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET  # noqa: N815 - the name http.server dispatches POST requests to

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[str]:
    """A local HTTP server that records every request: a SERVICE target that must never be called."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    finally:
        server.shutdown()


def sparql(stack: Stack, headers: dict[str, str], query: str) -> requests.Response:
    return requests.post(web(stack, "/api/kg/sparql"), data={"query": query}, headers=headers, timeout=120)


def test_staff_sparql_refuses_service(stack: Stack, staff: dict, listener: str) -> None:
    for query in (f"SELECT * WHERE {{ SERVICE <{listener}> {{ ?s ?p ?o }} }}",
                  f"SELECT * WHERE {{ ?s ?p ?o OPTIONAL {{ SERVICE SILENT <{listener}> {{ ?s ?q ?r }} }} }} LIMIT 5",
                  f"ASK {{ {{ SELECT ?s WHERE {{ SERVICE <{listener}> {{ ?s ?p ?o }} }} }} }}"):
        refused = sparql(stack, staff["viewer"], query)
        assert refused.status_code == 400 and "SERVICE" in refused.json()["error"], refused.text
    time.sleep(0.5)
    assert _Recorder.hits == []  # the server was never asked to fetch anything


def test_staff_sparql_cuts_off_cross_products_and_runaway_queries(stack: Stack, shop: Shop, staff: dict) -> None:
    limits = stack.settings
    cross = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    started = time.monotonic()
    cut = sparql(stack, staff["viewer"], cross)
    assert cut.status_code == 200, cut.text
    assert cut.json()["truncated"] is True and len(cut.json()["rows"]) == limits.staff_sparql_rows
    assert time.monotonic() - started < limits.staff_sparql_seconds + 5

    assert sparql(stack, staff["viewer"], cross + " LIMIT 1000000").status_code == 400  # LIMIT is capped
    for runaway in (cross + " ORDER BY ?c ?f ?i",  # must hold every row to sort them: memory
                    "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",  # 5e11 rows: time
                    "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i FILTER(STR(?c) = CONCAT(STR(?f), STR(?i), '!')) }"):
        started = time.monotonic()
        stopped = sparql(stack, staff["viewer"], runaway)
        seconds = time.monotonic() - started
        assert stopped.status_code in (413, 504), (runaway, stopped.status_code, stopped.text[:300])
        assert seconds < limits.staff_sparql_seconds + 5, (runaway, seconds)
    # the shop's own SPARQL server was never busy with any of it: it answers at once
    started = time.monotonic()
    assert count_triples(shop.kg) > 0 and time.monotonic() - started < 2.0
    answer = RestShopper(rasa_url(stack))
    answer.start()
    assert "$129.00" in answer.say("how much is the trailblazer 2?")


# --- request bodies -------------------------------------------------------------------------------------

def streamed(total: int, counter: list[int], chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes in chunks, counting how many the server let us send."""
    block = b"x" * chunk
    for _ in range(total // chunk):
        counter[0] += chunk
        yield block


def test_request_bodies_are_limited_per_route_while_they_are_read(stack: Stack, shop: Shop, staff: dict) -> None:
    triples = count_triples(shop.kg)
    for url, headers, cap in ((web(stack, "/api/kg/import"), {**staff["editor"], "Content-Type": "text/turtle"}, 5_000_000),
                              (rasa_url(stack) + "/webhooks/rest/webhook", {"Content-Type": "application/json"}, 64_000)):
        sent = [0]
        try:
            answer = requests.post(url, data=streamed(60_000_000, sent), headers=headers, timeout=60)
            assert answer.status_code == 413, (url, answer.status_code, answer.text[:200])
        except requests.ConnectionError:
            pass  # the server stopped reading and closed the connection: what we want
        assert sent[0] < cap + 16_000_000, (url, sent[0])  # read up to the cap (plus socket buffers), never 60 MB
    small_routes = [("POST", web(stack, "/admin/login")), ("POST", web(stack, "/account/signin")),
                    ("POST", web(stack, "/api/kg/tokens")), ("POST", web(stack, "/api/kg/sparql")),
                    ("POST", rasa_url(stack) + "/webhooks/rest/conversation")]
    for method, url in small_routes:
        answer = requests.request(method, url, data=b"{" + b" " * 300_000 + b"}", timeout=60,
                                  headers={"Content-Type": "application/json", **staff["editor"]})
        assert answer.status_code == 413, (url, answer.status_code)
    big_edit = {"add": [["P0001", "schema:description", '"' + "y" * 1_100_000 + '"']]}
    answer = requests.post(web(stack, "/api/kg/triples"), json=big_edit, headers=staff["editor"], timeout=60)
    assert answer.status_code == 413
    assert count_triples(shop.kg) == triples

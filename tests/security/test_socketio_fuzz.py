"""Hypothesis-generated hostile events on the socket.io channel: no crash, nothing written, no one else's data.

Like the REST channel's fuzz test (``tests/integration/test_reliability.py``): each example opens a socket, maybe
asks for a session with generated data, sends generated events (``user_uttered`` with any kind of message,
session id, token and metadata, or events the server does not know), then checks that

* the server still answers on that socket and on a fresh one, and its log holds no traceback (nothing crashed);
* the graph and the shop database are unchanged, except for the complaints and hand-over requests the bot
  announced with a reference number (a message NLU takes for a complaint is recorded, as it should be);
* no answer holds markup, or anything of the victim's orders (the tracking number of SB-100002).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.stack import Stack
from knowledge.products import count_triples
from knowledge.shop import Shop
from knowledge.shopdb.engine import ShopDB, row_counts
from tests.security.shoppers import (CLAIMS, FORGED, REJECTED, SHIPPED, TRACKING, VICTIM, SocketShopper,
                                     forged_tokens, rasa_url, texts, token_for)

pytestmark = [pytest.mark.stack, pytest.mark.slow]

HTML = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
RECORDED = {"complaints": re.compile(r"reference CP-[0-9A-F]+"), "handoff_requests": re.compile(r"request HO-[0-9A-F]+")}
PING = "/bot_challenge"  # an intent payload: a fixed, quick answer that ends the example's exchange
CURRENT, VICTIMS, VALID, OTHER = "<current session>", "<victim's session>", "<valid token>", "<another customer>"
FRAGMENTS = [f"where is my order {SHIPPED}", "cancel order SB-100001", "yes", "under 1" + "0" * 40, "<script>",
             '/track_order{"order_id": "SB-100002"}', "alex@example.com", "I want to complain", "talk to a human"]

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=30)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=8,
)
messages = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Mn", "So", "Cs"]), max_size=60),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3).map(" ".join),
    st.integers(min_value=4_990, max_value=12_000).map(lambda n: "1" * n),  # at and over the length cap
    json_values,
)
session_ids = st.one_of(st.none(), st.just(CURRENT), st.just(VICTIMS), st.text(max_size=60), json_values)
tokens = st.one_of(st.none(), st.just(VALID), st.just(OTHER), st.sampled_from(FORGED), st.text(max_size=40),
                   json_values)
metadata = st.one_of(st.none(), st.just(CLAIMS), st.text(max_size=40).map(lambda t: '{"customer_id": "' + t + '"}'),
                     st.dictionaries(st.text(max_size=12), json_values, max_size=3))
user_events = st.fixed_dictionaries({}, optional={"message": messages, "session_id": session_ids, "token": tokens,
                                                  "metadata": metadata})
events = st.lists(st.one_of(
    st.tuples(st.just("user_uttered"), user_events),
    st.tuples(st.just("user_uttered"), json_values),
    st.tuples(st.sampled_from(["bot_uttered", "session_confirm", "message", "shopbot", "x" * 50]), json_values),
), min_size=1, max_size=4)
session_requests = st.one_of(st.none(), st.fixed_dictionaries({}, optional={"session_id": session_ids, "token": tokens}),
                             json_values)


class Fuzz:
    """The stack's state before the fuzzing, and what one example may change."""

    def __init__(self, stack: Stack, shop: Shop, db: ShopDB, victim_session: str) -> None:
        self.stack, self.shop, self.db, self.victim_session = stack, shop, db, victim_session
        self.forged = forged_tokens(stack)
        self.valid, self.other = token_for(stack, "C0003"), token_for(stack, "C0002")
        self.triples, self.rows = count_triples(shop.kg), row_counts(db.engine)

    def fill(self, value: Any, shopper: SocketShopper) -> Any:
        """Placeholders in a generated value replaced by this run's sessions and tokens."""
        if isinstance(value, dict):
            return {key: self.fill(item, shopper) for key, item in value.items()}
        named = {CURRENT: shopper.session_id, VICTIMS: self.victim_session, VALID: self.valid, OTHER: self.other}
        if isinstance(value, str) and value in named:
            return named[value]
        if isinstance(value, str) and value in self.forged and value in FORGED:
            return self.forged[value]
        return value

    async def run(self, request: Any, sent: list[tuple[str, Any]]) -> str:
        shopper = SocketShopper(rasa_url(self.stack), token=self.valid)
        await shopper.connect()
        try:
            if request is not None:
                await shopper.client.emit("session_request", self.fill(request, shopper))
            for name, data in sent:
                await shopper.client.emit(name, self.fill(data, shopper))
            said = await self.finish(shopper)
        finally:
            await shopper.close()
        return said

    async def finish(self, shopper: SocketShopper) -> str:
        """Everything the server said to this socket, ending with a ping in a session of its own."""
        heard: list[tuple[str, Any]] = []
        await asyncio.sleep(0.3)
        while not shopper.events.empty():
            heard.append(shopper.events.get_nowait())
        confirmed = [data for name, data in heard if name == "session_confirm"]
        session: Optional[str] = confirmed[-1] if confirmed else None
        if session is None:
            name, data = await shopper.request_session(token=None)
            assert name == "session_confirm", (name, data)
            session, token = data, None
        else:
            token = "mine"
            shopper.session_id = session
        answer = await shopper.say(PING, session_id=session, token=token, timeout=120, quiet=0.8)
        while answer and answer[0][0] == REJECTED:  # the session it asked for was another shopper's: be a guest
            await shopper.request_session(token=None)
            answer = await shopper.say(PING, token=None, timeout=120, quiet=0.8)
        heard += answer
        assert any(name == "bot_uttered" for name, _ in answer), answer
        return texts(heard)

    def check(self, said: str) -> None:
        assert not HTML.search(said), said[:500]
        assert TRACKING not in said and f"Order {SHIPPED} is" not in said, said[:500]
        assert count_triples(self.shop.kg) == self.triples
        rows = row_counts(self.db.engine)
        for table, count in rows.items():
            announced = len(RECORDED[table].findall(said)) if table in RECORDED else 0
            assert count == self.rows[table] + announced, (table, said[:500])
        self.rows = rows


@pytest.fixture(scope="module")
def fuzz(stack: Stack, shop: Shop, db: ShopDB) -> Fuzz:
    async def victim_session() -> str:
        victim = SocketShopper(rasa_url(stack), token_for(stack, VICTIM))
        await victim.connect()
        try:
            await victim.request_session()
            await victim.say("please cancel order SB-100001")  # the victim's conversation waits for a yes
            return victim.session_id
        finally:
            await victim.close()

    return Fuzz(stack, shop, db, asyncio.run(victim_session()))


def rasa_log(stack: Stack) -> Path:
    return next(s for s in stack.services if s.name == "rasa server").log_path


def test_hostile_socketio_events_crash_nothing_and_write_nothing(fuzz: Fuzz) -> None:
    log_start = rasa_log(fuzz.stack).stat().st_size
    @settings(max_examples=50, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(request=session_requests, sent=events)
    @example(request={"session_id": VICTIMS}, sent=[("user_uttered", {"message": "yes", "session_id": VICTIMS,
                                                                      "metadata": CLAIMS})])
    @example(request={"session_id": VICTIMS, "token": "expired"},
             sent=[("user_uttered", {"message": "yes", "session_id": CURRENT, "token": "expired"})])
    @example(request=None, sent=[("user_uttered", {"message": "1" * 100_000, "session_id": CURRENT})])
    @example(request={"token": OTHER}, sent=[("user_uttered", {"message": f"where is my order {SHIPPED}",
                                                               "session_id": CURRENT, "token": OTHER,
                                                               "metadata": '{"customer_id": "C0001"}'})])
    @example(request=[], sent=[("user_uttered", ["hi"]), ("user_uttered", {"message": {"text": "hi"}}),
                               ("user_uttered", "hi"), ("user_uttered", None)])
    @example(request={"session_id": 42, "token": ["x"]}, sent=[("session_confirm", "hijack"), ("bot_uttered", {})])
    def exchange(request: Any, sent: list[tuple[str, Any]]) -> None:
        fuzz.check(asyncio.run(fuzz.run(request, sent)))

    exchange()

    async def fresh() -> str:  # and the server still answers a newcomer
        shopper = SocketShopper(rasa_url(fuzz.stack))
        await shopper.connect()
        try:
            await shopper.request_session()
            return texts(await shopper.say("how much is the trailblazer 2?"))
        finally:
            await shopper.close()

    assert "$129.00" in asyncio.run(fresh())
    with rasa_log(fuzz.stack).open(errors="replace") as log:
        log.seek(log_start)
        written = log.read()
    assert "Traceback" not in written and "Task exception was never retrieved" not in written, written[-3000:]

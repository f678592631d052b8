"""Two Rasa replicas sharing one conversation store: REST turns sent to either replica, directly (no stickiness)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.cluster import Cluster, replica_threads
from knowledge.products import Product, all_product_ids, get_products
from knowledge.sparql import HttpSparqlClient
from tests.cluster.conftest import listed_names, new_conversation, say, tracker_events

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CONVERSATIONS, TURNS = 20, 10


@pytest.fixture(scope="module")
def products(cluster: Cluster) -> list[Product]:
    """Products of the cluster's graph, with their names and categories."""
    kg = HttpSparqlClient(cluster.settings.sparql_query_url, timeout=30)
    return [p for p in get_products(kg, all_product_ids(kg)) if p.name and p.category]


def converse(cluster: Cluster, product: Product) -> tuple[str, list[str], list[str]]:
    """Ten turns whose answers depend on what earlier turns (on the other replica) left in the slots.

    Turn ``i`` goes to replica ``i % 2``. Returns the conversation id, the messages sent and a list of failures.
    """
    sender = new_conversation(cluster.replica_url(0))
    failures: list[str] = []
    sent: list[str] = []

    def turn(text: str, *expected: str) -> str:
        replica = len(sent) % 2
        sent.append(text)
        answer = say(cluster.replica_url(replica), sender, text)
        missing = [needle for needle in expected if needle.lower() not in answer.lower()]
        if missing:
            failures.append(f"{sender} turn {len(sent)} on replica {replica + 1}: {text!r} -> {answer[:160]!r}, "
                            f"expected {missing}")
        return answer

    turn("hi")
    turn(f"how much is the {product.name}?", f"{product.price:,.2f}")
    turn("is it in stock?", product.name)  # product_id, set on the other replica
    turn("what colours does it come in?", product.name)
    shown = listed_names(turn(f"show me {product.category.lower()}"))
    if len(shown) < 2:
        failures.append(f"{sender}: no list for {product.category!r}")
        shown = ["(no list)", "(no list)"]
    turn("tell me more about the second one", shown[1])  # shown_products, set on the other replica
    turn("is it in stock?", shown[1])
    turn("tell me more about the first one", shown[0])
    turn("what colours does it come in?", shown[0])
    turn("thanks")
    return sender, sent, failures


def test_turns_sent_alternately_to_two_replicas_lose_no_event_and_keep_every_slot(
        cluster: Cluster, products: list[Product]) -> None:
    picks = [products[(index * 37) % len(products)] for index in range(CONVERSATIONS)]
    with ThreadPoolExecutor(CONVERSATIONS) as pool:
        done = list(pool.map(lambda product: converse(cluster, product), picks))
    failures = [failure for _, _, found in done for failure in found]
    assert not failures, "\n".join(failures[:10])
    for sender, sent, _ in done:
        events = tracker_events(cluster, sender)
        said = [event["text"] for event in events if event["event"] == "user"]
        assert said == sent, f"{sender}: the tracker store holds {said}"
        assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"
        answered = [index for index, event in enumerate(events) if event["event"] == "user"]
        for start, end in zip(answered, answered[1:] + [len(events)]):
            assert any(event["event"] == "bot" for event in events[start:end]), f"{sender}: a turn without answer"
    assert sum(len(sent) for _, sent, _ in done) == CONVERSATIONS * TURNS


def test_two_messages_of_one_conversation_at_the_same_moment_are_handled_one_after_the_other(
        cluster: Cluster) -> None:
    for attempt in range(5):
        sender = new_conversation(cluster.replica_url(0))
        say(cluster.replica_url(0), sender, "hi")
        before = len(tracker_events(cluster, sender))
        start = threading.Barrier(2)

        def send(replica: int, text: str, sender: str = sender, start: threading.Barrier = start) -> str:
            start.wait()
            return say(cluster.replica_url(replica), sender, text)

        texts = ["what do you sell?", "are you a bot?"]
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(send, [0, 1], texts))
        assert all(answer.strip() for answer in answers), answers
        events = tracker_events(cluster, sender)[before:]
        users = [index for index, event in enumerate(events) if event["event"] == "user"]
        assert sorted(events[index]["text"] for index in users) == sorted(texts), f"attempt {attempt}: an event was lost"
        first, second = users
        turn = events[first:second]
        # the second message was taken up only after the first turn had ended (its action_listen)
        assert turn[-1]["event"] == "action" and turn[-1]["name"] == "action_listen", turn
        assert any(event["event"] == "bot" for event in turn)
        assert events[second]["timestamp"] >= turn[-1]["timestamp"]
        assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"


def test_each_replica_runs_with_its_share_of_the_cores(cluster: Cluster) -> None:
    for replica in cluster.replicas:
        raw = Path(f"/proc/{replica.process.pid}/environ").read_bytes()
        environ = dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)
        for name, threads in replica_threads(len(cluster.replicas)).items():
            assert environ.get(name) == threads, f"{replica.name}: {name}={environ.get(name)}"

"""The support desk without Rasa: a person when the store is open and someone is on duty, an honest "away"
otherwise (a person stays reachable when the graph is not), messages and complaints on record."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.services import free_port
from knowledge.hours import opening_hours
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.handoff import agent_seen, get_handoff, left_messages
from knowledge.sparql import HttpSparqlClient, OxigraphStoreClient
from knowledge.usecases.support import SupportDesk

START = datetime(2026, 12, 7, tzinfo=timezone.utc)


def moment(kg: OxigraphStoreClient, open_: bool) -> datetime:
    """An hour in the week from START when the store is open (or closed), by its hours in the graph."""
    hours = opening_hours(kg)
    return next(START + timedelta(hours=h) for h in range(24 * 7) if hours.is_open(START + timedelta(hours=h)) == open_)


def desk(db: ShopDB, kg, at: datetime) -> SupportDesk:
    return SupportDesk(db, kg, presence_seconds=60, now=lambda: at)


def test_nobody_on_duty_means_away_with_the_address_on_record(shop_db: ShopDB, memory_kg: OxigraphStoreClient) -> None:
    answer = desk(shop_db, memory_kg, moment(memory_kg, open_=True)).ask_for_person("c1", "help", [], "C0001")
    assert (answer.state, answer.email, answer.request_id) == ("away", "alex@example.com", None)
    assert answer.hours is not None and answer.contact is not None


def test_an_agent_on_duty_in_opening_hours_gets_the_conversation_once(shop_db: ShopDB,
                                                                      memory_kg: OxigraphStoreClient) -> None:
    agent_seen(shop_db, "cara")
    support = desk(shop_db, memory_kg, moment(memory_kg, open_=True))
    answer = support.ask_for_person("c2", "my parcel is late", [{"from": "shopper", "text": "hi"}], "C0002",
                                    triggered_by="asked", previous_intent="track_order")
    assert answer.state == "waiting"
    handoff = get_handoff(shop_db, answer.request_id)
    assert (handoff.customer_id, handoff.reason, handoff.triggered_by) == ("C0002", "my parcel is late", "asked")
    assert support.ask_for_person("c2", "hello?", []) == type(answer)("already", answer.request_id)


def test_outside_opening_hours_nobody_is_called(shop_db: ShopDB, memory_kg: OxigraphStoreClient) -> None:
    agent_seen(shop_db, "cara")
    closed = moment(memory_kg, open_=False)
    answer = desk(shop_db, memory_kg, closed).ask_for_person("c3", "help", [])
    assert answer.state == "away" and not answer.hours.is_open(answer.at) and answer.at == closed


@pytest.mark.parametrize("on_duty", [True, False])
def test_without_the_graph_a_person_stays_reachable(shop_db: ShopDB, on_duty: bool) -> None:
    if on_duty:
        agent_seen(shop_db, "cara")
    unreachable = HttpSparqlClient(f"http://127.0.0.1:{free_port()}/query", timeout=2)
    answer = desk(shop_db, unreachable, START).ask_for_person("c4", "help", [])
    assert answer.state == ("waiting" if on_duty else "away") and answer.hours is None


def test_messages_and_complaints_are_kept_with_their_references(shop_db: ShopDB,
                                                                memory_kg: OxigraphStoreClient) -> None:
    support = desk(shop_db, memory_kg, START)
    reference = support.leave_message("c5", "bob@example.com", "Do you ship to Norway?")
    left, = left_messages(shop_db)
    assert (left.id, left.email, left.text) == (reference, "bob@example.com", "Do you ship to Norway?")
    assert support.complaint("c5", "rude courier", "C0001").startswith("CP-")

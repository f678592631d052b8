"""`action_fallback` asks which of two confusable intents is meant; complaints keep the shopper's own words."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import last_said
from actions.support import ActionFallback


def tracker(ranking: list[tuple[str, float]], entities: list[dict[str, Any]] = (), events: list = ()) -> Tracker:
    """A tracker whose latest message NLU ranked so (behind the fallback intent)."""
    intents = [{"name": "nlu_fallback", "confidence": 0.2}] + [{"name": n, "confidence": c} for n, c in ranking]
    return Tracker(
        sender_id="test", slots={}, paused=False, followup_action=None, active_loop={},
        latest_message={"text": "x", "intent": intents[0], "intent_ranking": intents, "entities": list(entities)},
        events=list(events), latest_action_name="action_listen",
    )


def said(track: Tracker) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionFallback().run(dispatcher, track, {}))
    message, = dispatcher.messages
    return message


@pytest.mark.parametrize("ranking, question, buttons", [
    ([("ask_return_policy", 0.5), ("request_refund", 0.45)], "Do you want to start a refund, or read our refund policy?",
     [("Start a refund", "/request_refund"), ("Refund policy", "/ask_return_policy")]),
    ([("human_handoff", 0.5), ("complaint", 0.4), ("greet", 0.1)], "Would you like to make a complaint, or talk to a person?",
     [("Make a complaint", "/complaint"), ("Talk to a person", "/human_handoff")]),
    ([("track_order", 0.48), ("ask_shipping", 0.47)], "Do you want to track an order, or see our delivery times and costs?",
     [("Track my order", "/track_order"), ("Delivery times and costs", "/ask_shipping")]),
])
def test_a_confusable_pair_gets_its_own_question(ranking: list, question: str, buttons: list) -> None:
    message = said(tracker(ranking))
    assert message["text"] == question
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == buttons


def test_the_order_number_rides_along_on_the_buttons() -> None:
    entities = [{"entity": "order_id", "value": "SB-100003"}, {"entity": "product", "value": "trailblazer 2"}]
    message = said(tracker([("request_refund", 0.5), ("ask_return_policy", 0.45)], entities))
    assert message["buttons"][0]["payload"] == '/request_refund{"order_id": "SB-100003"}'


def test_other_doubts_get_the_likeliest_intents() -> None:
    message = said(tracker([("ask_price", 0.3), ("request_refund", 0.25), ("track_order", 0.2)]))
    assert message["text"].startswith("Sorry, I didn't quite get that.")
    assert [b["payload"] for b in message["buttons"]] == ["/ask_price", "/request_refund", "/track_order"]


def test_a_second_doubt_in_a_row_offers_a_person() -> None:
    events = [{"event": "user", "text": "refund info"}, {"event": "action", "name": "action_fallback"},
              {"event": "user", "text": "hmm"}]
    message = said(tracker([("request_refund", 0.5), ("ask_return_policy", 0.45)], events=events))
    assert message["text"].startswith("Sorry, I still didn't understand.")


def test_last_said_skips_button_payloads() -> None:
    events = [{"event": "user", "text": "can i complain to a real person"}, {"event": "action", "name": "action_fallback"},
              {"event": "bot", "text": "Would you like to make a complaint, or talk to a person?"},
              {"event": "user", "text": "/complaint"}]
    assert last_said(tracker([], events=events)) == "can i complain to a real person"
    assert last_said(tracker([], events=[])) == ""

"""The support actions in process, with tracker fixtures: policies from the graph, complaints, the fallback,
the hand-over to a person and messages left for the team, on a generated shop database."""

from __future__ import annotations

from sqlalchemy import select

from actions.context import ActionContext
from actions.handoff import ActionHandoff, ActionMessageDeclined, ActionSessionStart, ActionStoreMessage
from actions.support import (
    ActionComplaint, ActionFallback, ActionPaymentMethods, ActionReturnPolicy, ActionShippingInfo,
)
from knowledge.policies import payment_methods, shipping_options
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.handoff import active_handoff, agent_seen, left_messages
from knowledge.shopdb.models import Complaint
from knowledge.sparql import OxigraphStoreClient
from tests.actions import action, bot, run, said, slots, tracker, user


def test_the_return_policy_is_the_graphs(action_context: ActionContext, memory_kg: OxigraphStoreClient) -> None:
    messages, _ = run(ActionReturnPolicy(), tracker("what is your return policy?", "ask_return_policy"))
    assert said(messages).startswith("You can return items within 30 days of delivery, unused, in the original "
                                     "packaging. Returns are free. Refunds go to the original payment method within 5")
    memory_kg.update("PREFIX shop: <https://shop.example/ns#> DELETE WHERE { shop:store shop:returnPolicy ?p }")
    messages, _ = run(ActionReturnPolicy(), tracker("what is your return policy?", "ask_return_policy"))
    assert "I don't have our return policy at hand" in said(messages)
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/human_handoff"]


def test_shipping_and_payment_come_from_the_graph(action_context: ActionContext,
                                                  memory_kg: OxigraphStoreClient) -> None:
    shipping = said(run(ActionShippingInfo(), tracker("how much is shipping?", "ask_shipping"))[0]).splitlines()
    assert shipping[0] == "We ship with:" and len(shipping) == 1 + len(shipping_options(memory_kg))
    assert all(line.startswith(f"- {option.name}: ") for line, option in zip(shipping[1:], shipping_options(memory_kg)))
    payment = said(run(ActionPaymentMethods(), tracker("can I pay with paypal?", "ask_payment_methods"))[0])
    assert payment.startswith("You can pay with ") and all(method in payment for method in payment_methods(memory_kg))


def test_a_complaint_keeps_the_shoppers_own_words(action_context: ActionContext, shop_db: ShopDB) -> None:
    earlier = [user("my parcel arrived crushed and nobody answers", "complaint", customer="C0002"),
               bot("I'm sorry to hear that."), action("action_listen")]
    messages, _ = run(ActionComplaint(), tracker("/complaint", "complaint", customer="C0002", before=earlier))
    assert "I've recorded your complaint (reference CP-" in said(messages)
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/human_handoff"]
    with shop_db.session() as session:
        complaint, = session.scalars(select(Complaint)).all()
    assert (complaint.text, complaint.customer_id) == ("my parcel arrived crushed and nobody answers", "C0002")
    assert complaint.id in said(messages)


def test_the_second_fallback_in_a_row_offers_a_person(action_context: ActionContext) -> None:
    first = [user("blorp", "nlu_fallback"), action("action_fallback"), bot("Sorry, I didn't quite get that.")]
    messages, _ = run(ActionFallback(), tracker("blorp blorp", "nlu_fallback", before=first))
    assert said(messages) == "Sorry, I still didn't understand. Would you like to talk to a person?"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/human_handoff", "/deny"]


def test_nobody_on_duty_means_an_honest_answer_and_a_message_form(action_context: ActionContext) -> None:
    messages, events = run(ActionHandoff(), tracker("I want to talk to a person", "human_handoff", customer="C0001"))
    assert "You can leave a message here and we'll answer by e-mail to alex@example.com." in said(messages)
    assert slots(events) == {"handoff_state": "offline", "contact_email": "alex@example.com"}


def test_an_agent_on_duty_gets_the_conversation_and_the_bot_pauses(
    action_context: ActionContext, shop_db: ShopDB, memory_kg: OxigraphStoreClient
) -> None:
    memory_kg.update("PREFIX schema: <https://schema.org/> PREFIX shop: <https://shop.example/ns#> "
                     "DELETE WHERE { shop:store schema:openingHoursSpecification ?spec }")  # no hours: always open
    agent_seen(shop_db, "cara")
    earlier = [user("my order never came", "complaint", customer="C0001"), action("action_complaint"),
               bot("I'm really sorry about that.")]
    track = tracker("/human_handoff", "human_handoff", customer="C0001", before=earlier, sender="conv-7")
    messages, events = run(ActionHandoff(), track)
    handoff = active_handoff(shop_db, "conv-7")
    assert handoff is not None and handoff.customer_id == "C0001" and handoff.reason == "my order never came"
    assert f"(request {handoff.id})" in said(messages) and messages[0]["custom"]["state"] == "waiting"
    assert {"event": "pause", "timestamp": None} in events
    again, events = run(ActionHandoff(), track)
    assert "You're already in touch with our team" in said(again) and {"event": "pause", "timestamp": None} in events


def test_a_message_left_for_the_team_waits_in_the_inbox(action_context: ActionContext, shop_db: ShopDB) -> None:
    track = tracker("bob@example.com", "inform", slots={"contact_email": "bob@example.com",
                                                        "contact_message": "Do you ship to Norway?"}, sender="conv-9")
    messages, events = run(ActionStoreMessage(), track)
    left, = left_messages(shop_db)
    assert (left.email, left.text, left.sender_id) == ("bob@example.com", "Do you ship to Norway?", "conv-9")
    assert f"(reference {left.id})" in said(messages)
    assert slots(events) == {"contact_message": None, "handoff_state": None}
    assert slots(run(ActionMessageDeclined(), tracker("no thanks", "deny"))[1]) == slots(events)


def test_a_new_session_keeps_a_paused_conversation_with_the_team(action_context: ActionContext,
                                                                  domain: dict) -> None:
    track = tracker("hello?", "greet", slots={"handoff_state": "offline"}, paused=True)
    _, events = run(ActionSessionStart(), track, domain)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "session_started" and "pause" in kinds and kinds[-1] == "action"
    assert slots(events) == {"handoff_state": "offline"}
    _, events = run(ActionSessionStart(), tracker("hello?", "greet"), domain)
    assert "pause" not in [e["event"] for e in events]

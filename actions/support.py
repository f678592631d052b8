"""Store policies, complaints, and what to do when NLU is unsure (the hand-over itself: ``actions/handoff.py``)."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.common import ShopAction, last_said, previous_bot_action
from actions.context import context
from actions.identity import customer_id
from knowledge import policies
from knowledge.shop import Shop

HANDOFF_BUTTON = {"title": "Talk to a person", "payload": "/human_handoff"}

# What each intent is called on a "did you mean" button.
INTENT_TITLES = {
    "ask_price": "Ask a price", "ask_product_info": "About a product", "check_availability": "Check stock",
    "search_products": "Find products", "compare_products": "Compare products", "track_order": "Track my order",
    "cancel_order": "Cancel an order", "change_order": "Change an order", "request_refund": "Return an item",
    "ask_return_policy": "Return policy", "ask_shipping": "Shipping", "ask_payment_methods": "Payment methods",
    "payment_issue": "Payment problem", "complaint": "Make a complaint", "human_handoff": "Talk to a person",
    "account_help": "My account", "ask_recommendation": "Recommend something",
}

# When NLU is torn between two intents customers confuse, the question to ask and its two answers, in order.
CLARIFYING_QUESTIONS = {
    frozenset({"request_refund", "ask_return_policy"}): (
        "Do you want to start a refund, or read our refund policy?",
        [("request_refund", "Start a refund"), ("ask_return_policy", "Refund policy")]),
    frozenset({"complaint", "human_handoff"}): (
        "Would you like to make a complaint, or talk to a person?",
        [("complaint", "Make a complaint"), ("human_handoff", "Talk to a person")]),
    frozenset({"ask_shipping", "track_order"}): (
        "Do you want to track an order, or see our delivery times and costs?",
        [("track_order", "Track my order"), ("ask_shipping", "Delivery times and costs")]),
}
# Entities a clarifying button carries over from the message, so an order number isn't asked again.
CARRIED_ENTITIES = ("order_id", "email")


class ActionReturnPolicy(ShopAction):
    """State the return policy as the graph holds it."""

    def name(self) -> Text:
        return "action_return_policy"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        policy = policies.return_policy(shop.kg)
        if policy is None:
            dispatcher.utter_message(text="Sorry, I don't have our return policy at hand. A person can help.",
                                     buttons=[HANDOFF_BUTTON])
            return []
        free = "Returns are free. " if policy.free_returns else ""
        dispatcher.utter_message(
            text=f"You can return items within {policy.window_days} days of delivery, {policy.condition}. {free}"
                 f"Refunds go to {policy.refund_method} within {policy.refund_days} business days of us "
                 "receiving the return. To start one, tell me \"I want to return an order\".",
        )
        return []


class ActionShippingInfo(ShopAction):
    """List the shipping options with their cost and delivery time, from the graph."""

    def name(self) -> Text:
        return "action_shipping_info"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        options = policies.shipping_options(shop.kg)
        currency = shop_currency()
        lines = ["We ship with:"]
        for option in options:
            cost = "free" if option.cost == 0 else render.money(option.cost, currency)
            days = f"{option.min_days} business day" + ("s" if option.max_days > 1 else "") \
                if option.min_days == option.max_days else f"{option.min_days}–{option.max_days} business days"
            free = f", free on orders over {render.money(option.free_over, currency)}" if option.free_over else ""
            lines.append(f"- {option.name}: {cost}, {days}{free}")
        dispatcher.utter_message(text="\n".join(lines))
        return []


class ActionPaymentMethods(ShopAction):
    """List the payment methods the store accepts, from the graph."""

    def name(self) -> Text:
        return "action_payment_methods"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        methods = policies.payment_methods(shop.kg)
        dispatcher.utter_message(text=f"You can pay with {render.listing(methods)}.")
        return []


def shop_currency() -> str:
    """The currency prices are shown in."""
    return context().settings.currency


class ActionComplaint(Action):
    """Apologise, record the complaint, and offer a person."""

    def name(self) -> Text:
        return "action_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        number = context().support.complaint(tracker.sender_id, last_said(tracker), customer_id=customer_id(tracker))
        dispatcher.utter_message(
            text=f"I'm really sorry about that. I've recorded your complaint (reference {number}) so our team "
                 "can look into it. Would you like to talk to a person now?",
            buttons=[HANDOFF_BUTTON],
        )
        return []


class ActionFallback(Action):
    """When NLU is unsure: ask which of two confusable intents is meant, or to rephrase with the likeliest
    intents; the second time in a row, offer a person."""

    def name(self) -> Text:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if previous_bot_action(tracker) == self.name():
            dispatcher.utter_message(
                text="Sorry, I still didn't understand. Would you like to talk to a person?",
                buttons=[HANDOFF_BUTTON, {"title": "No, I'll try again", "payload": "/deny"}],
            )
            return []
        ranking = tracker.latest_message.get("intent_ranking") or []
        likely = [r["name"] for r in ranking if r.get("name") in INTENT_TITLES][:3]
        clarifying = CLARIFYING_QUESTIONS.get(frozenset(likely[:2]))
        if clarifying:
            question, options = clarifying
            carried = {e["entity"]: e["value"] for e in tracker.latest_message.get("entities") or []
                       if e.get("entity") in CARRIED_ENTITIES and e.get("value")}
            dispatcher.utter_message(text=question, buttons=[
                {"title": title, "payload": render.payload(intent, **carried)} for intent, title in options])
            return []
        buttons = [{"title": INTENT_TITLES[name], "payload": f"/{name}"} for name in likely]
        dispatcher.utter_message(text="Sorry, I didn't quite get that. Did you mean one of these, or could you "
                                      "rephrase it?", buttons=buttons)
        return []

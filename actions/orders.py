"""Order actions: look an order up, cancel it, change its address or start a return, for its owner only."""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import render
from actions.identity import customer_id
from knowledge.policies import return_policy
from knowledge.shop import default_shop
from knowledge.shopdb import orders as shop_orders
from knowledge.shopdb.engine import ShopDB, connect
from knowledge.sparql import KnowledgeGraphUnavailable

logger = logging.getLogger(__name__)

ORDER_NUMBER = re.compile(r"#?\b(?:SB)[-_ ]?\d{6}\b", re.I)
EMAIL = re.compile(r"[^\s@<>\"']{1,64}@[^\s@<>\"']{1,190}\.[A-Za-z]{2,24}")
ORDER_SLOTS = ("order_id", "email", "order_request", "confirm_cancel", "address_change", "new_address")


_db: Optional[ShopDB] = None


def shop_db() -> ShopDB:
    """The shop database the actions read and write, connected on first use."""
    global _db
    if _db is None:
        _db = connect()
    return _db


def owner(tracker: Tracker) -> dict[str, Optional[str]]:
    """Who asks: the verified signed-in customer, or for a guest the e-mail address they gave (both must match)."""
    signed_in = customer_id(tracker)
    return {"customer_id": signed_in} if signed_in else {"email": tracker.get_slot("email")}


def forget_order() -> List[EventType]:
    """Events that clear the order flow's slots, so the next request starts afresh."""
    return [SlotSet(name, None) for name in ORDER_SLOTS]


def previous_bot_action(tracker: Tracker) -> str:
    """The last action the bot ran before the latest user message (ignoring listening)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                break
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") not in ("action_listen", None):
            return event["name"]
    return ""


class ValidateOrderForm(FormValidationAction):
    """Checks the order number's format, and asks guests for the e-mail on the order."""

    def name(self) -> Text:
        return "validate_order_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        return ["order_id"] if customer_id(tracker) else ["order_id", "email"]

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """An order number written anywhere in the message, when NLU did not tag one."""
        if tracker.get_slot("order_id"):
            return {}
        text = tracker.latest_message.get("text") or ""
        found = ORDER_NUMBER.search(text)
        if found:
            return {"order_id": found.group(0)}
        answering = tracker.get_slot("requested_slot") == "order_id"
        if answering and tracker.latest_message.get("intent", {}).get("name") == "inform" and text.strip():
            return {"order_id": text}  # an attempt at a number: validation explains the format
        return {}

    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """An e-mail address written anywhere in the message, when NLU did not tag one."""
        if tracker.get_slot("email") or tracker.get_slot("requested_slot") != "email":
            return {}
        found = EMAIL.search(tracker.latest_message.get("text") or "")
        return {"email": found.group(0)} if found else {}

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        order_id = shop_orders.normalize_order_id(str(value or ""))
        if order_id is None:
            dispatcher.utter_message(text="That doesn't look like an order number: they look like SB-123456.")
        return {"order_id": order_id}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if not EMAIL.fullmatch(text):
            dispatcher.utter_message(text="That doesn't look like an e-mail address. Could you check it?")
            return {"email": None}
        return {"email": text.lower()}


class ValidateAddressForm(FormValidationAction):
    """Checks a new shipping address before it is written."""

    def name(self) -> Text:
        return "validate_address_form"

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        try:
            return {"new_address": shop_orders.validate_address(value)}
        except shop_orders.InvalidAddress as problem:
            dispatcher.utter_message(text=f"{problem} Please write the whole address on one line.")
            return {"new_address": None}


def order_summary(order: shop_orders.OrderView) -> str:
    """The status of an order, its items, carrier, tracking and delivery dates, as a few lines."""
    items = render.listing(f"{item.quantity} × {item.name}" for item in order.items)
    lines = [f"Order {order.order_id} is {order.status}. It holds {items} "
             f"({render.money(order.total, order.currency)})."]
    if order.carrier:
        lines.append(f"Carrier: {order.carrier}, tracking number {order.tracking_number}.")
    if order.delivered_at:
        lines.append(f"It was delivered on {order.delivered_at:%d %B %Y}.")
    elif order.expected_delivery and order.status in ("processing", "shipped"):
        lines.append(f"Expected delivery: {order.expected_delivery:%d %B %Y}.")
    return "\n".join(lines)


class ActionOrderRequest(Action):
    """Answer the order request the form collected: status, cancel (after a yes), change or return."""

    def name(self) -> Text:
        return "action_order_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        request = tracker.get_slot("order_request") or "track"
        order_id = tracker.get_slot("order_id")
        with shop_db().session() as db:
            try:
                order = shop_orders.lookup_order(db, order_id, **owner(tracker))
            except shop_orders.OrderNotFound:
                dispatcher.utter_message(
                    text=f"I couldn't find order {order_id} for you. Please check the number"
                    + ("." if customer_id(tracker) else " and the e-mail address.")
                )
                return forget_order()
        if request == "cancel":
            return self.ask_to_cancel(dispatcher, order)
        if request == "change":
            if order.status != "processing":
                dispatcher.utter_message(text=f"Order {order.order_id} is already {order.status}, so its address "
                                              "can't be changed any more.")
                return forget_order()
            return [SlotSet("address_change", True)]
        if request == "return":
            return start_return(dispatcher, tracker, order)
        dispatcher.utter_message(text=order_summary(order))
        return forget_order()

    @staticmethod
    def ask_to_cancel(dispatcher: CollectingDispatcher, order: shop_orders.OrderView) -> List[EventType]:
        if order.status != "processing":
            dispatcher.utter_message(text=f"Order {order.order_id} is already {order.status}, so it can't be cancelled. "
                                          "Once it has arrived you can return it.")
            return forget_order()
        dispatcher.utter_message(
            text=f"Order {order.order_id} ({render.money(order.total, order.currency)}) hasn't shipped yet. "
                 "Do you really want to cancel it?",
            buttons=[{"title": "Yes, cancel it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}],
        )
        return [SlotSet("confirm_cancel", True)]


def start_return(dispatcher: CollectingDispatcher, tracker: Tracker, order: shop_orders.OrderView) -> List[EventType]:
    """Start a return inside the window the graph's return policy states."""
    try:
        policy = return_policy(default_shop().kg)
    except KnowledgeGraphUnavailable:
        dispatcher.utter_message(response="utter_kg_unavailable")
        return forget_order()
    window = policy.window_days if policy else 30
    with shop_db().session() as db:
        try:
            started = shop_orders.start_return(
                db, order.order_id, window_days=window, today=date.today(), reason="requested in chat", **owner(tracker)
            )
        except shop_orders.OutsideReturnWindow as refused:
            dispatcher.utter_message(text=f"Sorry, order {order.order_id} was delivered {refused.days_since_delivery} "
                                          f"days ago, and returns are possible within {window} days.")
            return forget_order()
        except shop_orders.OrderNotReturnable as refused:
            dispatcher.utter_message(text=f"Order {order.order_id} is {refused.status}, so it can't be returned now. "
                                          "Returns open once an order has been delivered.")
            return forget_order()
    dispatcher.utter_message(
        text=f"I've started return {started.return_id} for order {order.order_id}. "
             f"Send the items back {policy.condition if policy else ''}"
             f" within {window} days of delivery; your refund of {render.money(started.refund_amount, order.currency)} "
             f"goes to {policy.refund_method if policy else 'your original payment method'}.".replace("  ", " ")
    )
    return forget_order()


class ActionCancelOrder(Action):
    """Cancel the order after the shopper said yes; keep it after a no."""

    def name(self) -> Text:
        return "action_cancel_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        confirmed = tracker.latest_message.get("intent", {}).get("name") == "affirm"
        if not confirmed or previous_bot_action(tracker) != "action_order_request":
            dispatcher.utter_message(response="utter_order_kept")
            return forget_order()
        order_id = tracker.get_slot("order_id")
        with shop_db().session() as db:
            try:
                order = shop_orders.cancel_order(db, order_id, **owner(tracker))
            except shop_orders.OrderNotFound:
                dispatcher.utter_message(text=f"I couldn't find order {order_id} for you.")
                return forget_order()
            except shop_orders.OrderNotCancellable as refused:
                dispatcher.utter_message(text=f"Order {order_id} is already {refused.status}, so it can't be "
                                              "cancelled any more.")
                return forget_order()
        dispatcher.utter_message(text=f"Done: order {order.order_id} is cancelled. Your refund of "
                                      f"{render.money(order.total, order.currency)} is on its way.")
        return forget_order()


class ActionChangeAddress(Action):
    """Write the new shipping address of an order that hasn't shipped yet."""

    def name(self) -> Text:
        return "action_change_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        order_id, address = tracker.get_slot("order_id"), tracker.get_slot("new_address")
        with shop_db().session() as db:
            try:
                shop_orders.change_shipping_address(db, order_id, address, **owner(tracker))
            except shop_orders.OrderNotFound:
                dispatcher.utter_message(text=f"I couldn't find order {order_id} for you.")
                return forget_order()
            except shop_orders.ShopError as refused:
                dispatcher.utter_message(text=f"Sorry, I couldn't change the address: {refused}")
                return forget_order()
        dispatcher.utter_message(text=f"Done: order {order_id} will now be shipped to {address}.")
        return forget_order()

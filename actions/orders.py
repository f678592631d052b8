"""Order actions: look an order up, cancel it, change its address or start a return, for its owner only.

The rules (who owns an order, what can still be cancelled or re-addressed, the return window) live in
``knowledge.usecases.orders``; these actions read the slots, call the order desk and put its answer in words.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import render
from actions.common import previous_bot_action
from actions.context import context
from actions.identity import customer_id, shopper
from knowledge.shopdb.orders import (
    AddressNotChangeable, InvalidAddress, OrderNotCancellable, OrderNotFound, OrderNotReturnable, OrderView,
    OutsideReturnWindow, ShopError,
)
from knowledge.sparql import KnowledgeGraphUnavailable
from knowledge.usecases.orders import (
    StartedReturn, find_email, find_order_id, normalize_email, normalize_order_id, validate_address,
)

ORDER_SLOTS = ("order_id", "email", "order_request", "confirm_cancel", "address_change", "new_address")


def forget_order() -> List[EventType]:
    """Events that clear the order flow's slots, so the next request starts afresh."""
    return [SlotSet(name, None) for name in ORDER_SLOTS]


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
        found = find_order_id(text)
        if found:
            return {"order_id": found}
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
        found = find_email(tracker.latest_message.get("text") or "")
        return {"email": found} if found else {}

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        order_id = normalize_order_id(str(value or ""))
        if order_id is None:
            dispatcher.utter_message(text="That doesn't look like an order number: they look like SB-123456.")
        return {"order_id": order_id}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        email = normalize_email(value)
        if email is None:
            dispatcher.utter_message(text="That doesn't look like an e-mail address. Could you check it?")
        return {"email": email}


class ValidateAddressForm(FormValidationAction):
    """Checks a new shipping address before it is written."""

    def name(self) -> Text:
        return "validate_address_form"

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        try:
            return {"new_address": validate_address(value)}
        except InvalidAddress as problem:
            dispatcher.utter_message(text=f"{problem} Please write the whole address on one line.")
            return {"new_address": None}


def order_summary(order: OrderView) -> str:
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


def return_started(started: StartedReturn) -> str:
    """What a shopper is told when their return is open: the number, how and when to send, where the refund goes."""
    order, policy = started.order, started.policy
    condition = f" {policy.condition}" if policy.condition else ""
    return (f"I've started return {started.opened.return_id} for order {order.order_id}. Send the items back"
            f"{condition} within {policy.window_days} days of delivery; your refund of "
            f"{render.money(started.opened.refund_amount, order.currency)} goes to {policy.refund_method}.")


class ActionOrderRequest(Action):
    """Answer the order request the form collected: status, cancel (after a yes), change or return."""

    def name(self) -> Text:
        return "action_order_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        request, order_id = tracker.get_slot("order_request") or "track", tracker.get_slot("order_id")
        asker, desk = shopper(tracker), context().orders
        try:
            if request == "cancel":
                return ask_to_cancel(dispatcher, desk.cancellable(order_id, asker))
            if request == "change":
                desk.readdressable(order_id, asker)
                return [SlotSet("address_change", True)]
            if request == "return":
                dispatcher.utter_message(text=return_started(desk.start_return(order_id, asker, "requested in chat")))
                return forget_order()
            dispatcher.utter_message(text=order_summary(desk.order(order_id, asker)))
        except OrderNotFound:
            dispatcher.utter_message(text=f"I couldn't find order {order_id} for you. Please check the number"
                                          + ("." if asker.signed_in else " and the e-mail address."))
        except OrderNotCancellable as refused:
            dispatcher.utter_message(text=f"Order {order_id} is already {refused.status}, so it can't be cancelled. "
                                          "Once it has arrived you can return it.")
        except AddressNotChangeable as refused:
            dispatcher.utter_message(text=f"Order {order_id} is already {refused.status}, so its address "
                                          "can't be changed any more.")
        except OutsideReturnWindow as refused:
            dispatcher.utter_message(text=f"Sorry, order {order_id} was delivered {refused.days_since_delivery} "
                                          f"days ago, and returns are possible within {refused.window_days} days.")
        except OrderNotReturnable as refused:
            dispatcher.utter_message(text=f"Order {order_id} is {refused.status}, so it can't be returned now. "
                                          "Returns open once an order has been delivered.")
        except ShopError as refused:
            dispatcher.utter_message(text=f"Sorry, I couldn't do that: {refused}")
        except KnowledgeGraphUnavailable:
            dispatcher.utter_message(response="utter_kg_unavailable")
        return forget_order()


def ask_to_cancel(dispatcher: CollectingDispatcher, order: OrderView) -> List[EventType]:
    """Ask the shopper to confirm cancelling an order that can still be cancelled."""
    dispatcher.utter_message(
        text=f"Order {order.order_id} ({render.money(order.total, order.currency)}) hasn't shipped yet. "
             "Do you really want to cancel it?",
        buttons=[{"title": "Yes, cancel it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}],
    )
    return [SlotSet("confirm_cancel", True)]


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
        try:
            order = context().orders.cancel(order_id, shopper(tracker))
            dispatcher.utter_message(text=f"Done: order {order.order_id} is cancelled. Your refund of "
                                          f"{render.money(order.total, order.currency)} is on its way.")
        except OrderNotFound:
            dispatcher.utter_message(text=f"I couldn't find order {order_id} for you.")
        except OrderNotCancellable as refused:
            dispatcher.utter_message(text=f"Order {order_id} is already {refused.status}, so it can't be "
                                          "cancelled any more.")
        return forget_order()


class ActionChangeAddress(Action):
    """Write the new shipping address of an order that hasn't shipped yet."""

    def name(self) -> Text:
        return "action_change_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        order_id, address = tracker.get_slot("order_id"), tracker.get_slot("new_address")
        try:
            context().orders.change_address(order_id, address, shopper(tracker))
            dispatcher.utter_message(text=f"Done: order {order_id} will now be shipped to {address}.")
        except OrderNotFound:
            dispatcher.utter_message(text=f"I couldn't find order {order_id} for you.")
        except ShopError as refused:
            dispatcher.utter_message(text=f"Sorry, I couldn't change the address: {refused}")
        return forget_order()

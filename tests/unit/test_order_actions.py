"""The order actions in process, with tracker fixtures, on a generated shop database and the demo graph."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Optional

from rasa_sdk.executor import CollectingDispatcher

from actions.context import ActionContext, use_context
from actions.orders import (
    ORDER_SLOTS, ActionCancelOrder, ActionChangeAddress, ActionOrderRequest, ValidateAddressForm, ValidateOrderForm,
)
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.orders import lookup_order, open_returns
from knowledge.sparql import HttpSparqlClient
from tests.actions import action, context_on, run, said, slots, tracker, user

CLEARED = {name: None for name in ORDER_SLOTS}


def ask(request: str, order_id: str, customer: str = "C0001", email: Optional[str] = None) -> tuple[list, list]:
    """Run action_order_request for a request the order form collected."""
    return run(ActionOrderRequest(), tracker("/inform", "inform", customer=customer,
                                             slots={"order_request": request, "order_id": order_id, "email": email}))


def test_the_status_of_an_order_with_carrier_and_tracking(action_context: ActionContext) -> None:
    messages, events = ask("track", "SB-100002")
    assert said(messages).startswith("Order SB-100002 is shipped. It holds 1 × ")
    assert "Carrier: UPS, tracking number 1Z999AA10123456784." in said(messages)
    assert slots(events) == CLEARED


def test_a_guest_needs_the_orders_email_and_nobody_sees_anothers_order(action_context: ActionContext) -> None:
    assert "Order SB-100003 is delivered" in said(ask("track", "SB-100003", customer=None, email="alex@example.com")[0])
    wrong, events = ask("track", "SB-100003", customer=None, email="sam@example.com")
    assert said(wrong) == "I couldn't find order SB-100003 for you. Please check the number and the e-mail address."
    assert slots(events) == CLEARED
    assert said(ask("track", "SB-100001", customer="C0002")[0]) == \
        "I couldn't find order SB-100001 for you. Please check the number."


def test_cancelling_asks_first_and_writes_only_after_a_yes(action_context: ActionContext, shop_db: ShopDB) -> None:
    messages, events = ask("cancel", "SB-100001")
    assert "hasn't shipped yet. Do you really want to cancel it?" in said(messages)
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert slots(events) == {"confirm_cancel": True}
    assert lookup_order(shop_db, "SB-100001", customer_id="C0001").status == "processing"

    asked = [user("cancel SB-100001", "cancel_order", customer="C0001"), action("action_order_request")]
    kept, _ = run(ActionCancelOrder(), tracker("no", "deny", customer="C0001", slots={"order_id": "SB-100001"},
                                                before=asked))
    assert [m.get("response") for m in kept] == ["utter_order_kept"]
    assert lookup_order(shop_db, "SB-100001", customer_id="C0001").status == "processing"

    done, events = run(ActionCancelOrder(), tracker("yes", "affirm", customer="C0001", slots={"order_id": "SB-100001"},
                                                    before=asked))
    assert said(done).startswith("Done: order SB-100001 is cancelled. Your refund of $")
    assert lookup_order(shop_db, "SB-100001", customer_id="C0001").status == "cancelled"
    assert slots(events) == CLEARED


def test_a_yes_out_of_the_blue_or_from_someone_else_cancels_nothing(action_context: ActionContext,
                                                                     shop_db: ShopDB) -> None:
    forged, _ = run(ActionCancelOrder(), tracker("yes", "affirm", customer="C0001", slots={"order_id": "SB-100001"}))
    assert [m.get("response") for m in forged] == ["utter_order_kept"]
    asked = [user("cancel SB-100001", "cancel_order", customer="C0002"), action("action_order_request")]
    other, _ = run(ActionCancelOrder(), tracker("yes", "affirm", customer="C0002", slots={"order_id": "SB-100001"},
                                                 before=asked))
    assert said(other) == "I couldn't find order SB-100001 for you."
    assert lookup_order(shop_db, "SB-100001", customer_id="C0001").status == "processing"


def test_a_shipped_order_is_neither_cancelled_nor_readdressed(action_context: ActionContext) -> None:
    assert said(ask("cancel", "SB-100002")[0]) == ("Order SB-100002 is already shipped, so it can't be cancelled. "
                                                   "Once it has arrived you can return it.")
    refused, events = ask("change", "SB-100002")
    assert said(refused) == "Order SB-100002 is already shipped, so its address can't be changed any more."
    assert slots(events) == CLEARED


def test_a_new_address_is_asked_for_then_written(action_context: ActionContext, shop_db: ShopDB) -> None:
    messages, events = ask("change", "SB-100001")
    assert messages == [] and slots(events) == {"address_change": True}
    form, dispatcher = ValidateAddressForm(), CollectingDispatcher()
    hidden = form.validate_new_address("5 Oak Lane\u202e, Springfield", dispatcher, tracker(), {})
    assert hidden == {"new_address": None}
    assert "contains control characters" in said(dispatcher.messages)
    validated = form.validate_new_address("  5 Oak Lane,   Springfield ", dispatcher, tracker(), {})
    assert validated == {"new_address": "5 Oak Lane, Springfield"}
    done, _ = run(ActionChangeAddress(), tracker("5 Oak Lane, Springfield", "inform", customer="C0001",
                                                 slots={"order_id": "SB-100001", **validated}))
    assert said(done) == "Done: order SB-100001 will now be shipped to 5 Oak Lane, Springfield."
    assert lookup_order(shop_db, "SB-100001", customer_id="C0001").shipping_address == "5 Oak Lane, Springfield"


def test_a_return_opens_on_the_graphs_terms_once(action_context: ActionContext, shop_db: ShopDB) -> None:
    messages, events = ask("return", "SB-100003")
    text = said(messages)
    assert text.startswith("I've started return R") and "for order SB-100003." in text
    assert "Send the items back unused, in the original packaging within 30 days of delivery" in text
    assert text.endswith("goes to the original payment method.")
    assert slots(events) == CLEARED
    assert [r.order_id for r in open_returns(shop_db, "C0001")].count("SB-100003") == 1
    again = said(ask("return", "SB-100003")[0])
    assert again.startswith("Sorry, I couldn't do that: There is already a return for this order")
    assert [r.order_id for r in open_returns(shop_db, "C0001")].count("SB-100003") == 1


def test_a_return_outside_the_window_or_before_delivery_is_explained(action_context: ActionContext) -> None:
    assert said(ask("return", "SB-100004")[0]) == ("Sorry, order SB-100004 was delivered 60 days ago, and returns "
                                                   "are possible within 30 days.")
    assert said(ask("return", "SB-100001")[0]) == ("Order SB-100001 is processing, so it can't be returned now. "
                                                   "Returns open once an order has been delivered.")


def test_without_the_graph_no_return_is_written(shop_db: ShopDB, tmp_path: Path) -> None:
    from bot.services import free_port

    use_context(context_on(HttpSparqlClient(f"http://127.0.0.1:{free_port()}/query", timeout=2), shop_db, tmp_path))
    try:
        messages, events = ask("return", "SB-100003")
    finally:
        use_context(None)
    assert [m.get("response") for m in messages] == ["utter_kg_unavailable"] and slots(events) == CLEARED
    assert not open_returns(shop_db, "C0001") or all(r.order_id != "SB-100003" for r in open_returns(shop_db, "C0001"))


def test_the_order_form_finds_numbers_and_addresses_in_sentences(action_context: ActionContext) -> None:
    form, dispatcher = ValidateOrderForm(), CollectingDispatcher()
    found = asyncio.run(form.extract_order_id(dispatcher, tracker("where is sb 100002?", "track_order"), {}))
    assert found == {"order_id": "SB-100002"}
    answering = tracker("it's 12", "inform", slots={"requested_slot": "order_id"})
    assert asyncio.run(form.extract_order_id(dispatcher, answering, {})) == {"order_id": "it's 12"}
    assert form.validate_order_id("it's 12", dispatcher, answering, {}) == {"order_id": None}
    assert "they look like SB-123456" in said(dispatcher.messages)
    email = tracker("it is Alex@Example.com", "inform", slots={"requested_slot": "email"})
    assert asyncio.run(form.extract_email(dispatcher, email, {})) == {"email": "Alex@Example.com"}
    assert form.validate_email("Alex@Example.com", dispatcher, email, {}) == {"email": "alex@example.com"}
    guest = asyncio.run(form.required_slots([], dispatcher, tracker("where is my order"), {}))
    signed_in = asyncio.run(form.required_slots([], dispatcher, tracker("where is my order", customer="C0001"), {}))
    assert guest == ["order_id", "email"] and signed_in == ["order_id"]

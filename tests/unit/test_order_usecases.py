"""The order desk without Rasa: who may see an order, what can still be cancelled or re-addressed, the return
window the graph states, and order numbers and e-mail addresses as shoppers write them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Optional

import pytest

from knowledge.policies import return_policy
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.orders import (
    AddressNotChangeable, OrderNotCancellable, OrderNotFound, OrderNotReturnable, OutsideReturnWindow,
    ReturnAlreadyRequested, lookup_order,
)
from knowledge.sparql import OxigraphStoreClient
from knowledge.usecases.orders import (
    DEFAULT_RETURN_POLICY, OrderDesk, Shopper, find_email, find_order_id, normalize_email, normalize_order_id,
)

ALEX, SAM = Shopper(customer_id="C0001"), Shopper(customer_id="C0002")


@pytest.fixture
def desk(shop_db: ShopDB, memory_kg: OxigraphStoreClient) -> OrderDesk:
    return OrderDesk(shop_db, memory_kg)


@pytest.mark.parametrize("text, number", [
    ("where is my order SB-100002?", "SB-100002"), ("it's sb 104532.", "SB-104532"), ("#SB_123456 please", "SB-123456"),
    ("order sb104532 hasn't come", "SB-104532"), ("my phone is 555123456", None), ("SB-1234567", None), ("", None),
])
def test_an_order_number_is_found_in_a_sentence_only_with_its_prefix(text: str, number: str) -> None:
    assert find_order_id(text) == number


@pytest.mark.parametrize("text, number", [
    ("SB-100002", "SB-100002"), ("100002", "SB-100002"), ("#sb 100002.", "SB-100002"), ("SB-10002", None),
    ("order SB-100002", None),
])
def test_a_whole_answer_is_an_order_number_with_or_without_its_prefix(text: str, number: str) -> None:
    assert normalize_order_id(text) == number


def test_email_addresses_are_found_and_normalised() -> None:
    assert find_email("it's Alex@Example.com, thanks") == "Alex@Example.com"
    assert normalize_email("  Alex@Example.com ") == "alex@example.com"
    assert normalize_email("alex at example dot com") is None and normalize_email(None) is None


def test_a_guest_sees_an_order_only_with_its_email_and_a_customer_only_their_own(desk: OrderDesk) -> None:
    assert desk.order("SB-100002", Shopper(email="ALEX@example.com")).status == "shipped"
    with pytest.raises(OrderNotFound):
        desk.order("SB-100002", Shopper(email="sam@example.com"))
    with pytest.raises(OrderNotFound):
        desk.order("SB-100001", SAM)
    with pytest.raises(OrderNotFound):
        desk.order("SB-100001", Shopper())


def test_only_an_order_that_has_not_shipped_can_be_cancelled_or_readdressed(desk: OrderDesk) -> None:
    assert desk.cancellable("SB-100001", ALEX).order_id == "SB-100001"
    assert desk.readdressable("SB-100001", ALEX).status == "processing"
    with pytest.raises(OrderNotCancellable) as refused:
        desk.cancellable("SB-100002", ALEX)
    assert refused.value.status == "shipped"
    with pytest.raises(AddressNotChangeable):
        desk.readdressable("SB-100003", ALEX)


def test_cancelling_and_a_new_address_are_written_for_the_owner_only(desk: OrderDesk, shop_db: ShopDB) -> None:
    with pytest.raises(OrderNotFound):
        desk.cancel("SB-100001", SAM)
    assert desk.change_address("SB-100005", " 9  Elm Road,  Riverton ", SAM).shipping_address == "9 Elm Road, Riverton"
    assert desk.cancel("SB-100001", ALEX).status == "cancelled"
    assert lookup_order(shop_db, "SB-100001", customer_id="C0001").status == "cancelled"
    with pytest.raises(OrderNotCancellable):
        desk.cancel("SB-100001", ALEX)


def test_a_return_opens_inside_the_window_the_graph_states(desk: OrderDesk, memory_kg: OxigraphStoreClient) -> None:
    policy = return_policy(memory_kg)
    started = desk.start_return("SB-100003", ALEX, "too small")
    assert started.policy == policy and started.opened.status == "requested"
    assert started.opened.refund_amount == started.order.total
    with pytest.raises(ReturnAlreadyRequested):
        desk.start_return("SB-100003", ALEX)
    with pytest.raises(OutsideReturnWindow) as late:
        desk.start_return("SB-100004", ALEX)
    assert late.value.days_since_delivery == 60 and late.value.window_days == policy.window_days
    with pytest.raises(OrderNotReturnable):
        desk.start_return("SB-100002", ALEX)


def test_the_window_follows_the_policy_and_the_day(shop_db: ShopDB, memory_kg: OxigraphStoreClient) -> None:
    later = OrderDesk(shop_db, memory_kg, today=lambda: date.today() + timedelta(days=25))
    with pytest.raises(OutsideReturnWindow):
        later.start_return("SB-100003", ALEX)  # delivered 35 days before that day, and the window is 30 days
    memory_kg.update("PREFIX shop: <https://shop.example/ns#> DELETE { ?p shop:returnWindowDays ?d } "
                     "INSERT { ?p shop:returnWindowDays 90 } WHERE { ?p shop:returnWindowDays ?d }")
    assert OrderDesk(shop_db, memory_kg).start_return("SB-100004", ALEX).policy.window_days == 90


def test_without_a_policy_in_the_graph_the_default_terms_apply(shop_db: ShopDB) -> None:
    desk = OrderDesk(shop_db, OxigraphStoreClient())
    assert desk.return_policy() == DEFAULT_RETURN_POLICY
    assert desk.start_return("SB-100003", ALEX).policy.window_days == 30


@pytest.mark.parametrize(("text", "address"), [
    ("o'brien@example.ie", "o'brien@example.ie"), ("(alex@example.com)", "alex@example.com"),
    ("'alex@example.com'", "alex@example.com"), ("write to jürgen@beispiel.de.", "jürgen@beispiel.de"),
    ("mail: a.b+c@sub.example.co.uk;", "a.b+c@sub.example.co.uk"), ("alex at example dot com", None),
])
def test_an_address_is_found_without_the_quotes_and_punctuation_around_it(text: str, address: Optional[str]) -> None:
    assert find_email(text) == address

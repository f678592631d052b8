"""Unit tests of knowledge.shopdb.orders: order numbers, ownership, cancelling, addresses and returns.

Every test works on its own copy of a small generated shop (a real SQLite file); changes are checked
through a new engine on the same file.
"""

from __future__ import annotations

import shutil
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import inspect, select

from knowledge.demo_store import generate_products
from knowledge.shopdb import (
    AddressNotChangeable,
    IdentityRequired,
    InvalidAddress,
    OrderNotCancellable,
    OrderNotFound,
    OrderNotReturnable,
    OutsideReturnWindow,
    ReturnAlreadyRequested,
    ShopDB,
    cancel_order,
    change_shipping_address,
    connect,
    customer_orders,
    lookup_order,
    normalize_order_id,
    row_counts,
    start_return,
)
from knowledge.shopdb.generate import DEMO_ORDERS, TODAY, generate_shop
from knowledge.shopdb.models import Order, Return

WINDOW = 30
HOSTILE = (
    "' OR '1'='1",
    "C0001' OR '1'='1' --",
    "alex@example.com' --",
    "x'; DROP TABLE orders; --",
    "\" OR \"\"=\"",
    "%",
    "_",
    "C000%",
    "\x00",
    "ALEX@EXAMPLE.COM\x00",
    "a" * 10_000,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop-template") / "shop.db"
    generate_shop(f"sqlite:///{path}", generate_products(), customers=40, orders=250)
    return path


@pytest.fixture
def url(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(url: str) -> Iterator[ShopDB]:
    shop = connect(url)
    yield shop
    shop.dispose()


def reopen(url: str, order_id: str, customer_id: str) -> str:
    """The order's status as a brand-new engine on the same file sees it."""
    fresh = connect(url)
    try:
        return lookup_order(fresh, order_id, customer_id=customer_id).status
    finally:
        fresh.dispose()


# --- order numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "SB-104532", "sb104532", "SB 104532", "#SB-104532", "# SB-104532", "sb-104532", "Sb_104532", " SB-104532 ",
    "104532", "#104532", "SB-104532.", "SB104532?",
])
def test_normalize_order_id_accepts_the_usual_forms(text: str) -> None:
    assert normalize_order_id(text) == "SB-104532"


@pytest.mark.parametrize("text", [
    "", "   ", "SB-", "SB-10453", "SB-1045321", "10453", "1045321", "12", "SB-10453a", "XB-104532",
    "SB-100001'; DROP TABLE orders; --", "SB-100001 OR 1=1", "SB-100001\x00", "SB-100001\nSB-100002",
    "order SB-100001 please", "SB-１０４５３２", "SB-104 532", "SB--104532", "SB-104532" + " " * 40,
    "<script>alert(1)</script>", "SB-%", None, 104532, b"SB-104532",
])
def test_normalize_order_id_rejects_everything_else(text: object) -> None:
    assert normalize_order_id(text) is None


# --- looking up -----------------------------------------------------------------------------------


def test_lookup_by_customer_id(db: ShopDB) -> None:
    view = lookup_order(db, "sb 100002", customer_id="C0001")
    assert view.order_id == "SB-100002" and view.customer_id == "C0001"
    assert view.status == "shipped"
    assert (view.carrier, view.tracking_number) == ("UPS", DEMO_ORDERS["SB-100002"].tracking_number)
    assert view.shipped_at is not None and view.delivered_at is None
    assert view.expected_delivery == TODAY + timedelta(days=2)
    assert view.shipping_address == "12 Harbor Street, Springfield 12345"
    assert view.items and all(item.name and item.quantity >= 1 for item in view.items)
    assert view.total == sum((item.line_total for item in view.items), Decimal("0")) + view.shipping_cost
    assert isinstance(view.total, Decimal) and view.currency == "USD"
    assert not view.cancellable and not view.address_changeable


def test_lookup_processing_order_has_no_shipment(db: ShopDB) -> None:
    view = lookup_order(db, "SB-100001", customer_id="C0001")
    assert view.status == "processing" and view.cancellable
    assert view.carrier is None and view.tracking_number is None and view.expected_delivery is None
    assert view.items[0].product_id == "P0001" and view.items[0].name == "Trailblazer 2 GTX Running Shoe"
    assert view.item_count == 3


def test_lookup_by_email_is_case_insensitive(db: ShopDB) -> None:
    assert lookup_order(db, "SB-100003", email="alex@example.com").delivered_at is not None
    assert lookup_order(db, "SB-100003", email="  Alex@Example.COM ").order_id == "SB-100003"
    assert lookup_order(db, "SB-100005", email="SAM@example.com").customer_id == "C0002"


def test_someone_elses_order_looks_like_no_order(db: ShopDB) -> None:
    with pytest.raises(OrderNotFound) as not_yours:
        lookup_order(db, "SB-100005", customer_id="C0001")
    with pytest.raises(OrderNotFound) as missing:
        lookup_order(db, "SB-999999", customer_id="C0001")
    assert str(not_yours.value).replace("SB-100005", "X") == str(missing.value).replace("SB-999999", "X")
    with pytest.raises(OrderNotFound):
        lookup_order(db, "SB-100005", email="alex@example.com")
    with pytest.raises(OrderNotFound):
        lookup_order(db, "SB-100001", email="alex@example.co")


def test_customer_id_wins_over_email(db: ShopDB) -> None:
    with pytest.raises(OrderNotFound):
        lookup_order(db, "SB-100005", customer_id="C0001", email="sam@example.com")
    assert lookup_order(db, "SB-100005", customer_id="C0002", email="wrong@example.com").status == "processing"


def test_no_identity_no_order(db: ShopDB) -> None:
    for identity in ({}, {"customer_id": "", "email": "   "}, {"customer_id": None, "email": None}):
        with pytest.raises(IdentityRequired) as error:
            lookup_order(db, "SB-100001", **identity)
        assert isinstance(error.value, OrderNotFound)
        assert "e-mail" in str(error.value)
    with pytest.raises(IdentityRequired):  # the same before the order number is even looked at
        lookup_order(db, "SB-999999")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_identities_find_nothing_and_break_nothing(db: ShopDB, hostile: str) -> None:
    before = row_counts(db.engine)
    for call in (
        lambda: lookup_order(db, "SB-100001", customer_id=hostile),
        lambda: lookup_order(db, "SB-100001", email=hostile),
        lambda: lookup_order(db, hostile, customer_id="C0001"),
        lambda: cancel_order(db, "SB-100001", customer_id=hostile),
        lambda: cancel_order(db, "SB-100001", email=hostile),
    ):
        with pytest.raises(OrderNotFound):
            call()
    assert row_counts(db.engine) == before
    assert "orders" in inspect(db.engine).get_table_names()
    assert lookup_order(db, "SB-100001", customer_id="C0001").status == "processing"


def test_lookup_accepts_an_open_session(db: ShopDB) -> None:
    with db.session() as session:
        assert lookup_order(session, "SB-100004", customer_id="C0001").status == "delivered"
        assert customer_orders(session, "C0002")[0].order_id == "SB-100005"


def test_customer_orders_newest_first(db: ShopDB) -> None:
    orders = customer_orders(db, "C0001")
    assert [o.order_id for o in orders] == ["SB-100001", "SB-100002", "SB-100003", "SB-100004"]
    assert [o.placed_at for o in orders] == sorted((o.placed_at for o in orders), reverse=True)
    assert orders[0].item_count == 3 and orders[0].status == "processing"
    assert [o.order_id for o in customer_orders(db, "C0001", limit=2)] == ["SB-100001", "SB-100002"]
    assert customer_orders(db, "C4040") == []
    assert customer_orders(db, "C0001' OR '1'='1") == []
    assert len(customer_orders(db, "C0001", limit=0)) == 1


# --- cancelling -----------------------------------------------------------------------------------


def test_cancel_while_processing_is_persisted(db: ShopDB, url: str) -> None:
    view = cancel_order(db, "#sb-100001", customer_id="C0001")
    assert view.status == "cancelled" and not view.cancellable
    assert reopen(url, "SB-100001", "C0001") == "cancelled"
    with pytest.raises(OrderNotCancellable) as error:
        cancel_order(db, "SB-100001", customer_id="C0001")
    assert error.value.status == "cancelled"


def test_cancel_by_email(db: ShopDB, url: str) -> None:
    assert cancel_order(db, "SB-100005", email="Sam@Example.com").status == "cancelled"
    assert reopen(url, "SB-100005", "C0002") == "cancelled"


@pytest.mark.parametrize("order_id, status", [("SB-100002", "shipped"), ("SB-100003", "delivered")])
def test_cannot_cancel_after_shipping(db: ShopDB, url: str, order_id: str, status: str) -> None:
    with pytest.raises(OrderNotCancellable) as error:
        cancel_order(db, order_id, customer_id="C0001")
    assert error.value.status == status and status in str(error.value)
    assert reopen(url, order_id, "C0001") == status


def test_cannot_cancel_someone_elses_order(db: ShopDB, url: str) -> None:
    with pytest.raises(OrderNotFound):
        cancel_order(db, "SB-100005", customer_id="C0001")
    assert reopen(url, "SB-100005", "C0002") == "processing"


def test_cancel_loses_a_race_with_shipping(db: ShopDB, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An order shipped by someone else between reading and writing is not cancelled (conditional update)."""
    from knowledge.shopdb import orders

    read = orders._owned_order

    def read_then_ship(*args: object):  # noqa: ANN202 - Order
        order = read(*args)
        other = connect(url)
        try:
            with other.engine.begin() as connection:
                connection.execute(Order.__table__.update().where(Order.__table__.c.id == order.id)
                                   .values(status="shipped"))
        finally:
            other.dispose()
        return order

    monkeypatch.setattr(orders, "_owned_order", read_then_ship)
    with pytest.raises(OrderNotCancellable) as error:
        cancel_order(db, "SB-100001", customer_id="C0001")
    assert error.value.status == "shipped"
    monkeypatch.undo()
    assert reopen(url, "SB-100001", "C0001") == "shipped"


# --- addresses ------------------------------------------------------------------------------------


def test_change_address_while_processing(db: ShopDB, url: str) -> None:
    view = change_shipping_address(db, "SB-100005", "  99 New   Street,  Riverton 54321 ", email="sam@example.com")
    assert view.shipping_address == "99 New Street, Riverton 54321"
    fresh = connect(url)
    try:
        assert lookup_order(fresh, "SB-100005", customer_id="C0002").shipping_address == view.shipping_address
    finally:
        fresh.dispose()


def test_address_with_sql_is_just_text(db: ShopDB) -> None:
    address = "1 Main St'); DROP TABLE orders; --"
    assert change_shipping_address(db, "SB-100001", address, customer_id="C0001").shipping_address == address
    assert "orders" in inspect(db.engine).get_table_names()
    assert lookup_order(db, "SB-100001", customer_id="C0001").shipping_address == address


@pytest.mark.parametrize("address", [
    "", "   ", "a" * 301, "1 Main St\x00", "1 Main\tSt", "Line 1\nLine 2", "1 Main\rSt", "bell\x07", "\u202eevil street 1",
    "!!! ---", None, 42,
])
def test_invalid_addresses_are_refused(db: ShopDB, address: object) -> None:
    with pytest.raises(InvalidAddress):
        change_shipping_address(db, "SB-100001", address, customer_id="C0001")
    assert lookup_order(db, "SB-100001", customer_id="C0001").shipping_address == "12 Harbor Street, Springfield 12345"


def test_longest_address_is_accepted(db: ShopDB) -> None:
    address = "9 Ünïcödé Straße, " + "x" * (300 - 18)
    assert len(address) == 300
    assert change_shipping_address(db, "SB-100001", address, customer_id="C0001").shipping_address == address


@pytest.mark.parametrize("order_id, status", [("SB-100002", "shipped"), ("SB-100004", "delivered")])
def test_address_fixed_once_shipped(db: ShopDB, order_id: str, status: str) -> None:
    before = lookup_order(db, order_id, customer_id="C0001").shipping_address
    with pytest.raises(AddressNotChangeable) as error:
        change_shipping_address(db, order_id, "5 Other Road", customer_id="C0001")
    assert error.value.status == status
    assert lookup_order(db, order_id, customer_id="C0001").shipping_address == before


def test_address_of_cancelled_order_is_fixed(db: ShopDB) -> None:
    cancel_order(db, "SB-100001", customer_id="C0001")
    with pytest.raises(AddressNotChangeable):
        change_shipping_address(db, "SB-100001", "5 Other Road", customer_id="C0001")


def test_change_address_checks_ownership_first(db: ShopDB) -> None:
    with pytest.raises(OrderNotFound):
        change_shipping_address(db, "SB-100005", "5 Other Road", customer_id="C0001")
    with pytest.raises(OrderNotFound):  # even an invalid address reveals nothing about someone else's order
        change_shipping_address(db, "SB-100005", "", customer_id="C0001")


# --- returns --------------------------------------------------------------------------------------


def test_return_inside_the_window(db: ShopDB, url: str) -> None:
    order = lookup_order(db, "SB-100003", customer_id="C0001")
    started = start_return(db, "SB-100003", WINDOW, TODAY, "does not fit", customer_id="C0001")
    assert started.return_id.startswith("RT-") and len(started.return_id) == 9
    assert started.status == "requested" and started.order_id == "SB-100003"
    assert started.refund_amount == order.total and started.currency == "USD"
    assert (started.days_since_delivery, started.window_days) == (10, WINDOW)
    fresh = connect(url)
    try:
        again = lookup_order(fresh, "SB-100003", email="alex@example.com")
        assert again.status == "delivered"  # stays delivered until the goods are back
        assert [(r.return_id, r.status, r.reason) for r in again.returns] == [
            (started.return_id, "requested", "does not fit")]
        with fresh.session() as session:
            assert session.get(Return, started.return_id) is not None
    finally:
        fresh.dispose()
    with pytest.raises(ReturnAlreadyRequested) as error:
        start_return(db, "SB-100003", WINDOW, TODAY, "again", customer_id="C0001")
    assert error.value.return_id == started.return_id


def test_return_window_edges(db: ShopDB) -> None:
    with pytest.raises(OutsideReturnWindow) as error:
        start_return(db, "SB-100003", 9, TODAY, "late", customer_id="C0001")
    assert (error.value.days_since_delivery, error.value.window_days) == (10, 9)
    assert start_return(db, "SB-100003", 10, TODAY, "just in time", customer_id="C0001").days_since_delivery == 10


def test_return_outside_the_window(db: ShopDB) -> None:
    with pytest.raises(OutsideReturnWindow) as error:
        start_return(db, "SB-100004", WINDOW, TODAY, "too late", email="alex@example.com")
    assert (error.value.days_since_delivery, error.value.window_days) == (60, 30)
    assert "60 days" in str(error.value) and "30 days" in str(error.value)
    assert lookup_order(db, "SB-100004", customer_id="C0001").returns == ()


def test_window_comes_from_the_caller(db: ShopDB) -> None:
    assert start_return(db, "SB-100004", 90, TODAY, "", customer_id="C0001").status == "requested"


@pytest.mark.parametrize("order_id, status", [("SB-100001", "processing"), ("SB-100002", "shipped")])
def test_only_delivered_orders_can_be_returned(db: ShopDB, order_id: str, status: str) -> None:
    with pytest.raises(OrderNotReturnable) as error:
        start_return(db, order_id, WINDOW, TODAY, "changed my mind", customer_id="C0001")
    assert error.value.status == status


def test_cancelled_and_returned_orders_cannot_be_returned(db: ShopDB) -> None:
    cancel_order(db, "SB-100001", customer_id="C0001")
    with pytest.raises(OrderNotReturnable):
        start_return(db, "SB-100001", WINDOW, TODAY, "", customer_id="C0001")
    with db.session() as session:
        returned = session.scalars(select(Order).where(Order.status == "returned").limit(1)).first()
        assert returned is not None, "the small shop should hold a returned order"
        owner, order_id = returned.customer_id, returned.id
    with pytest.raises((OrderNotReturnable, ReturnAlreadyRequested)):
        start_return(db, order_id, 3650, TODAY, "", customer_id=owner)


def test_return_of_someone_elses_order(db: ShopDB) -> None:
    with pytest.raises(OrderNotFound):
        start_return(db, "SB-100003", WINDOW, TODAY, "mine now", customer_id="C0002")
    assert lookup_order(db, "SB-100003", customer_id="C0001").returns == ()


def test_return_reason_is_cut_and_window_checked(db: ShopDB) -> None:
    started = start_return(db, "SB-100003", WINDOW, TODAY, "why " * 1000 + "\x00", customer_id="C0001")
    assert len(started.reason) == 500 and "\x00" not in started.reason
    with pytest.raises(ValueError):
        start_return(db, "SB-100004", -1, TODAY, "", customer_id="C0001")


def test_return_today_before_delivery_counts_as_day_zero(db: ShopDB) -> None:
    early = TODAY - timedelta(days=20)  # a caller whose clock is behind the demo data
    assert start_return(db, "SB-100003", WINDOW, early, "", customer_id="C0001").days_since_delivery == 0


def test_today_may_be_a_datetime(db: ShopDB) -> None:
    now = datetime.combine(TODAY, time(23, 59))
    assert start_return(db, "SB-100003", WINDOW, now, "", customer_id="C0001").days_since_delivery == 10

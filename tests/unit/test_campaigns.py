"""Unit tests of knowledge.campaigns: staff edits of campaigns (SHACL, audit, revert), who sees one, the hold-out
group, exposures, and the campaign page's figures."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from knowledge.campaigns import (
    campaign_chart,
    campaign_stats,
    create_campaign,
    delete_campaign,
    get_campaign,
    in_control,
    list_campaigns,
    offer_for,
    record_exposure,
    targets,
    update_campaign,
)
from knowledge.campaigns.stats import CONTROL, OTHER, SHOWN
from knowledge.editing import Editor, delete_product
from knowledge.editing.errors import EditConflict, ValidationFailed
from knowledge.segments.storage import CUSTOMER_SEGMENTS, METADATA
from knowledge.shopdb import ShopDB, connect
from knowledge.shopdb.behaviour import Event, events, record_events
from knowledge.shopdb.models import Customer, Order, OrderLine
from knowledge.shopdb.staff import add_staff
from knowledge.sparql import OxigraphStoreClient

TODAY = date(2026, 3, 10)
SEGMENT = "Bargain hunters (Yoga Mats shoppers)"


def fields(**extra: str) -> dict[str, str]:
    return {"id": "spring-yoga", "name": "Spring yoga", "segment": "Bargain hunters", "message": "20% off yoga mats",
            "products": "P0258, P0260", "start": "2026-03-01", "end": "2026-03-31", **extra}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ShopDB]:
    """A shop database with 40 customers in two stored segments and an editor."""
    shop = connect(f"sqlite:///{tmp_path / 'shop.db'}")
    add_staff(shop, "ada", "a long enough password", "editor")
    with shop.session() as session:
        for n in range(40):
            session.add(Customer(id=f"C{n:04d}", name=f"C{n}", email=f"c{n}@example.com", created_at=datetime(2025, 1, 1),
                                 address="x"))
        session.commit()
        METADATA.create_all(session.connection())
        session.execute(CUSTOMER_SEGMENTS.insert(), [
            {"customer_id": f"C{n:04d}", "segment": n % 2, "name": SEGMENT if n % 2 == 0 else "Steady shoppers",
             "updated_at": datetime(2026, 3, 1)} for n in range(40)])
        session.commit()
    yield shop
    shop.dispose()


@pytest.fixture
def editor(memory_kg: OxigraphStoreClient, db: ShopDB) -> Editor:
    return Editor(memory_kg, db)


def test_a_campaign_is_created_read_updated_reverted_and_deleted(editor: Editor) -> None:
    editor.apply(create_campaign(fields()), "ada")
    campaign = get_campaign(editor.kg, "spring-yoga")
    assert campaign.products == ("P0258", "P0260") and campaign.start == date(2026, 3, 1) and campaign.holdout is None
    assert campaign.is_active(TODAY) and campaign.status(date(2026, 2, 1)) == "scheduled"
    assert campaign.status(date(2026, 4, 1)) == "ended" and list_campaigns(editor.kg) == [campaign]
    with pytest.raises(EditConflict):
        editor.apply(create_campaign(fields()), "ada")  # the id exists
    changed = editor.apply(update_campaign(editor.kg, "spring-yoga", {"holdout": "25%", "message": "25% off"}), "ada")
    assert get_campaign(editor.kg, "spring-yoga").holdout == Decimal("0.25")
    editor.revert(changed.record.id, "ada")
    assert get_campaign(editor.kg, "spring-yoga") == campaign
    deleted = editor.apply(delete_campaign(editor.kg, "spring-yoga"), "ada")
    assert get_campaign(editor.kg, "spring-yoga") is None
    editor.revert(deleted.record.id, "ada")  # undo the deletion
    assert get_campaign(editor.kg, "spring-yoga") == campaign


@pytest.mark.parametrize(("bad", "problem"), [
    ({"products": "P0258, P9999"}, "prod:P9999 is not a known schema:Product"),
    ({"holdout": "0.95"}, "holdoutShare"),
    ({"message": ""}, "shop:message: missing"),
    ({"products": ", ".join(f"P{n:04d}" for n in range(258, 271))}, "at most 12"),
])
def test_the_shapes_refuse_a_bad_campaign(editor: Editor, bad: dict, problem: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        editor.apply(create_campaign(fields(**bad)), "ada")
    assert any(problem in p for p in refused.value.problems), refused.value.problems
    assert get_campaign(editor.kg, "spring-yoga") is None


@pytest.mark.parametrize("bad", [{"start": "1 March"}, {"end": "2026-02-30"}, {"products": "yoga mat"},
                                 {"holdout": "a tenth"}, {"start": "2026-04-01"}, {"id": "Spring Yoga"}, {"colour": "red"}])
def test_malformed_fields_are_refused_before_anything_is_built(bad: dict) -> None:
    with pytest.raises(ValueError):
        create_campaign(fields(**bad))


def test_deleting_a_featured_product_takes_it_out_of_the_campaign_but_never_the_last(editor: Editor) -> None:
    editor.apply(create_campaign(fields()), "ada")
    editor.apply(delete_product(editor.kg, "P0258"), "ada")
    assert get_campaign(editor.kg, "spring-yoga").products == ("P0260",)
    with pytest.raises(ValidationFailed) as refused:
        editor.apply(delete_product(editor.kg, "P0260"), "ada")
    assert any("campaign:spring-yoga shop:featuredProduct" in p for p in refused.value.problems)


def test_segment_names_and_their_leading_parts_are_targeted() -> None:
    assert targets("Bargain hunters", SEGMENT) and targets("bargain  HUNTERS", "Bargain hunters, recent #2")
    assert targets(SEGMENT, SEGMENT) and not targets("Bargain", SEGMENT) and not targets("", SEGMENT)


def test_the_hold_out_is_stable_and_near_its_share() -> None:
    held = [in_control("spring-yoga", f"C{n:05d}", 0.1) for n in range(5000)]
    assert 0.08 < sum(held) / len(held) < 0.12
    assert held == [in_control("spring-yoga", f"C{n:05d}", 0.1) for n in range(5000)]
    assert not any(in_control("spring-yoga", f"C{n:05d}", 0.0) for n in range(100))


def test_offers_go_to_the_segment_with_the_control_group_held_out(editor: Editor, db: ShopDB) -> None:
    editor.apply(create_campaign(fields(holdout="0.5")), "ada")
    offers = {f"C{n:04d}": offer_for(editor.kg, db, f"C{n:04d}", TODAY, 0.1) for n in range(40)}
    targeted = {c: o for c, o in offers.items() if o is not None}
    assert set(targeted) == {f"C{n:04d}" for n in range(0, 40, 2)}  # only the segment's members
    assert {o.control for o in targeted.values()} == {True, False}
    assert all(o.control == in_control("spring-yoga", c, 0.5) for c, o in targeted.items())
    assert offer_for(editor.kg, db, "C0000", date(2026, 4, 1)) is None  # ended
    assert offer_for(editor.kg, db, None, TODAY) is None and offer_for(editor.kg, db, "C9999", TODAY) is None

    shown = next(o for o in targeted.values() if not o.control)
    customer = next(c for c, o in targeted.items() if o is shown)
    assert record_exposure(db, shown, customer, "s1", products=("P0258", "P0260"))
    assert not record_exposure(db, shown, customer, "s1")  # once per conversation
    assert [e["kind"] for e in events(db, campaign_id="spring-yoga")] == ["campaign_shown"] * 2


def test_stats_per_segment_and_arm_with_a_chart(editor: Editor, db: ShopDB) -> None:
    editor.apply(create_campaign(fields(holdout="0.5")), "ada")
    campaign = get_campaign(editor.kg, "spring-yoga")
    members = [f"C{n:04d}" for n in range(0, 40, 2)]
    shown = [c for c in members if not in_control("spring-yoga", c, 0.5)]
    held = [c for c in members if in_control("spring-yoga", c, 0.5)]
    at = datetime(2026, 3, 5, 12)
    record_events(db, [Event("campaign_click", product_id="P0258", customer_id=shown[0], session_id="a", at=at),
                       Event("view", product_id="P0260", customer_id=held[0], session_id="b", at=at),
                       Event("view", product_id="P0001", customer_id=held[1], session_id="c", at=at),  # not featured
                       Event("view", product_id="P0258", customer_id=shown[1], session_id="d",
                             at=datetime(2026, 2, 1))])  # before the campaign
    with db.session() as session:
        for number, (customer, placed) in enumerate([(shown[0], at), (held[0], datetime(2026, 4, 2))]):
            session.add(Order(id=f"SB-90000{number}", customer_id=customer, placed_at=placed, status="delivered",
                              shipping_address="x", shipping_option="standard", total=Decimal("40")))
            session.add(OrderLine(order_id=f"SB-90000{number}", product_id="P0258", product_name="mat", quantity=2,
                                  unit_price=Decimal("20")))
        session.commit()
    rows = {(r.segment, r.arm): r for r in campaign_stats(db, campaign, 0.1, today=date(2026, 4, 10))}
    assert set(rows) == {(SEGMENT, SHOWN), (SEGMENT, CONTROL), ("Steady shoppers", OTHER)}
    assert rows[(SEGMENT, SHOWN)].members == len(shown) and rows[(SEGMENT, CONTROL)].members == len(held)
    assert (rows[(SEGMENT, SHOWN)].clickers, rows[(SEGMENT, SHOWN)].buyers, rows[(SEGMENT, SHOWN)].units) == (1, 1, 2)
    assert (rows[(SEGMENT, CONTROL)].clickers, rows[(SEGMENT, CONTROL)].buyers) == (1, 0)  # bought after the end
    assert rows[("Steady shoppers", OTHER)].members == 20 and rows[(SEGMENT, SHOWN)].purchase_rate == 1 / len(shown)
    chart = campaign_chart(list(rows.values()), "Spring yoga")
    assert chart.startswith("data:image/png;base64,") and len(chart) > 1000

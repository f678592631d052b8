"""Conversations about recommendations against the real model, action server, graph and shop database:
segment picks for shoppers with no or little history, budgets honoured, live behaviour in the interaction
log, and a campaign shown to its segment but not to its control group."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterator

import pytest
from sqlalchemy import func, select

from bot.testing import DEMO, Chat, runtime
from knowledge.campaigns import create_campaign, in_control
from knowledge.editing import Editor
from knowledge.products import all_product_ids, get_product, get_products
from knowledge.recommend.shop import purchased, shopper_label
from knowledge.segments import customer_segments, segment_of
from knowledge.shop import Shop
from knowledge.shopdb.behaviour import events
from knowledge.shopdb.engine import ShopDB, connect
from knowledge.shopdb.models import Customer, Interaction
from knowledge.shopdb.staff import add_staff

pytestmark = [pytest.mark.slow]
PICK = re.compile(r"^\d+\. (?P<name>.+) – \$(?P<price>[\d,]+\.\d\d) \((?P<reason>.+)\)$", re.M)


@pytest.fixture
def db() -> Iterator[ShopDB]:
    """The conversation runtime's shop database (reset by every new conversation)."""
    shop = connect(runtime().settings.database_url)
    yield shop
    shop.dispose()


def kg():  # noqa: ANN201 - the runtime's graph
    return Shop.from_settings(runtime().settings).kg


def picks(text: str) -> list[dict[str, str]]:
    return [m.groupdict() for m in PICK.finditer(text)]


def new_customer(db: ShopDB, customer_id: str = "C9999") -> str:
    """A customer who just signed up: no orders, no interactions, no stored segment."""
    with db.session() as session:
        session.add(Customer(id=customer_id, name="New Shopper", email="new.shopper@example.com",
                             created_at=datetime.utcnow(), address="9 New Street"))
        session.commit()
    return customer_id


def light_customer(db: ShopDB) -> str:
    """A customer with a stored segment and fewer than three products in their history."""
    stored = customer_segments(db)
    with db.session() as session:
        rows = session.execute(select(Interaction.customer_id, func.count(func.distinct(Interaction.product_id)))
                               .group_by(Interaction.customer_id))
        counts = {customer: int(count) for customer, count in rows}
    light = sorted(c for c in stored if counts.get(c, 0) < 3)
    if not light:
        pytest.skip("the generated shop has no customer with little history")
    return light[0]


def test_a_customer_with_no_history_gets_segment_picks_after_a_few_views(db: ShopDB) -> None:
    chat = Chat(runtime())
    customer = new_customer(db)
    assert segment_of(db, customer) is None
    metadata = {"customer_id": customer}
    for name in ("trailblazer 2", "sonic 3 mini", "stormshell 4"):
        chat.say(f"tell me about the {name}", metadata=metadata)
    reply = chat.say("what would you recommend?", metadata=metadata)
    found = picks(reply.text)
    assert found, reply.text
    reasons = {p["reason"] for p in found}
    assert len(reasons) == 1 and re.fullmatch(r"popular with .+ like you", reasons.pop()), reply.text
    segments = {shopper_label(name) for name in customer_segments(db).values()}
    assert any(f"popular with {name} like you" == found[0]["reason"] for name in segments)
    assert len(reply.cards) == len(found)


def test_a_customer_with_little_history_gets_their_segments_picks(db: ShopDB) -> None:
    chat = Chat(runtime())
    customer = light_customer(db)
    segment = segment_of(db, customer)
    reply = chat.say("any recommendations for me?", metadata={"customer_id": customer})
    found = picks(reply.text)
    assert found and all(p["reason"] == f"popular with {shopper_label(segment.name)} like you" for p in found), reply.text
    bought = {get_product(kg(), pid).name for pid in purchased(db, customer) if get_product(kg(), pid)}
    assert not bought & {p["name"] for p in found}


@pytest.mark.parametrize("customer", ["C0001", None])
def test_a_budget_request_returns_products_under_it(db: ShopDB, customer: str) -> None:
    chat = Chat(runtime(), metadata={"customer_id": customer} if customer else None)
    reply = chat.say("can you recommend something under $30?")
    found = picks(reply.text)
    affordable = [p for p in get_products(kg(), all_product_ids(kg())) if p.in_stock and p.price <= 30]
    bought = set(purchased(db, customer)) if customer else set()
    assert len(found) == min(3, len([p for p in affordable if p.id not in bought])) > 0, reply.text
    assert all(Decimal(p["price"].replace(",", "")) <= 30 for p in found)
    assert all(Decimal(card["price"]) <= 30 for card in reply.cards)


def test_cheaper_than_a_named_product(db: ShopDB) -> None:
    chat = Chat(runtime(), metadata={"customer_id": "C0001"})
    hero = get_product(kg(), "P0001")
    reply = chat.say("recommend something cheaper than the trailblazer 2")
    found = picks(reply.text)
    assert found and all(Decimal(p["price"]) < hero.price for p in found), reply.text
    assert hero.name not in {p["name"] for p in found}


def test_an_impossible_request_says_nothing_fits() -> None:
    chat = Chat(runtime(), metadata={"customer_id": "C0001"})
    reply = chat.say("recommend some headphones under $1")
    assert "nothing in stock fits" in reply.text and not reply.cards


def test_products_viewed_in_the_chat_are_in_the_interaction_log(db: ShopDB) -> None:
    guest = Chat(runtime())
    chat = Chat(runtime(), metadata={"customer_id": "C0002"})  # a new conversation resets the database: talk after
    chat.say("how much is the trailblazer 2?")
    chat.say('/ask_product_info{"product": "P0002"}')  # "Tell me more" on a card
    guest.say("is the sonic 3 mini in stock?")
    logged = [(e["kind"], e["product_id"], e["customer_id"], e["session_id"]) for e in events(db)]
    assert ("view", "P0001", "C0002", chat.sender) in logged
    assert ("info", "P0002", "C0002", chat.sender) in logged
    sonic = next(pid for pid in all_product_ids(kg()) if get_product(kg(), pid).name == "Sonic 3 Mini Headphones")
    assert ("view", sonic, None, guest.sender) in logged  # a guest is known by the conversation
    reply = chat.say("what would you recommend?")
    shown = {e["product_id"] for e in events(db, kinds=("rec_shown",)) if e["session_id"] == chat.sender}
    assert shown == {card["id"] for card in reply.cards}


@pytest.fixture
def graph_put_back() -> Iterator[None]:
    """Load the demo graph again after a test that edited it (conversations otherwise keep the loaded graph)."""
    yield
    runtime().use_graph(DEMO, force=True)


def _campaign_for(db: ShopDB, segment: str, products: tuple[str, ...]) -> str:
    """A running campaign for the segment, half held out, written through the staff editor (SHACL, audit)."""
    add_staff(db, "campaigner", "a long test password", "editor")
    change = create_campaign({
        "id": "test-offer", "name": "Test offer", "segment": segment, "message": "Just for you: 15% off these picks",
        "products": ", ".join(products), "start": str(date.today() - timedelta(days=1)),
        "end": str(date.today() + timedelta(days=7)), "holdout": "0.5",
    })
    Editor(kg(), db).apply(change, "campaigner")
    return "test-offer"


def test_a_campaign_appears_for_its_segment_and_not_for_the_control_group(db: ShopDB, graph_put_back: None) -> None:
    stored = customer_segments(db)
    segment = stored["C0001"]
    members = sorted(c for c, s in stored.items() if s == segment)
    shown = next(c for c in members if not in_control("test-offer", c, 0.5))
    held = next(c for c in members if in_control("test-offer", c, 0.5))
    products = tuple(p.id for p in get_products(kg(), all_product_ids(kg())) if p.in_stock)[:2]
    other = next(c for c, s in sorted(stored.items()) if s != segment)

    chat = Chat(runtime(), metadata={"customer_id": shown})
    campaign = _campaign_for(db, segment, products)
    reply = chat.say("what would you recommend?")
    assert "Just for you: 15% off these picks" in reply.text
    campaign_cards = [card for card in reply.cards if card.get("reason") == "Test offer"]
    assert {card["id"] for card in campaign_cards} == set(products)
    assert all('"campaign": "test-offer"' in b["payload"] for card in campaign_cards for b in card["buttons"]
               if b["title"] == "Tell me more")
    assert picks(reply.text)  # the suggestions still follow
    clicked = chat.say(next(b["payload"] for b in campaign_cards[0]["buttons"] if b["title"] == "Tell me more"))
    assert get_product(kg(), products[0]).name in clicked.text
    kinds = [(e["kind"], e["customer_id"]) for e in events(db, campaign_id=campaign)]
    assert ("campaign_shown", shown) in kinds and ("campaign_click", shown) in kinds
    again = chat.say("any other recommendations?")
    assert "Just for you" not in again.text  # once per conversation

    chat = Chat(runtime(), metadata={"customer_id": held})  # the campaign is still in the graph
    reply = chat.say("what would you recommend?")
    assert "Just for you" not in reply.text and not any(c.get("reason") == "Test offer" for c in reply.cards)
    assert picks(reply.text)
    assert ("campaign_held_out", held) in [(e["kind"], e["customer_id"]) for e in events(db, campaign_id=campaign)]

    chat = Chat(runtime(), metadata={"customer_id": other})
    reply = chat.say("what would you recommend?")
    assert "Just for you" not in reply.text and events(db, campaign_id=campaign) == []

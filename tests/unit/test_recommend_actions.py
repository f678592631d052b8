"""The recommendation action in process, with tracker fixtures: picks that fit the request, with reasons and
cards, from the model the context trains in its own var dir on the generated shop database and the demo graph."""

from __future__ import annotations

from decimal import Decimal

from actions.context import ActionContext
from actions.recommend import ActionRecommend
from bot.nlu.shopping_terms import shopping_terms
from knowledge.products import get_product
from knowledge.recommend.shop import purchased
from knowledge.shopdb.behaviour import recent_shown
from knowledge.shopdb.engine import ShopDB
from knowledge.sparql import OxigraphStoreClient
from tests.actions import run, said, slots, tracker


def recommendation_terms(text: str) -> list[dict]:
    """The entities the NLU's shopping-terms component tags in a recommendation request."""
    return shopping_terms(text, [], "ask_recommendation")


def carousel(messages: list[dict]) -> list[dict]:
    """The cards of the carousel the bot showed."""
    return next(m["custom"]["cards"] for m in messages if (m.get("custom") or {}).get("type") == "carousel")


def test_a_customer_gets_numbered_picks_with_reasons_from_the_contexts_own_model(
    action_context: ActionContext, shop_db: ShopDB
) -> None:
    model = action_context.settings.recommender_file
    assert not model.exists()
    messages, events = run(ActionRecommend(), tracker("what would you recommend?", "ask_recommendation",
                                                      customer="C0001", sender="picks-1"))
    assert model.exists()  # trained on first use, in the context's var dir
    lines = said(messages).splitlines()
    cards = carousel(messages)
    assert lines[0] == "Here are some picks for you:" and len(lines) == 1 + len(cards) == 4
    numbered = enumerate(zip(lines[1:], cards), 1)
    assert all(line.startswith(f"{n}. {card['title']} – $") for n, (line, card) in numbered)
    assert all(card["reason"] and f"({card['reason']})" in line for line, card in zip(lines[1:], cards))
    shown = [card["id"] for card in cards]
    assert not set(shown) & set(purchased(shop_db, "C0001"))
    assert slots(events) == {"shown_products": shown, "product_id": None}
    assert [product for product, _ in recent_shown(shop_db, "picks-1")] == shown[::-1]  # newest first


def test_a_budget_in_the_message_bounds_every_pick(trained_context: ActionContext) -> None:
    text = "recommend something under $40"
    asked = tracker(text, "ask_recommendation", recommendation_terms(text), customer="C0002")
    messages, _ = run(ActionRecommend(), asked)
    prices = [Decimal(card["price"]) for card in carousel(messages)]
    assert prices and max(prices) <= 40


def test_a_guest_looking_at_a_product_gets_picks_like_it(trained_context: ActionContext,
                                                         memory_kg: OxigraphStoreClient) -> None:
    focus = get_product(memory_kg, "P0001")
    messages, events = run(ActionRecommend(), tracker("what would you recommend?", "ask_recommendation",
                                                      slots={"product_id": "P0001"}, sender="guest-1"))
    assert f"shoppers who liked the {focus.name} also liked this" in said(messages)
    assert "P0001" not in slots(events)["shown_products"]


def test_nothing_that_fits_is_said_plainly(trained_context: ActionContext) -> None:
    text = "recommend something under $1"
    messages, events = run(ActionRecommend(), tracker(text, "ask_recommendation", recommendation_terms(text)))
    assert said(messages).startswith("Sorry, nothing in stock fits ") and "$1.00" in said(messages)
    assert events == []

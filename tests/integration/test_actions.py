"""The product actions, run in process against a real Oxigraph server holding the demo store."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Iterator

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import use_context
from actions.products import (
    ActionCheckAvailability,
    ActionCompareProducts,
    ActionProductInfo,
    ActionProductPrice,
    ActionSearchProducts,
)
from bot.nlu.shopping_terms import shopping_terms
from knowledge.products import get_product
from knowledge.refinement import PAGE
from knowledge.sparql import render
from tests.conftest import SparqlServer
from tests.oracles import faceted_search, products


@pytest.fixture(autouse=True)
def shop_on_server(sparql_server: SparqlServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the actions' shop at the test server."""
    monkeypatch.setenv("SPARQL_QUERY_URL", sparql_server.query_url)
    monkeypatch.setenv("SPARQL_UPDATE_URL", sparql_server.update_url)
    monkeypatch.setenv("KG_CACHE_SECONDS", "0")
    use_context(None)
    yield
    use_context(None)


def tracker(text: str, intent: str, entities: list[dict[str, Any]] = (), **slots: Any) -> Tracker:
    """A tracker whose latest message is ``text`` with this intent and these entities."""
    return Tracker(
        sender_id="test",
        slots=dict(slots),
        latest_message={"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": list(entities)},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action, track: Tracker) -> tuple[list[dict[str, Any]], list]:  # a rasa_sdk Action
    """Run an action; return what it said and the events it returned."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, {}))
    return dispatcher.messages, events


def texts(messages: list[dict[str, Any]]) -> str:
    """Everything the bot said, as one string."""
    return "\n".join(m.get("text") or "" for m in messages)


def product(name: str) -> dict[str, str]:
    """A product entity."""
    return {"entity": "product", "value": name}


def test_price_comes_from_the_graph_and_sets_the_focus(kg) -> None:
    messages, events = run(ActionProductPrice(),
                           tracker("how much is the trailblazer 2", "ask_price", [product("trailblazer 2")]))
    price = get_product(kg, "P0001").price
    assert f"${price:.2f}" in texts(messages)
    card = next(m["custom"] for m in messages if m.get("custom"))
    assert card["type"] == "product_card" and card["card"]["id"] == "P0001" and card["card"]["price"] == str(price)
    assert card["card"]["image_url"].endswith("/static/products/P0001.svg")
    assert [b["title"] for b in card["card"]["buttons"]] == ["Tell me more", "Similar items"]
    assert SlotSet("product_id", "P0001") in events


def test_follow_up_question_uses_the_product_in_focus() -> None:
    messages, _ = run(ActionProductPrice(), tracker("how much is it?", "ask_price", product_id="P0001"))
    assert "Trailblazer 2 GTX Running Shoe costs $129.00" in texts(messages)


def test_ambiguous_mention_asks_which_one_with_buttons() -> None:
    messages, events = run(ActionProductInfo(),
                           tracker("tell me about the trailblazer", "ask_product_info", [product("the trailblazer")]))
    assert "Which one" in texts(messages)
    buttons = messages[0]["buttons"]
    assert len(buttons) >= 2 and all(b["payload"].startswith("/ask_product_info{") for b in buttons)
    assert all("Trailblazer" in b["title"] for b in buttons)
    assert events == []


def test_typo_is_resolved_to_the_product() -> None:
    messages, _ = run(ActionProductPrice(), tracker("how much is the velocty 3 pro", "ask_price", [product("velocty 3 pro")]))
    assert "Velocity 3 Pro Running Shoe costs" in texts(messages)


def test_unknown_product_gets_a_polite_answer_and_no_focus() -> None:
    messages, events = run(ActionProductPrice(), tracker("how much is the zorblax", "ask_price", [product("zorblax")]))
    assert "couldn't find" in texts(messages)
    assert events == []


@pytest.mark.parametrize(
    "text, entities, expected",
    [
        ("does it come in blue?", [{"entity": "color", "value": "blue"}], "doesn't come in blue. It comes in black and red"),
        ("does it come in red?", [{"entity": "color", "value": "red"}], "Yes, the Trailblazer 2 GTX Running Shoe comes in red"),
        ("what is it made of?", [], "is made of mesh"),
        ("what sizes does it come in", [{"entity": "attribute", "value": "sizes"}], "sizes 6, 7, 8, 9, 10, 11 and 12"),
        ("who makes it", [{"entity": "attribute", "value": "brand"}], "made by Stridewell"),
        ("do you have it in size 9", [{"entity": "size", "value": "9"}], "comes in size 9"),
    ],
)
def test_attribute_questions_about_the_product_in_focus(text: str, entities: list, expected: str) -> None:
    messages, _ = run(ActionProductInfo(), tracker(text, "ask_product_info", entities, product_id="P0001"))
    assert expected in texts(messages)


def test_attribute_word_inside_a_product_name_is_not_a_question_about_it() -> None:
    text = "tell me about the Percolo 5 Espresso Coffee Maker"
    name = {"entity": "product", "value": text[18:], "start": 18, "end": len(text)}
    messages, _ = run(ActionProductInfo(), tracker(text, "ask_product_info", [name]))
    assert "made by" not in texts(messages)  # "Maker" is part of the name, not a question about the brand
    assert "Percolo 5 Espresso" in texts(messages) and any(m.get("custom") for m in messages)


def test_availability_states_the_stock_level(kg) -> None:
    messages, _ = run(ActionCheckAvailability(), tracker("is it in stock?", "check_availability", product_id="P0001"))
    assert f"in stock ({get_product(kg, 'P0001').stock} available)" in texts(messages)


def test_out_of_stock_offers_similar_items(kg) -> None:
    rows = kg.select(render("SELECT ?id WHERE { ?p schema:productID ?id ; shop:stockLevel 0 } ORDER BY ?id LIMIT 1"))
    sold_out = str(rows[0]["id"])
    messages, _ = run(ActionCheckAvailability(), tracker("is it in stock", "check_availability", product_id=sold_out))
    assert "out of stock" in texts(messages)
    assert messages[0]["buttons"][0]["payload"] == f'/search_products{{"product": "{sold_out}"}}'


def test_faceted_search_returns_only_matching_products(catalog_graph) -> None:
    entities = [
        {"entity": "color", "value": "red"},
        {"entity": "category", "value": "running shoes"},
        {"entity": "price", "role": "max", "value": "100"},
    ]
    messages, _ = run(ActionSearchProducts(), tracker("red running shoes under 100", "search_products", entities))
    carousel = next(m["custom"] for m in messages if m.get("custom"))
    assert carousel["type"] == "carousel" and carousel["cards"]
    # every facet, the colour too, checked against the catalog's triples walked in Python
    expected = faceted_search(catalog_graph, category="running shoes", color="red", max_price=Decimal(100))
    assert [c["id"] for c in carousel["cards"]] == [p.id for p in expected[:PAGE]]
    colours = {p.id: p.colors for p in products(catalog_graph)}
    for card in carousel["cards"]:
        assert Decimal(card["price"]) <= 100 and "Running Shoes" in card["subtitle"] and "red" in colours[card["id"]]
    assert "red running shoes under $100.00" in texts(messages)


def test_search_reads_price_and_sort_from_the_nlu_entities() -> None:
    text = "cheapest headphones under 60 dollars"
    entities = [{"entity": "category", "value": "headphones", "start": 9, "end": 19}]
    entities += shopping_terms(text, entities, "search_products")  # what the NLU component adds
    messages, _ = run(ActionSearchProducts(), tracker(text, "search_products", entities))
    prices = [Decimal(c["price"]) for c in next(m["custom"] for m in messages if m.get("custom"))["cards"]]
    assert prices == sorted(prices) and max(prices) <= 60


def test_similar_items_button_finds_other_products_of_the_same_category() -> None:
    messages, _ = run(ActionSearchProducts(),
                      tracker('/search_products{"product": "P0001"}', "search_products", [product("P0001")]))
    cards = next(m["custom"] for m in messages if m.get("custom"))["cards"]
    assert cards and all(c["id"] != "P0001" and "Running Shoes" in c["subtitle"] for c in cards)


def test_search_with_no_results_says_so() -> None:
    entities = [{"entity": "category", "value": "yoga mats"}, {"entity": "price", "role": "max", "value": "1"}]
    messages, _ = run(ActionSearchProducts(), tracker("yoga mats under 1", "search_products", entities))
    assert "couldn't find any" in texts(messages)


def test_compare_two_products(kg) -> None:
    entities = [product("trailblazer 2"), product("velocity 3 pro")]
    messages, _ = run(ActionCompareProducts(), tracker("compare", "compare_products", entities))
    said = texts(messages)
    assert "Trailblazer 2 GTX Running Shoe vs Velocity 3 Pro Running Shoe" in said
    assert "- price: $129.00 vs" in said and "is the cheaper one" in said


def test_hostile_mention_leaves_the_graph_unchanged(kg) -> None:
    from knowledge.products import count_triples

    before = count_triples(kg)
    hostile = 'x" } ; DROP ALL ; #'
    messages, _ = run(ActionProductPrice(), tracker(f"how much is the {hostile}", "ask_price", [product(hostile)]))
    assert "couldn't find" in texts(messages)
    assert count_triples(kg) == before


def test_graph_down_gets_an_apology(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.services import free_port

    monkeypatch.setenv("SPARQL_QUERY_URL", f"http://127.0.0.1:{free_port()}/query")
    use_context(None)
    messages, events = run(ActionProductPrice(),
                           tracker("how much is the trailblazer 2", "ask_price", [product("trailblazer 2")]))
    assert [m.get("response") for m in messages] == ["utter_kg_unavailable"]
    assert events == []

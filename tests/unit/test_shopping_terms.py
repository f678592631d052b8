"""Unit tests of bot.nlu.shopping_terms: the words of a shopping conversation tagged as entities."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.shopping_terms import ShoppingTermExtractor, exclusions, shopping_terms, words_of
from knowledge.facets import decimal_of
from knowledge.references import ordinal_positions


def tags(text: str, entities: Optional[list[dict[str, Any]]] = None,
         intent: str = "search_products") -> list[tuple[str, Optional[str], str, str]]:
    """(entity, role, value, the words tagged) for each shopping term of a message."""
    found = shopping_terms(text, entities or [], intent)
    return [(e["entity"], e.get("role"), e["value"], text[e["start"]:e["end"]]) for e in found]


def of_kind(text: str, kind: str, entities: Optional[list[dict[str, Any]]] = None) -> list[tuple]:
    """The (role, value) of each term of one kind."""
    return [(role, value) for entity, role, value, _ in tags(text, entities) if entity == kind]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("tell me more about the second one", "2"),
        ("how much is the 3rd?", "3"),
        ("what about #4", "4"),
        ("is number 2 in stock", "2"),
        ("no. 3 please", "3"),
        ("compare the first two", "1..2"),
        ("the last 3", "-3..-1"),
        ("top 3 please", "1..3"),
        ("the last one please", "-1"),
        ("and the other one?", "other"),
        ("the former", "1"),
        ("tell me about the fifth", "5"),
        ("what's option 2 made of", "2"),
        ("number two", "2"),
        ("the second in the list", "2"),
        ("first one", "1"),
    ],
)
def test_ordinals(text: str, value: str) -> None:
    assert of_kind(text, "ordinal") == [(None, value)]
    assert ordinal_positions(value).places or ordinal_positions(value).other  # knowledge reads every value


@pytest.mark.parametrize(
    "text",
    [
        "is this good for a first marathon",
        "my last order never came",
        "for the first time",
        "i want other brands",
        "the trailblazer 2",
        "size 10 please",
        "one of your jackets",
        "number 2 dollars",
        "second hand shoes",
    ],
)
def test_not_ordinals(text: str) -> None:
    entities = [{"entity": "product", "start": 4, "end": 17, "value": "trailblazer 2"}] if "trailblazer" in text else []
    assert of_kind(text, "ordinal", entities) == []


@pytest.mark.parametrize(
    ("text", "prices"),
    [
        ("red running shoes under 100", [("max", "100")]),
        ("anything below $50?", [("max", "50")]),
        ("less than 80 bucks", [("max", "80")]),
        ("between 50 and 80", [("min", "50"), ("max", "80")]),
        ("between 80 and 50", [("min", "50"), ("max", "80")]),
        ("from 30 to 60", [("min", "30"), ("max", "60")]),
        ("20-40 dollars", [("min", "20"), ("max", "40")]),
        ("$50-$80 headphones", [("min", "50"), ("max", "80")]),
        ("over 200", [("min", "200")]),
        ("at least 10 but no more than 25.50", [("min", "10"), ("max", "25.50")]),
        ("under $1,000", [("max", "1000")]),
        ("100 or more", [("min", "100")]),
        ("80 max", [("max", "80")]),
        ("cheaper than 50", [("max", "50")]),
        ("something around $80", [("min", "64.00"), ("max", "96.00")]),
        ("a $60 jacket", [("max", "60")]),
        ("my budget is 50 bucks", [("max", "50")]),
        ("up to 1.5k", [("max", "1500")]),
        ("no price here", []),
        ("44mm watch", []),
        ("50ml cream", []),
        ("size 10 shoes", []),
        ("the 20L backpack", []),
        ("", []),
    ],
)
def test_prices(text: str, prices: list[tuple[str, str]]) -> None:
    found = of_kind(text, "price")
    assert [(role, decimal_of(value)) for role, value in found] == [(role, Decimal(v)) for role, v in prices]


def test_price_qualifiers_are_not_read_twice() -> None:
    assert of_kind("cheaper than 50", "price_change") == []
    assert of_kind("cheaper than 50", "sort") == []


def test_order_numbers_and_product_names_hold_no_prices() -> None:
    text = "where is SB-100002, the trailblazer 2"
    entities = [{"entity": "order_id", "start": 9, "end": 18, "value": "SB-100002"},
                {"entity": "product", "start": 24, "end": 37, "value": "trailblazer 2"}]
    assert of_kind(text, "price", entities) == [] and of_kind(text, "ordinal", entities) == []


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("which is the cheapest?", "sort", "price_asc"),
        ("show me the least expensive", "sort", "price_asc"),
        ("the most expensive one", "sort", "price_desc"),
        ("your priciest jacket", "sort", "price_desc"),
        ("which is the best rated?", "sort", "rating"),
        ("top-rated headphones", "sort", "rating"),
        ("what's popular", "sort", "rating"),
        ("the worst rated", "sort", "rating_asc"),
        ("which one is the lightest", "sort", "weight_asc"),
        ("which weighs the most", "sort", "weight_desc"),
        ("most reviewed please", "sort", "reviews"),
        ("anything cheaper?", "price_change", "lower"),
        ("something less expensive", "price_change", "lower"),
        ("something pricier", "price_change", "higher"),
        ("show me more expensive ones", "price_change", "higher"),
        ("in stock only", "stock", "in_stock"),
        ("only ones available now", "stock", "in_stock"),
        ("size 10", "size", "10"),
        ("in size M please", "size", "M"),
    ],
)
def test_words(text: str, kind: str, value: str) -> None:
    assert (None, value) in of_kind(text, kind)


@pytest.mark.parametrize(
    ("text", "entity", "excluded"),
    [
        ("not Peakform", "Peakform", True),
        ("anything but black", "black", True),
        ("no black ones", "black", True),
        ("nothing by Sunward please", "Sunward", True),
        ("I'd like Peakform, not Stridewell", "Stridewell", True),
        ("I'd like Peakform, not Stridewell", "Peakform", False),
        ("except for Caffeo", "Caffeo", True),
        ("not from the Auralux brand", "Auralux", True),
        ("just Glarestop", "Glarestop", False),
        ("black ones", "black", False),
    ],
)
def test_exclusions(text: str, entity: str, excluded: bool) -> None:
    start = text.index(entity)
    kind = "color" if entity.islower() else "brand"
    entities = [{"entity": kind, "start": start, "end": start + len(entity), "value": entity}]
    exclusions(entities, text)
    assert (entities[0].get("role") == "exclude") is excluded


def test_another_brand() -> None:
    assert of_kind("like the velocity 3 but from another brand", "brand") == [("exclude", "another")]
    assert of_kind("a different make please", "brand") == [("exclude", "another")]


@pytest.mark.parametrize(
    ("text", "keywords"),
    [
        ("a waterproof jacket for hiking", ["waterproof", "hiking"]),
        ("what about headphones with noise cancelling", ["noise cancelling"]),
        ("lightweight running shoes for racing", ["lightweight", "racing"]),
        ("gift for a runner", ["gift", "runner"]),
        ("show me the same in blue", []),
        ("anything cheaper?", []),
        ("red running shoes under 100", []),
    ],
)
def test_keywords(text: str, keywords: list[str]) -> None:
    entities = []
    for name in ("jacket", "headphones", "running shoes", "blue", "red"):
        if name in text:
            start = text.index(name)
            entities.append({"entity": "category" if name not in ("blue", "red") else "color",
                             "start": start, "end": start + len(name), "value": name})
    assert [value for _, value in of_kind(text, "keywords", entities)] == keywords


def test_keywords_only_for_searches() -> None:
    assert [e for e in tags("is it waterproof", intent="ask_product_info") if e[0] == "keywords"] == []


def test_spans_point_at_the_words() -> None:
    text = "Compare the FIRST two, then show me ones under $40"
    for _entity, _, _, words in tags(text):
        assert words.lower() in text.lower() and words.strip() == words


def test_long_hostile_input_is_bounded() -> None:
    text = ("under 1" * 3000) + ("9" * 20_000)
    found = shopping_terms(text, [], "search_products")
    assert all(e["end"] <= 5_000 for e in found)  # only the first 5,000 characters are read
    assert len(words_of("a" * 50_000)) == 1


def test_component_merges_with_learned_entities() -> None:
    message = Message({TEXT: "compare the second one with ones under 100",
                       INTENT: {"name": "compare_products", "confidence": 0.9},
                       ENTITIES: [{"entity": "price", "start": 39, "end": 42, "value": "100", "extractor": "CRF"},
                                  {"entity": "ordinal", "start": 12, "end": 18, "value": "second", "extractor": "CRF"}]})
    ShoppingTermExtractor().process([message])
    entities = {(e["entity"], e.get("role"), e["value"]) for e in message.get(ENTITIES)}
    assert entities == {("ordinal", None, "2"), ("price", "max", "100")}
    assert all(e.get("extractor") == "ShoppingTermExtractor" for e in message.get(ENTITIES))


def test_a_learned_product_guess_over_a_budget_gives_way() -> None:
    message = Message({TEXT: "yoga mats under 5 dollars", INTENT: {"name": "search_products", "confidence": 0.9},
                       ENTITIES: [{"entity": "category", "start": 0, "end": 9, "value": "yoga mats",
                                   "extractor": "GraphEntityMatcher"},
                                  {"entity": "product", "start": 10, "end": 17, "value": "under 5",
                                   "extractor": "CRFEntityExtractor"}]})
    ShoppingTermExtractor().process([message])
    entities = {(e["entity"], e.get("role"), e["value"]) for e in message.get(ENTITIES)}
    assert entities == {("category", None, "yoga mats"), ("price", "max", "5")}


def test_component_leaves_button_payloads_alone() -> None:
    message = Message({TEXT: '/ask_price{"product": "P0002"}', ENTITIES: []})
    ShoppingTermExtractor().process([message])
    assert message.get(ENTITIES) == []

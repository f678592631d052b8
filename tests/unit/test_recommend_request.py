"""Unit tests of knowledge.recommend.request: what a recommendation request asks for, and what fits it."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from typing import Optional

import pytest

from bot.nlu.shopping_terms import exclusions, shopping_terms
from knowledge.products import get_product
from knowledge.recommend.request import Request, descriptive_words, parse_request, product_stems, stem
from knowledge.sparql import OxigraphStoreClient
from knowledge.vocabulary import Vocabulary, load_vocabulary

D = Decimal


@pytest.fixture
def vocab(memory_kg: OxigraphStoreClient) -> Vocabulary:
    return load_vocabulary(memory_kg)


def entity(text: str, phrase: str, name: str, value: Optional[str] = None, role: Optional[str] = None) -> dict:
    """The entity an NLU pipeline would tag for ``phrase`` in ``text``."""
    start = text.lower().index(phrase.lower())
    found = {"entity": name, "value": value or phrase, "start": start, "end": start + len(phrase)}
    if role:
        found["role"] = role
    return found


def nlu(text: str, *entities: dict) -> list[dict]:
    """The catalog entities given plus what the NLU's shopping-terms component tags in a recommendation request."""
    found = [dict(e) for e in entities]
    exclusions(found, text)
    return found + shopping_terms(text, found, "ask_recommendation")


def resolver(kg: OxigraphStoreClient, names: dict[str, str]):  # noqa: ANN201 - a fixture-like helper returning a resolve function
    return lambda mention: get_product(kg, names[mention.lower()]) if mention.lower() in names else None


def test_budget_from_the_wording(vocab: Vocabulary) -> None:
    text = "recommend something under $30"
    request = parse_request(text, nlu(text), vocab)
    assert request.max_price == D("30") and request.min_price is None and request.words == ()


def test_budget_category_colour_and_brand_from_entities(vocab: Vocabulary) -> None:
    text = "suggest red running shoes by stridewell under 150"
    entities = nlu(text, entity(text, "red", "color"), entity(text, "running shoes", "category"),
                   entity(text, "stridewell", "brand"))
    request = parse_request(text, entities, vocab)
    assert (request.category, request.brand, request.color) == ("Running Shoes", "Stridewell", "red")
    assert request.max_price == D("150") and request.words == ()


def test_cheaper_than_a_named_product(memory_kg: OxigraphStoreClient, vocab: Vocabulary) -> None:
    text = "anything cheaper than the Trailblazer 2?"
    named = entity(text, "Trailblazer 2", "product", "trailblazer 2")
    stray = entity(text, "2", "price")  # a CRF may read the model number as a price: it must not become the budget
    names = {"trailblazer 2": "P0001", "the trailblazer 2": "P0001"}
    request = parse_request(text, nlu(text, named) + [stray], vocab, resolver(memory_kg, names))
    hero = get_product(memory_kg, "P0001")
    assert request.max_price == hero.price - D("0.01") and request.exclude == ("P0001",)
    assert request.compared_to == hero.name and "cheaper than the Trailblazer 2 GTX" in request.describe()


def test_cheaper_and_pricier_than_the_product_in_focus(memory_kg: OxigraphStoreClient, vocab: Vocabulary) -> None:
    focus = get_product(memory_kg, "P0001")
    def ask(text: str) -> Request:
        return parse_request(text, nlu(text), vocab, focus=focus)

    assert ask("something similar but cheaper").max_price == focus.price - D("0.01")
    pricier = ask("show me one more expensive than this")
    assert pricier.min_price == focus.price + D("0.01") and pricier.max_price is None
    assert ask("cheaper than $40 please").max_price == D("40")


def test_similar_refers_to_the_product_named_or_in_focus(memory_kg: OxigraphStoreClient, vocab: Vocabulary) -> None:
    focus = get_product(memory_kg, "P0001")
    assert parse_request("show me something similar", nlu("show me something similar"), vocab,
                         focus=focus).similar_to == "P0001"
    assert parse_request("what would you recommend?", nlu("what would you recommend?"), vocab,
                         focus=focus).similar_to is None


def test_descriptive_words_come_from_the_nlu_keywords(vocab: Vocabulary) -> None:
    text = "can you recommend some waterproof lightweight jackets under 100 for me please"
    request = parse_request(text, nlu(text, entity(text, "jackets", "category")), vocab)
    assert request.words == ("waterproof", "lightweight") and request.max_price == D("100")


def test_descriptive_words_leave_out_asking_words_names_and_budgets(vocab: Vocabulary) -> None:
    text = "can you recommend some waterproof lightweight jackets under 100 for me please"
    words = descriptive_words(text, [entity(text, "jackets", "category")], vocab)
    assert words == ("waterproof", "lightweight")
    assert descriptive_words("any gift ideas for my dad?", [], vocab) == ()
    assert descriptive_words("recommend red headphones", [], vocab) == ()  # untagged catalog names are facets


def test_matches_checks_every_wish_and_the_stock(memory_kg: OxigraphStoreClient) -> None:
    hero = get_product(memory_kg, "P0001")
    assert Request().matches(hero)
    assert Request(category="running shoes", color="RED", max_price=hero.price).matches(hero)
    assert not Request(max_price=hero.price - D("0.01")).matches(hero)
    assert not Request(brand="Northpeak").matches(hero)
    assert Request(words=(stem("waterproof"),)).matches(hero)
    assert not Request(words=("leather",)).matches(hero)
    assert not Request().matches(replace(hero, stock=0))
    assert not Request(exclude=("P0001",)).matches(hero)


def test_known_words_drop_words_no_product_uses(memory_kg: OxigraphStoreClient) -> None:
    hero = get_product(memory_kg, "P0001")
    request = Request(words=("waterproof", "birthday")).known_words(product_stems(hero))
    assert request.words == ("waterproof",)


def test_describe_reads_like_a_request() -> None:
    request = Request(category="Jackets", color="red", words=("waterproof",), max_price=D("30"), brand="Northpeak")
    assert request.describe() == "red waterproof jackets by Northpeak up to $30.00"
    assert re.search(r"between \$10\.00 and \$20\.00", Request(min_price=D(10), max_price=D(20)).describe())

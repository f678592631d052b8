"""Unit tests of knowledge.facets: prices, sort order and search facets from a shopper's request."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

import pytest

from knowledge.facets import facets_from, price_range, similar_to, sort_order
from knowledge.products import Product, get_product, search_products
from knowledge.sparql import OxigraphStoreClient
from knowledge.vocabulary import Vocabulary, load_vocabulary

D = Decimal


@pytest.fixture
def vocab(memory_kg: OxigraphStoreClient) -> Vocabulary:
    """The demo catalog's vocabulary."""
    return load_vocabulary(memory_kg)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("under 100", (None, D("100"))),
        ("anything below $50?", (None, D("50"))),
        ("less than 80 bucks", (None, D("80"))),
        ("between 50 and 80", (D("50"), D("80"))),
        ("between 80 and 50", (D("50"), D("80"))),
        ("from 30 to 60", (D("30"), D("60"))),
        ("20-40 dollars", (D("20"), D("40"))),
        ("over 200", (D("200"), None)),
        ("at least 10 but no more than 25.50", (D("10"), D("25.50"))),
        ("under 19.99", (None, D("19.99"))),
        ("no price here", (None, None)),
        ("the trailblazer 2", (None, None)),
        ("", (None, None)),
    ],
)
def test_price_range(text: str, expected: tuple[Optional[Decimal], Optional[Decimal]]) -> None:
    assert price_range(text) == expected


def test_price_range_with_thousands_separator() -> None:
    assert price_range("under $1,000") == (None, D("1000"))


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("show me the cheapest", "price_asc"),
        ("something affordable", "price_asc"),
        ("the most expensive one", "price_desc"),
        ("your priciest jacket", "price_desc"),
        ("best rated headphones", "rating"),
        ("what's popular", "rating"),
        ("red jackets please", None),
        ("", None),
    ],
)
def test_sort_order(text: str, order: Optional[str]) -> None:
    assert sort_order(text) == order


def test_facets_from_entities(vocab: Vocabulary) -> None:
    entities = [
        {"entity": "price", "role": "max", "value": "100"},
        {"entity": "category", "value": "sneakers"},
        {"entity": "color", "value": "Red"},
        {"entity": "brand", "value": "stridewell"},
    ]
    facets = facets_from(entities, "cheapest red sneakers from stridewell under 100", vocab, limit=7)
    assert facets.category == "Running Shoes"
    assert facets.color == "red"
    assert facets.brand == "Stridewell"
    assert facets.max_price == D("100") and facets.min_price is None
    assert facets.sort == "price_asc"
    assert facets.limit == 7
    assert not facets.is_empty()


def test_facets_from_entity_roles_win_over_wording(vocab: Vocabulary) -> None:
    entities = [{"entity": "price", "role": "min", "value": "40"}, {"entity": "price", "role": "max", "value": "$90"}]
    facets = facets_from(entities, "between 1 and 2", vocab)
    assert (facets.min_price, facets.max_price) == (D("40"), D("90"))


def test_facets_from_unnamed_price_is_a_ceiling(vocab: Vocabulary) -> None:
    facets = facets_from([{"entity": "price", "value": "60"}], "jackets for 60", vocab)
    assert (facets.min_price, facets.max_price) == (None, D("60"))


def test_facets_from_unknown_values_are_dropped(vocab: Vocabulary) -> None:
    entities = [
        {"entity": "category", "value": "spaceships"},
        {"entity": "color", "value": "   "},
        {"entity": "price", "role": "max", "value": "lots"},
        {"entity": "brand", "value": None},
    ]
    facets = facets_from(entities, "hello", vocab)
    assert facets.category is None and facets.color is None and facets.brand is None
    assert facets.max_price is None
    assert facets.is_empty()


def test_facets_from_wording_only(vocab: Vocabulary) -> None:
    facets = facets_from([], "show me something between 50 and 80, most expensive first", vocab)
    assert (facets.min_price, facets.max_price) == (D("50"), D("80"))
    assert facets.sort == "price_desc"
    assert facets.category is None


def test_facets_from_nothing(vocab: Vocabulary) -> None:
    facets = facets_from([], "hi there", vocab)
    assert facets.is_empty()
    assert facets.sort == "rating"
    assert facets.limit == 5
    assert not facets.in_stock and facets.exclude == ()


def test_similar_to(memory_kg: OxigraphStoreClient) -> None:
    product = get_product(memory_kg, "P0001")
    assert isinstance(product, Product)
    facets = similar_to(product, limit=10)
    assert facets.category == product.category
    assert facets.exclude == ("P0001",)
    assert facets.in_stock
    assert facets.min_price is not None and facets.max_price is not None
    assert facets.min_price < product.price < facets.max_price
    results = search_products(memory_kg, facets)
    assert results
    assert "P0001" not in [p.id for p in results]
    for other in results:
        assert other.category == product.category
        assert other.in_stock
        assert facets.min_price <= other.price <= facets.max_price

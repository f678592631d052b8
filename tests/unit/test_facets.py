"""Unit tests of knowledge.facets: what one message asks of a search, from its entities."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

import pytest

from knowledge.facets import SearchRequest, decimal_of, request_from, similar_to
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
    [("100", D("100")), ("$99.90", D("99.90")), ("1,200", D("1200")), ("99,90", D("99.90")), ("1.5k", D("1500")),
     (" 80 ", D("80")), ("lots", None), ("", None), ("-5", None), ("1e9", None), ("NaN", None)],
)
def test_decimal_of(text: str, expected: Optional[Decimal]) -> None:
    assert decimal_of(text) == expected


def test_request_from_entities(vocab: Vocabulary) -> None:
    entities = [
        {"entity": "price", "role": "max", "value": "100"},
        {"entity": "category", "value": "sneakers"},
        {"entity": "color", "value": "Red"},
        {"entity": "brand", "value": "stridewell"},
        {"entity": "sort", "value": "price_asc"},
        {"entity": "keywords", "value": "Waterproof"},
        {"entity": "stock", "value": "in_stock"},
    ]
    request = request_from(entities, vocab)
    assert request.category == "Running Shoes"
    assert request.color == "red"
    assert request.brand == "Stridewell"
    assert request.max_price == D("100") and request.min_price is None
    assert request.sort == "price_asc"
    assert request.keywords == ("waterproof",)
    assert request.in_stock
    assert request.names_facets() and not request.is_empty()


def test_request_from_roles(vocab: Vocabulary) -> None:
    entities = [{"entity": "price", "role": "min", "value": "90"}, {"entity": "price", "role": "max", "value": "$40"},
                {"entity": "brand", "role": "exclude", "value": "peakform"},
                {"entity": "color", "role": "exclude", "value": "Black"},
                {"entity": "price_change", "value": "lower"}]
    request = request_from(entities, vocab)
    assert (request.min_price, request.max_price) == (D("40"), D("90"))  # swapped into order
    assert request.exclude_brands == ("Peakform",) and request.brand is None
    assert request.exclude_colors == ("black",) and request.color is None
    assert request.price_change == "lower"
    assert not request.other_brand


def test_request_from_another_brand(vocab: Vocabulary) -> None:
    request = request_from([{"entity": "brand", "role": "exclude", "value": "another"}], vocab)
    assert request.other_brand and request.exclude_brands == ()


def test_request_from_unnamed_price_is_a_ceiling(vocab: Vocabulary) -> None:
    request = request_from([{"entity": "price", "value": "60"}], vocab)
    assert (request.min_price, request.max_price) == (None, D("60"))


def test_request_from_unknown_values_are_dropped(vocab: Vocabulary) -> None:
    entities = [
        {"entity": "category", "value": "spaceships"},
        {"entity": "color", "value": "   "},
        {"entity": "price", "role": "max", "value": "lots"},
        {"entity": "brand", "value": None},
        {"entity": "sort", "value": "DROP TABLE"},
        {"entity": "price_change", "value": "sideways"},
    ]
    request = request_from(entities, vocab)
    assert request.is_empty()


def test_request_from_nothing(vocab: Vocabulary) -> None:
    assert request_from([], vocab) == SearchRequest()


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

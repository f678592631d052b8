"""Unit tests of knowledge.products against a real SPARQL server holding the demo catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rdflib import Graph

from knowledge.namespaces import PRODUCT, SCHEMA, SHOP, product_id_of
from knowledge.products import (
    Product,
    SearchFacets,
    attribute_field,
    compare_products,
    count_products,
    count_triples,
    get_product,
    get_products,
    search_products,
)
from knowledge.sparql import HttpSparqlClient

HOSTILE = 'x" } ; DROP ALL ; #'


def _graph_facts(graph: Graph) -> dict[str, dict]:
    """Each product's facts straight from the rdflib graph, to check the SPARQL answers against."""
    facts: dict[str, dict] = {}
    for node in graph.subjects(predicate=SCHEMA.productID):
        offer = graph.value(node, SCHEMA.offers)
        facts[product_id_of(node)] = {
            "category": str(graph.value(graph.value(node, SCHEMA.category), SCHEMA.name)),
            "brand": str(graph.value(graph.value(node, SCHEMA.brand), SCHEMA.name)),
            "colors": {str(c) for c in graph.objects(node, SCHEMA.color)},
            "price": Decimal(str(graph.value(offer, SCHEMA.price))),
            "stock": int(graph.value(node, SHOP.stockLevel)),
        }
    return facts


@pytest.fixture(scope="module")
def graph_facts(catalog_graph: Graph) -> dict[str, dict]:
    """The catalog's product facts read with rdflib."""
    return _graph_facts(catalog_graph)


def test_get_product_hero(kg: HttpSparqlClient) -> None:
    product = get_product(kg, "P0001")
    assert isinstance(product, Product)
    assert product.id == "P0001"
    assert product.name == "Trailblazer 2 GTX Running Shoe"
    assert product.brand == "Stridewell"
    assert product.category == "Running Shoes"
    assert product.price == Decimal("129.00") and str(product.price) == "129.00"
    assert product.currency == "USD"
    assert product.colors == ("black", "red")
    assert product.material == "mesh"
    assert product.stock == 42 and product.in_stock
    assert product.sizes == ("6", "7", "8", "9", "10", "11", "12")
    assert "trailblazer 2" in product.alt_names
    assert product.image == "/static/products/P0001.svg"
    assert product.rating == Decimal("4.6") and product.review_count == 312
    assert product.description


def test_get_product_matches_the_catalog_graph(kg: HttpSparqlClient, catalog_graph: Graph) -> None:
    product = get_product(kg, "P0001")
    offer = catalog_graph.value(PRODUCT.P0001, SCHEMA.offers)
    assert product is not None
    assert product.price == catalog_graph.value(offer, SCHEMA.price).toPython()
    assert product.currency == str(catalog_graph.value(offer, SCHEMA.priceCurrency))
    assert product.name == str(catalog_graph.value(PRODUCT.P0001, SCHEMA.name))
    assert product.stock == catalog_graph.value(PRODUCT.P0001, SHOP.stockLevel).toPython()


@pytest.mark.parametrize(
    "product_id", ["P9999", "P0000", 'P1" }', "p0001", "", "P00", "P0001 ", HOSTILE, "P0001> ?x ?y . <x"]
)
def test_unknown_or_malformed_ids_give_nothing(kg: HttpSparqlClient, product_id: str) -> None:
    assert get_product(kg, product_id) is None
    assert get_products(kg, [product_id]) == []


def test_id_with_trailing_newline_gives_none(kg: HttpSparqlClient) -> None:
    assert get_product(kg, "P0001\n") is None


def test_get_products_keeps_the_asked_order_and_skips_unknown(kg: HttpSparqlClient) -> None:
    found = get_products(kg, ["P0003", "P9999", "P0001", "bad", "P0003"])
    assert [p.id for p in found] == ["P0003", "P0001"]


def _satisfies(facts: dict, category: str, color: str, max_price: Decimal) -> bool:
    return facts["category"] == category and color in facts["colors"] and facts["price"] <= max_price


def test_search_by_category_color_and_max_price(kg: HttpSparqlClient, graph_facts: dict[str, dict]) -> None:
    facets = SearchFacets(category="Running Shoes", color="black", max_price=Decimal("150"), limit=50)
    results = search_products(kg, facets)
    expected = {pid for pid, f in graph_facts.items() if _satisfies(f, "Running Shoes", "black", Decimal("150"))}
    assert len(expected) >= 3
    assert {p.id for p in results} == expected
    for product in results:
        assert product.category == "Running Shoes"
        assert "black" in product.colors
        assert product.price <= Decimal("150")


def test_search_text_facets_ignore_case(kg: HttpSparqlClient) -> None:
    lower = search_products(kg, SearchFacets(category="running shoes", color="BLACK", max_price=Decimal(150), limit=50))
    exact = search_products(kg, SearchFacets(category="Running Shoes", color="black", max_price=Decimal(150), limit=50))
    assert [p.id for p in lower] == [p.id for p in exact] and lower


def test_search_respects_limit(kg: HttpSparqlClient) -> None:
    assert len(search_products(kg, SearchFacets(category="Jackets", limit=3))) == 3
    assert len(search_products(kg, SearchFacets(limit=500))) == 50
    assert len(search_products(kg, SearchFacets(limit=0))) == 1


@pytest.mark.parametrize(("sort", "descending"), [("price_asc", False), ("price_desc", True)])
def test_search_sorts_by_price(kg: HttpSparqlClient, graph_facts: dict[str, dict], sort: str, descending: bool) -> None:
    results = search_products(kg, SearchFacets(category="Smartwatches", sort=sort, limit=10))
    prices = [p.price for p in results]
    assert len(prices) == 10
    assert prices == sorted(prices, reverse=descending)
    everything = [f["price"] for f in graph_facts.values() if f["category"] == "Smartwatches"]
    assert prices[0] == (max(everything) if descending else min(everything))


def test_search_sorts_by_rating_by_default(kg: HttpSparqlClient) -> None:
    results = search_products(kg, SearchFacets(category="Backpacks", limit=10))
    ratings = [p.rating for p in results]
    assert ratings == sorted(ratings, reverse=True)


def test_search_price_window(kg: HttpSparqlClient) -> None:
    results = search_products(kg, SearchFacets(min_price=Decimal("50"), max_price=Decimal("60"), limit=50))
    assert results
    assert all(Decimal("50") <= p.price <= Decimal("60") for p in results)


def test_in_stock_excludes_sold_out(kg: HttpSparqlClient, graph_facts: dict[str, dict]) -> None:
    everything = search_products(kg, SearchFacets(category="Running Shoes", limit=50))
    in_stock = search_products(kg, SearchFacets(category="Running Shoes", in_stock=True, limit=50))
    assert any(p.stock == 0 for p in everything)
    assert in_stock and all(p.stock > 0 for p in in_stock)
    expected = {pid for pid, f in graph_facts.items() if f["category"] == "Running Shoes" and f["stock"] > 0}
    assert {p.id for p in in_stock} == expected


def test_exclude_leaves_products_out(kg: HttpSparqlClient) -> None:
    facets = SearchFacets(brand="Stridewell", color="red", sort="price_desc", limit=50)
    with_hero = [p.id for p in search_products(kg, facets)]
    assert "P0001" in with_hero
    without = [p.id for p in search_products(kg, SearchFacets(brand="Stridewell", color="red", sort="price_desc",
                                                                limit=50, exclude=("P0001",)))]
    assert without == [pid for pid in with_hero if pid != "P0001"]


def test_text_facet_matches_names(kg: HttpSparqlClient) -> None:
    results = search_products(kg, SearchFacets(text="TRAILBLAZER", limit=50))
    assert len(results) >= 3 and all("trailblazer" in p.name.lower() for p in results)


@pytest.mark.parametrize("field", ["category", "brand", "color", "material", "size", "text"])
def test_hostile_facet_value_finds_nothing_and_changes_nothing(kg: HttpSparqlClient, field: str) -> None:
    before = count_triples(kg)
    assert search_products(kg, SearchFacets(**{field: HOSTILE})) == []
    assert count_triples(kg) == before


def test_compare_products(kg: HttpSparqlClient) -> None:
    comparison = compare_products(kg, "P0001", "P0002")
    assert comparison is not None
    assert comparison.first.id == "P0001" and comparison.second.id == "P0002"
    assert (comparison.first.price, comparison.second.price) == (Decimal("129.00"), Decimal("169.00"))
    assert comparison.differences["material"] == ("mesh", "knit")
    assert comparison.differences["colours"] == ("black, red", "green, white")
    assert comparison.differences["rating"] == ("4.6", "4.3")
    assert "brand" not in comparison.differences  # both Stridewell
    assert "category" not in comparison.differences
    assert comparison.cheaper.id == "P0001"
    reversed_ = compare_products(kg, "P0002", "P0001")
    assert reversed_ is not None and reversed_.cheaper.id == "P0001"


def test_compare_across_categories_and_with_unknown(kg: HttpSparqlClient) -> None:
    jacket = search_products(kg, SearchFacets(category="Jackets", limit=1))[0]
    comparison = compare_products(kg, "P0001", jacket.id)
    assert comparison is not None
    assert comparison.differences["category"] == ("Running Shoes", "Jackets")
    assert compare_products(kg, "P0001", "P9999") is None
    assert compare_products(kg, "P0001", "P0001") is None
    assert compare_products(kg, "P0001", HOSTILE) is None


def test_counts(kg: HttpSparqlClient, catalog_graph: Graph) -> None:
    assert count_products(kg) >= 300
    assert count_products(kg) == len(set(catalog_graph.subjects(predicate=SCHEMA.productID)))
    assert count_triples(kg) == len(catalog_graph)


@pytest.mark.parametrize(
    ("word", "field"),
    [
        ("price", "price"), ("Cost", "price"), ("colour", "colors"), (" COLORS ", "colors"), ("size", "sizes"),
        ("fabric", "material"), ("made of", "material"), ("maker", "brand"), ("availability", "stock"),
        ("reviews", "rating"), ("type", "category"), ("description", "description"),
        ("weight", "weight"), ("nonsense", None), ("", None), (HOSTILE, None),
    ],
)
def test_attribute_field(word: str, field: str | None) -> None:
    assert attribute_field(word) == field

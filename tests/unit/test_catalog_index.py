"""Unit tests of knowledge.catalog_index: the in-memory faceted search answers as the SPARQL one does."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from rdflib import Literal

from knowledge.catalog_index import CatalogIndex
from knowledge.namespaces import PRODUCT
from knowledge.products import SORTS, SearchFacets, search_ids
from knowledge.sparql import OxigraphStoreClient, render
from knowledge.vocabulary import load_vocabulary


@pytest.fixture
def index(memory_kg: OxigraphStoreClient) -> CatalogIndex:
    index = CatalogIndex()
    index.rebuild(memory_kg)
    return index


def _random_facets(rng: random.Random, vocab) -> SearchFacets:
    def maybe(values: list[str]) -> str | None:
        return rng.choice(values) if values and rng.random() < 0.4 else None

    low = Decimal(rng.randint(5, 150)) if rng.random() < 0.3 else None
    return SearchFacets(
        category=maybe(sorted(set(vocab.categories.values()))), brand=maybe(sorted(set(vocab.brands.values()))),
        color=maybe(sorted(vocab.colors)), material=maybe(sorted(vocab.materials)), size=maybe(sorted(vocab.sizes)),
        min_price=low, max_price=(low or 0) + Decimal(rng.randint(10, 400)) if rng.random() < 0.4 else None,
        in_stock=rng.random() < 0.3, text=rng.choice(["trail", "pro", "5", None, None, None]),
        sort=rng.choice(sorted(SORTS)), limit=rng.choice([5, 10, 50]), offset=rng.choice([0, 0, 3]),
        exclude=tuple(f"P{rng.randint(1, 321):04d}" for _ in range(rng.randint(0, 3))),
        exclude_brands=tuple(rng.sample(sorted(set(vocab.brands.values())), rng.randint(0, 2))),
        exclude_colors=tuple(rng.sample(sorted(vocab.colors), rng.randint(0, 1))),
    )


def test_answers_as_the_sparql_search_does(memory_kg: OxigraphStoreClient, index: CatalogIndex) -> None:
    vocab = load_vocabulary(memory_kg)
    rng = random.Random(19)
    nonempty = 0
    for _ in range(300):
        facets = _random_facets(rng, vocab)
        expected = search_ids(memory_kg, facets)
        assert index.search_ids(facets) == expected, facets
        nonempty += bool(expected)
    assert nonempty > 60  # the comparison is not only about empty answers


@pytest.mark.parametrize("facets", [
    SearchFacets(category="running shoes", color="RED", max_price=Decimal(100)),
    SearchFacets(category=" Running Shoes ", sort="price_asc", limit=50),
    SearchFacets(brand="stridewell", sort="weight_asc"),
    SearchFacets(color="black", sort="rating_asc", offset=4),
    SearchFacets(),
    SearchFacets(category='x" } ; DROP ALL ; #'),
])
def test_named_searches(memory_kg: OxigraphStoreClient, index: CatalogIndex, facets: SearchFacets) -> None:
    assert index.search_ids(facets) == search_ids(memory_kg, facets)


def test_follows_changed_products_and_renamed_categories(memory_kg: OxigraphStoreClient, index: CatalogIndex) -> None:
    from knowledge.namespaces import CATEGORY

    memory_kg.update(render("DELETE WHERE { $o schema:price ?x }", o=PRODUCT["P0001-offer"]))
    memory_kg.update(render("INSERT DATA { $o schema:price $v }", o=PRODUCT["P0001-offer"],
                            v=Literal(Decimal("1.50"))))
    index.update(memory_kg, {PRODUCT.P0001}, set())
    facets = SearchFacets(category="Running Shoes", sort="price_asc", limit=3)
    assert index.search_ids(facets)[0] == "P0001"
    assert index.search_ids(facets) == search_ids(memory_kg, facets)
    memory_kg.update(render("DELETE WHERE { $c schema:name ?n }", c=CATEGORY["running-shoes"]))
    memory_kg.update(render("INSERT DATA { $c schema:name 'Runners' }", c=CATEGORY["running-shoes"]))
    index.update(memory_kg, set(), {CATEGORY["running-shoes"]})
    facets = SearchFacets(category="runners", limit=3)
    assert index.search_ids(facets) == search_ids(memory_kg, facets)
    assert index.search_ids(SearchFacets(category="Running Shoes")) == []


def test_a_deleted_product_leaves_the_index(memory_kg: OxigraphStoreClient, index: CatalogIndex) -> None:
    memory_kg.update(render("DELETE WHERE { $p ?x ?y }", p=PRODUCT.P0001))
    index.update(memory_kg, {PRODUCT.P0001}, set())
    assert "P0001" not in index.search_ids(SearchFacets(limit=500))
    assert len(index) == 320

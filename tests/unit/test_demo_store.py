"""Unit tests of knowledge.demo_store and knowledge.validation: the generated catalog and its SHACL checks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import Graph, Literal
from rdflib.namespace import RDF, XSD

from knowledge.demo_store import HERO, Product, generate_products, write_store
from knowledge.loading import read_turtle
from knowledge.namespaces import PRODUCT, PRODUCT_ID, SCHEMA, SHOP
from knowledge.validation import ValidationReport, validate


@pytest.fixture(scope="module")
def products() -> list[Product]:
    """The demo store's products with the default seed."""
    return generate_products()


def test_catalog_size(products: list[Product]) -> None:
    assert len(products) >= 300
    assert len({p.category.slug for p in products}) >= 8
    assert len({p.brand for p in products}) >= 25


def test_ids_and_names_are_unique(products: list[Product]) -> None:
    assert len({p.id for p in products}) == len(products)
    assert len({p.name for p in products}) == len(products)
    assert all(PRODUCT_ID.fullmatch(p.id) for p in products)


def test_every_product_is_complete(products: list[Product]) -> None:
    for p in products:
        assert p.price > 0 and p.price == p.price.quantize(Decimal("0.01")), p.id
        lo, hi = p.category.price_range
        assert lo - 1 <= p.price <= hi, p.id
        assert p.colors and all(c in p.category.colors for c in p.colors), p.id
        assert p.material and p.material in p.category.materials, p.id
        assert p.description.strip(), p.id
        assert p.stock >= 0, p.id
        assert Decimal(0) <= p.rating <= Decimal(5), p.id
        assert p.review_count >= 0, p.id
        assert p.sizes == p.category.sizes, p.id
        if p.category.sizes:
            assert p.sizes, p.id


def test_hero_product(products: list[Product]) -> None:
    hero = products[0]
    assert hero.id == "P0001"
    assert hero.name == HERO["name"] and hero.brand == "Stridewell"
    assert hero.price == Decimal("129.00") and hero.stock == 42
    assert set(hero.colors) == {"red", "black"}
    assert "trailblazer 2" in hero.alt_names
    assert not any(p.name.startswith("Trailblazer 2 ") for p in products[1:])


def test_alternative_names_are_unique_across_products(products: list[Product]) -> None:
    counts = Counter(alt for p in products for alt in p.alt_names)
    assert counts and max(counts.values()) == 1
    assert all(len(alt.strip()) >= 2 for alt in counts)
    assert sum(len(p.alt_names) for p in products) > len(products)
    names = {p.name.lower(): p.id for p in products}
    for p in products:
        for alt in p.alt_names:
            assert names.get(alt, p.id) == p.id, f"{alt!r} of {p.id} is another product's name"


def test_same_seed_same_products_other_seed_differs(products: list[Product]) -> None:
    assert generate_products() == products
    assert generate_products(seed=7) == generate_products(seed=7)
    other = generate_products(seed=7)
    assert other != products
    assert [p.name for p in other] != [p.name for p in products]


def test_write_store(tmp_path: Path, products: list[Product]) -> None:
    catalog, count = write_store(tmp_path)
    assert catalog == tmp_path / "catalog.ttl" and catalog.is_file()
    assert count == len(products)
    svgs = sorted((tmp_path / "images").glob("*.svg"))
    assert len(svgs) == count
    assert {svg.stem for svg in svgs} == {p.id for p in products}
    for svg in svgs:
        root = ET.fromstring(svg.read_text(encoding="utf-8"))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    hero_svg = (tmp_path / "images" / "P0001.svg").read_text(encoding="utf-8")
    assert "Trailblazer 2 GTX" in hero_svg and "Stridewell" in hero_svg
    graph = read_turtle(catalog)
    assert len(set(graph.subjects(RDF.type, SCHEMA.Product))) == count
    assert graph.value(graph.value(PRODUCT.P0001, SCHEMA.offers), SCHEMA.price) == Literal(
        Decimal("129.00"), datatype=XSD.decimal
    )


def test_demo_catalog_conforms(catalog_graph: Graph) -> None:
    report = validate(catalog_graph)
    assert isinstance(report, ValidationReport)
    assert report.conforms, report.problems[:5]
    assert report.problems == ()


@pytest.fixture
def hero_graph(catalog_graph: Graph) -> Graph:
    """A copy of P0001's triples with its offer, rating, brand and category nodes."""
    node = PRODUCT.P0001
    graph = Graph()
    for part in (
        node,
        catalog_graph.value(node, SCHEMA.offers),
        catalog_graph.value(node, SCHEMA.aggregateRating),
        catalog_graph.value(node, SCHEMA.brand),
        catalog_graph.value(node, SCHEMA.category),
    ):
        assert part is not None
        for triple in catalog_graph.triples((part, None, None)):
            graph.add(triple)
    return graph


def _offer(graph: Graph):  # noqa: ANN202 - rdflib node
    return graph.value(PRODUCT.P0001, SCHEMA.offers)


def test_hero_copy_conforms(hero_graph: Graph) -> None:
    assert validate(hero_graph) == ValidationReport(True, ())


def _refused(graph: Graph) -> str:
    report = validate(graph)
    assert not report.conforms
    assert report.problems
    return "\n".join(report.problems)


def test_refuses_a_price_that_is_not_a_number(hero_graph: Graph) -> None:
    hero_graph.set((_offer(hero_graph), SCHEMA.price, Literal("cheap")))
    message = _refused(hero_graph)
    assert "P0001-offer" in message and "schema:price" in message
    assert "decimal" in message and '"cheap"' in message


def test_refuses_a_product_without_a_name(hero_graph: Graph) -> None:
    hero_graph.remove((PRODUCT.P0001, SCHEMA.name, None))
    message = _refused(hero_graph)
    assert "P0001" in message and "schema:name" in message
    assert "needs exactly one name" in message


def test_refuses_negative_stock(hero_graph: Graph) -> None:
    hero_graph.set((PRODUCT.P0001, SHOP.stockLevel, Literal(-1, datatype=XSD.integer)))
    message = _refused(hero_graph)
    assert "P0001" in message and "stockLevel" in message
    assert "at least 0" in message and '"-1"' in message


def test_refuses_a_currency_that_is_not_a_code(hero_graph: Graph) -> None:
    hero_graph.set((_offer(hero_graph), SCHEMA.priceCurrency, Literal("dollars")))
    message = _refused(hero_graph)
    assert "priceCurrency" in message and "ISO 4217" in message and '"dollars"' in message


def test_refuses_a_rating_above_five(hero_graph: Graph) -> None:
    rating = hero_graph.value(PRODUCT.P0001, SCHEMA.aggregateRating)
    hero_graph.set((rating, SCHEMA.ratingValue, Literal(Decimal("7.5"), datatype=XSD.decimal)))
    assert "ratingValue" in _refused(hero_graph)


def test_refuses_a_negative_price_in_the_full_catalog(catalog_graph: Graph) -> None:
    graph = Graph()
    graph += catalog_graph
    graph.set((_offer(graph), SCHEMA.price, Literal(Decimal("-5.00"), datatype=XSD.decimal)))
    report = validate(graph)
    assert not report.conforms
    assert len(report.problems) == 1 and "P0001-offer" in report.problems[0]
    assert catalog_graph.value(_offer(catalog_graph), SCHEMA.price) == Literal(Decimal("129.00"), datatype=XSD.decimal)

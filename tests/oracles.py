"""Expected answers computed from the graph's triples in plain Python, never through the code under test.

The shop answers with SPARQL (``knowledge.products``); these oracles walk an rdflib graph triple by
triple, so a filter the shop forgets, a facet it ignores or a sort it gets wrong shows up as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Optional

from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from knowledge.namespaces import SCHEMA, SHOP


def graph_from_lines(lines: Iterable[str]) -> Graph:
    """An rdflib graph of N-Triples lines (as ``tests.invariants.graph_lines`` reads them from a server)."""
    return Graph().parse(data="\n".join(lines), format="nt")


@dataclass(frozen=True)
class Facts:
    """One product as the triples state it."""

    id: str
    name: str
    category: str
    brand: str
    colors: frozenset[str]
    price: Decimal
    stock: int
    rating: Optional[float]


def _one(graph: Graph, subject: Any, predicate: URIRef) -> Any:
    return next(iter(graph.objects(subject, predicate)), None)


def products(graph: Graph) -> list[Facts]:
    """Every schema:Product of the graph with its facts, read triple by triple."""
    found = []
    for product in graph.subjects(RDF.type, SCHEMA.Product):
        offer = _one(graph, product, SCHEMA.offers)
        rating = _one(graph, product, SCHEMA.aggregateRating)
        rating_value = _one(graph, rating, SCHEMA.ratingValue) if rating is not None else None
        found.append(Facts(
            id=str(_one(graph, product, SCHEMA.productID)),
            name=str(_one(graph, product, SCHEMA.name)),
            category=str(_one(graph, _one(graph, product, SCHEMA.category), SCHEMA.name)),
            brand=str(_one(graph, _one(graph, product, SCHEMA.brand), SCHEMA.name)),
            colors=frozenset(str(c).lower() for c in graph.objects(product, SCHEMA.color)),
            price=Decimal(str(_one(graph, offer, SCHEMA.price))),
            stock=int(_one(graph, product, SHOP.stockLevel)),
            rating=float(rating_value) if rating_value is not None else None,
        ))
    return found


def by_rating(facts: Facts) -> tuple:
    """The shop's default order: best rated first (unrated last), then by name."""
    return (facts.rating is None, -(facts.rating or 0.0), facts.name)


def faceted_search(graph: Graph, category: Optional[str] = None, color: Optional[str] = None,
                   max_price: Optional[Decimal] = None, min_price: Optional[Decimal] = None,
                   brand: Optional[str] = None) -> list[Facts]:
    """Every product matching all the given facets (text facets ignore case), best rated first."""
    matching = [
        p for p in products(graph)
        if (category is None or p.category.lower() == category.lower())
        and (brand is None or p.brand.lower() == brand.lower())
        and (color is None or color.lower() in p.colors)
        and (max_price is None or p.price <= max_price)
        and (min_price is None or p.price >= min_price)
    ]
    return sorted(matching, key=by_rating)

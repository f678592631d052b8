"""The catalog as segmentation sees it: each product's id, category and price, from the live graph (any shop)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from knowledge.sparql import SparqlEndpoint, py, render

UNCATEGORISED = "uncategorised"


def slugify(text: str) -> str:
    """A category name as a lowercase, dash-separated key ("Running Shoes" -> "running-shoes")."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or UNCATEGORISED


@dataclass(frozen=True)
class CatalogItem:
    """What segment features need of a product: its id, category (key and name) and price."""

    id: str
    category: str  # slug, such as "running-shoes"
    label: str  # the category's name for people, such as "Running Shoes"
    price: float


_CATALOG = """
SELECT ?id ?category ?price WHERE {
  ?p a schema:Product ; schema:productID ?id ; schema:offers/schema:price ?price .
  OPTIONAL { ?p schema:category/schema:name ?category }
} ORDER BY ?id
"""


def catalog_items(kg: SparqlEndpoint) -> list[CatalogItem]:
    """Every product of the graph with its category and price, in one query."""
    items: dict[str, CatalogItem] = {}
    for row in kg.select(render(_CATALOG)):
        label = str(row["category"]) if row.get("category") is not None else UNCATEGORISED
        try:
            price = float(Decimal(str(py(row["price"]))))
        except (ArithmeticError, ValueError):
            continue  # a price that is not a number: SHACL refuses it, skip it here too
        items.setdefault(str(row["id"]), CatalogItem(str(row["id"]), slugify(label), label, price))
    return list(items.values())


def as_catalog_item(product: Any) -> CatalogItem:
    """A :class:`CatalogItem` from a graph ``Product``, a demo-store product or a ``CatalogItem``."""
    if isinstance(product, CatalogItem):
        return product
    category = product.category
    label = getattr(category, "label", None) or str(category)
    return CatalogItem(str(product.id), slugify(label), label, float(product.price))


def as_catalog(products: Iterable[Any]) -> list[CatalogItem]:
    """Products of any of the kinds :func:`as_catalog_item` takes, as catalog items."""
    return [as_catalog_item(p) for p in products]

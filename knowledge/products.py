"""Product facts from the graph: one product, faceted search and comparison."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Optional, Union

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from knowledge.namespaces import is_product_id, product_id_of, product_iri
from knowledge.sparql import Row, SparqlEndpoint, py, render


@dataclass(frozen=True)
class Product:
    """The facts of one product as the graph holds them now."""

    id: str
    name: str
    brand: str
    category: str
    price: Decimal
    currency: str
    stock: int
    image: str = ""
    description: str = ""
    material: str = ""
    colors: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    alt_names: tuple[str, ...] = ()
    rating: Optional[Decimal] = None
    review_count: Optional[int] = None
    weight: Optional[Decimal] = None  # grams

    @property
    def in_stock(self) -> bool:
        """Whether at least one item is in stock."""
        return self.stock > 0


ATTRIBUTES = {
    "price": "price", "cost": "price", "colour": "colors", "color": "colors", "colours": "colors",
    "colors": "colors", "size": "sizes", "sizes": "sizes", "material": "material", "fabric": "material",
    "made of": "material", "brand": "brand", "maker": "brand", "who makes": "brand", "made by": "brand",
    "manufacturer": "brand", "stock": "stock", "availability": "stock",
    "rating": "rating", "reviews": "rating", "review": "rating", "description": "description",
    "category": "category", "type": "category", "weight": "weight", "weigh": "weight", "heavy": "weight",
    "light": "weight",
}


_ATTRIBUTE_WORDS = re.compile(
    r"\b(" + "|".join(re.escape(word) for word in sorted(ATTRIBUTES, key=len, reverse=True)) + r")\b", re.I
)


def attribute_field(attribute: str) -> Optional[str]:
    """The product field a shopper's attribute word refers to, such as ``colour`` -> ``colors``."""
    return ATTRIBUTES.get(attribute.strip().lower())


def attribute_in_text(text: str) -> Optional[str]:
    """The product field the first attribute word of a sentence refers to ("what is it made of" -> material)."""
    found = _ATTRIBUTE_WORDS.search(text[:1000])
    return attribute_field(found.group(1)) if found else None


_PRODUCT_FIELDS = """
  ?p schema:productID ?id ; schema:name ?name ; shop:stockLevel ?stock ;
     schema:brand/schema:name ?brand ; schema:category/schema:name ?category ;
     schema:offers ?offer .
  ?offer schema:price ?price ; schema:priceCurrency ?currency .
  OPTIONAL { ?p schema:image ?image }
  OPTIONAL { ?p schema:description ?description }
  OPTIONAL { ?p schema:material ?material }
  OPTIONAL { ?p shop:weightGrams ?weight }
  OPTIONAL { ?p schema:aggregateRating ?r . ?r schema:ratingValue ?rating . OPTIONAL { ?r schema:reviewCount ?reviews } }
"""

_MULTI_FIELDS = ("color", "size", "alt")
_MULTI_PATHS = {"color": "schema:color", "size": "schema:size", "alt": "schema:alternateName"}


def _product_rows(kg: SparqlEndpoint, products: list) -> list[Row]:
    query = "SELECT * WHERE { VALUES ?p { $products } " + _PRODUCT_FIELDS + "}"
    return kg.select(render(query, products=products))


def _multi_values(kg: SparqlEndpoint, products: list) -> dict[tuple[str, str], list[str]]:
    unions = " UNION ".join(
        f'{{ ?p {path} ?v BIND("{kind}" AS ?kind) }}' for kind, path in _MULTI_PATHS.items()
    )
    rows = kg.select(render("SELECT ?p ?kind ?v WHERE { VALUES ?p { $products } " + unions + " }", products=products))
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        found[(product_id_of(row["p"]), str(row["kind"]))].append(str(row["v"]))
    return found


def _product_from(row: Row, multi: dict[tuple[str, str], list[str]]) -> Product:
    pid = str(py(row["id"]))

    def many(kind: str) -> tuple[str, ...]:
        return tuple(sorted(multi.get((pid, kind), []), key=_size_key if kind == "size" else str.lower))

    rating = py(row.get("rating"))
    reviews = py(row.get("reviews"))
    weight = py(row.get("weight"))
    return Product(
        id=pid,
        name=str(row["name"]),
        brand=str(row["brand"]),
        category=str(row["category"]),
        price=Decimal(str(py(row["price"]))).quantize(Decimal("0.01")),
        currency=str(row["currency"]),
        stock=int(py(row["stock"])),
        image=str(row.get("image", "")),
        description=str(row.get("description", "")),
        material=str(row.get("material", "")),
        colors=many("color"),
        sizes=many("size"),
        alt_names=many("alt"),
        rating=Decimal(str(rating)) if rating is not None else None,
        review_count=int(reviews) if reviews is not None else None,
        weight=Decimal(str(weight)) if weight is not None else None,
    )


def _size_key(size: str) -> tuple:
    letters = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"]
    if size in letters:
        return (0, letters.index(size), size)
    digits = "".join(c for c in size if c.isdigit() or c == ".")
    return (1, float(digits), size) if digits else (2, 0.0, size)


def get_products(kg: SparqlEndpoint, product_ids: list[str]) -> list[Product]:
    """The current facts of these products, in the order asked; unknown ids are left out."""
    ids = [pid for pid in dict.fromkeys(product_ids) if is_product_id(pid)]
    if not ids:
        return []
    iris = [product_iri(pid) for pid in ids]
    rows = _product_rows(kg, iris)
    multi = _multi_values(kg, iris)
    by_id: dict[str, Product] = {}
    for row in rows:
        product = _product_from(row, multi)
        by_id.setdefault(product.id, product)
    return [by_id[pid] for pid in ids if pid in by_id]


def get_product(kg: SparqlEndpoint, product_id: str) -> Optional[Product]:
    """The current facts of one product, or None when the graph has no such product."""
    found = get_products(kg, [product_id])
    return found[0] if found else None


@dataclass(frozen=True)
class SearchFacets:
    """What a shopper filters and sorts by; every field is optional."""

    category: Optional[str] = None
    brand: Optional[str] = None
    color: Optional[str] = None
    material: Optional[str] = None
    size: Optional[str] = None
    min_price: Optional[Decimal] = None
    max_price: Optional[Decimal] = None
    in_stock: bool = False
    text: Optional[str] = None
    sort: str = "rating"
    limit: int = 5
    offset: int = 0
    exclude: tuple[str, ...] = field(default_factory=tuple)  # product ids
    exclude_brands: tuple[str, ...] = field(default_factory=tuple)
    exclude_colors: tuple[str, ...] = field(default_factory=tuple)

    def is_empty(self) -> bool:
        """Whether no filter at all is set."""
        return not any((self.category, self.brand, self.color, self.material, self.size,
                        self.min_price is not None, self.max_price is not None, self.text,
                        self.exclude_brands, self.exclude_colors, self.in_stock))


SORTS = {
    "price_asc": "ASC(?price)",
    "price_desc": "DESC(?price)",
    "rating": "DESC(?rating)",
    "rating_asc": "(!BOUND(?rating)) ASC(?rating)",
    "weight_asc": "(!BOUND(?weight)) ASC(?weight)",
    "weight_desc": "DESC(?weight)",
    "reviews": "DESC(?reviews)",
    "stock": "DESC(?stock)",
    "name": "ASC(?name)",
}
MAX_PRODUCTS = 50  # the most products one search answers with
MAX_CANDIDATES = 500  # the most ids one search reads (descriptive ranking looks at this many candidates)


def _decimal(value: Decimal) -> Literal:
    return Literal(Decimal(value), datatype=XSD.decimal)


def search_products(kg: SparqlEndpoint, facets: SearchFacets) -> list[Product]:
    """Products matching every facet, sorted, at most 50; matching of text facets ignores case."""
    return get_products(kg, search_ids(kg, replace(facets, limit=min(facets.limit, MAX_PRODUCTS))))


def search_ids(kg: SparqlEndpoint, facets: SearchFacets) -> list[str]:
    """The ids of the products matching every facet, sorted, from ``offset`` on, at most ``limit``."""
    filters: list[str] = []
    bindings: dict[str, Union[Literal, URIRef]] = {}

    def text_filter(name: str, path: str, value: Optional[str]) -> None:
        if value:
            filters.append(f"?p {path} ?{name}_v . FILTER(LCASE(STR(?{name}_v)) = LCASE(${name}))")
            bindings[name] = Literal(value.strip())

    text_filter("category", "schema:category/schema:name", facets.category)
    text_filter("brand", "schema:brand/schema:name", facets.brand)
    text_filter("color", "schema:color", facets.color)
    text_filter("material", "schema:material", facets.material)
    text_filter("size", "schema:size", facets.size)
    if facets.text:
        filters.append("FILTER(CONTAINS(LCASE(?name), LCASE($text)))")
        bindings["text"] = Literal(facets.text.strip())
    if facets.min_price is not None:
        filters.append("FILTER(?price >= $min_price)")
        bindings["min_price"] = _decimal(facets.min_price)
    if facets.max_price is not None:
        filters.append("FILTER(?price <= $max_price)")
        bindings["max_price"] = _decimal(facets.max_price)
    if facets.in_stock:
        filters.append("FILTER(?stock > 0)")
    for index, pid in enumerate(facets.exclude):
        filters.append(f"FILTER(?p != $exclude{index})")
        bindings[f"exclude{index}"] = product_iri(pid)
    for index, brand in enumerate(facets.exclude_brands):
        filters.append(f"FILTER NOT EXISTS {{ ?p schema:brand/schema:name ?xb{index} . "
                       f"FILTER(LCASE(STR(?xb{index})) = LCASE($xbrand{index})) }}")
        bindings[f"xbrand{index}"] = Literal(brand.strip())
    for index, color in enumerate(facets.exclude_colors):
        filters.append(f"FILTER NOT EXISTS {{ ?p schema:color ?xc{index} . "
                       f"FILTER(LCASE(STR(?xc{index})) = LCASE($xcolor{index})) }}")
        bindings[f"xcolor{index}"] = Literal(color.strip())
    order = SORTS.get(facets.sort, SORTS["rating"])
    limit = max(1, min(int(facets.limit), MAX_CANDIDATES))
    offset = max(0, min(int(facets.offset), 100_000))
    query = (
        "SELECT DISTINCT ?p ?price ?rating ?reviews ?weight ?stock ?name WHERE {\n"
        "  ?p a schema:Product ; schema:name ?name ; shop:stockLevel ?stock ; schema:offers/schema:price ?price .\n"
        "  OPTIONAL { ?p schema:aggregateRating ?r . ?r schema:ratingValue ?rating\n"
        "             OPTIONAL { ?r schema:reviewCount ?reviews } }\n"
        "  OPTIONAL { ?p shop:weightGrams ?weight }\n"
        f"  {' '.join(filters)}\n"
        f"}} ORDER BY {order} ASC(?name) LIMIT {limit} OFFSET {offset}"
    )
    rows = kg.select(render(query, **bindings))
    return [product_id_of(row["p"]) for row in rows]


def all_product_ids(kg: SparqlEndpoint) -> list[str]:
    """The ids of every product in the graph, in order."""
    rows = kg.select(render("SELECT ?id WHERE { ?p a schema:Product ; schema:productID ?id } ORDER BY ?id"))
    return [str(row["id"]) for row in rows]


def count_products(kg: SparqlEndpoint) -> int:
    """How many products the graph holds."""
    rows = kg.select(render("SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Product }"))
    return int(py(rows[0]["n"])) if rows else 0


def count_triples(kg: SparqlEndpoint) -> int:
    """How many catalog triples the default graph holds (its change counter not counted)."""
    rows = kg.select(render("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(?s != shop:catalogState) }"))
    return int(py(rows[0]["n"])) if rows else 0


@dataclass(frozen=True)
class Comparison:
    """Two products side by side, with the facts other than price in which they differ."""

    first: Product
    second: Product
    differences: dict[str, tuple[str, str]]

    @property
    def cheaper(self) -> Product:
        """The lower-priced product of the two (the first on a tie)."""
        return self.first if self.first.price <= self.second.price else self.second


def compare_products(kg: SparqlEndpoint, first_id: str, second_id: str) -> Optional[Comparison]:
    """Compare two products fact by fact; None when either is unknown."""
    products = get_products(kg, [first_id, second_id])
    if len(products) != 2:
        return None
    a, b = products
    facts = {
        "brand": (a.brand, b.brand),
        "category": (a.category, b.category),
        "material": (a.material, b.material),
        "colours": (", ".join(a.colors), ", ".join(b.colors)),
        "rating": (str(a.rating or "-"), str(b.rating or "-")),
        "stock": ("in stock" if a.in_stock else "out of stock", "in stock" if b.in_stock else "out of stock"),
    }
    return Comparison(a, b, {name: pair for name, pair in facts.items() if pair[0] != pair[1]})

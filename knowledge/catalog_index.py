"""The catalog's facets in memory, so a faceted search costs milliseconds at any catalog size.

A SPARQL server without facet indexes (Oxigraph) joins and sorts every product of a category for each
search: seconds at 100,000 products. :class:`CatalogIndex` reads each facet once with one lean scan per
property (about 25 s at 100,000 products, in the background while SPARQL answers), keeps posting sets per
category, brand, colour, material and size, and answers ``search_ids`` with the same filters and order as
``knowledge.products.search_ids``. It is a ``knowledge.catalog_watch.CatalogWatch`` follower: a staff edit
re-reads just the products it touched. The products' facts shown to a shopper are still read live.
"""

from __future__ import annotations

import heapq
import threading
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Optional

from rdflib import URIRef

from knowledge.namespaces import product_id_of
from knowledge.products import MAX_CANDIDATES, SearchFacets
from knowledge.sparql import SparqlEndpoint, render, select_values


@dataclass
class Entry:
    """What a search filters and sorts one product by."""

    name: str = ""
    category: str = ""  # IRI
    brand: str = ""  # IRI
    colors: frozenset[str] = frozenset()  # lower case
    materials: frozenset[str] = frozenset()
    sizes: frozenset[str] = frozenset()
    price: Optional[Decimal] = None
    stock: Optional[int] = None
    rating: Optional[Decimal] = None
    reviews: Optional[int] = None
    weight: Optional[Decimal] = None

    @property
    def complete(self) -> bool:
        """Whether the product has what a search needs (a name, a price and a stock level)."""
        return bool(self.name) and self.price is not None and self.stock is not None


# one scan per property: ``?p`` and ``?v`` (multi-valued ones give several rows)
_SCANS = {
    "name": "?p a schema:Product ; schema:name ?v",
    "category": "?p schema:category ?v",
    "brand": "?p schema:brand ?v",
    "colors": "?p schema:color ?v",
    "materials": "?p schema:material ?v",
    "sizes": "?p schema:size ?v",
    "price": "?p schema:offers ?o . ?o schema:price ?v",
    "stock": "?p shop:stockLevel ?v",
    "rating": "?p schema:aggregateRating ?r . ?r schema:ratingValue ?v",
    "reviews": "?p schema:aggregateRating ?r . ?r schema:reviewCount ?v",
    "weight": "?p shop:weightGrams ?v",
}
_LABELS = "SELECT ?n ?v WHERE { { ?n a shop:Category } UNION { ?n a schema:Brand } ?n schema:name ?v }"
_POSTED = ("category", "brand", "colors", "materials", "sizes")
_NUMBERS = {"price": Decimal, "rating": Decimal, "weight": Decimal, "stock": int, "reviews": int}


def _number(kind: type, text: str) -> Any:
    try:
        return kind(Decimal(text)) if kind is int else kind(text)
    except (InvalidOperation, ValueError):
        return None


def _read(kg: SparqlEndpoint, products: Optional[list[URIRef]] = None) -> dict[str, Entry]:
    """Entries of these products (every product when None), one query per property."""
    values: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    head = "VALUES ?p { $products } " if products is not None else ""
    for field_name, pattern in _SCANS.items():
        query = render(f"SELECT ?p ?v WHERE {{ {head}{pattern} }}", **({"products": products} if products else {}))
        for row in select_values(kg, query):
            values[row["p"]][field_name].append(row["v"])
    entries = {}
    for iri, found in values.items():
        if "name" not in found:
            continue  # not a product (or its name is gone)
        entry = Entry(name=found["name"][0], category=(found.get("category") or [""])[0],
                      brand=(found.get("brand") or [""])[0])
        for field_name in ("colors", "materials", "sizes"):
            setattr(entry, field_name, frozenset(v.lower() for v in found.get(field_name, ())))
        for field_name, kind in _NUMBERS.items():
            if found.get(field_name):
                setattr(entry, field_name, _number(kind, found[field_name][0]))
        entries[product_id_of(iri)] = entry
    return entries


def _missing_last(value: Any, descending: bool) -> tuple:
    """A sort key putting unbound values last, as SPARQL's DESC and (!BOUND) ASC do."""
    if value is None:
        return (1, 0)
    return (0, -value if descending else value)


_SORT_KEYS = {
    "price_asc": lambda e: (e.price,),
    "price_desc": lambda e: (-e.price,),
    "rating": lambda e: _missing_last(e.rating, True),
    "rating_asc": lambda e: _missing_last(e.rating, False),
    "weight_asc": lambda e: _missing_last(e.weight, False),
    "weight_desc": lambda e: _missing_last(e.weight, True),
    "reviews": lambda e: _missing_last(e.reviews, True),
    "stock": lambda e: (-e.stock,),
    "name": lambda e: (),
}


class CatalogIndex:
    """Every product's facets, for faceted search in memory (see the module's doc)."""

    name = "facets"

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._postings: dict[str, dict[str, set[str]]] = {kind: defaultdict(set) for kind in _POSTED}
        self._labels: dict[str, str] = {}  # category or brand IRI -> lower-case name
        self._by_label: dict[str, set[str]] = defaultdict(set)  # lower-case name -> IRIs
        self._lock = threading.RLock()
        self.ready = False

    def __len__(self) -> int:
        return len(self._entries)

    # --- following the graph --------------------------------------------------------------------------

    def rebuild(self, kg: SparqlEndpoint) -> None:
        """Read every product's facets again; searches use the old ones until the new ones are ready."""
        entries = _read(kg)
        labels = self._read_labels(kg)
        fresh = CatalogIndex()
        fresh._set_labels(labels)
        for pid, entry in entries.items():
            fresh._put(pid, entry)
        with self._lock:
            self._entries, self._postings = fresh._entries, fresh._postings
            self._labels, self._by_label = fresh._labels, fresh._by_label
            self.ready = True

    def update(self, kg: SparqlEndpoint, products: set[URIRef], others: set[URIRef]) -> None:
        """Re-read the changed products (and the category and brand names when other nodes changed)."""
        products_list = sorted(products, key=str)
        fresh: dict[str, Entry] = {}
        for start in range(0, len(products_list), 500):
            fresh.update(_read(kg, products_list[start:start + 500]))
        labels = self._read_labels(kg) if others else None
        with self._lock:
            if labels is not None:
                self._set_labels(labels)
            for iri in products_list:
                pid = product_id_of(iri)
                self._drop(pid)
                if pid in fresh:
                    self._put(pid, fresh[pid])

    @staticmethod
    def _read_labels(kg: SparqlEndpoint) -> dict[str, str]:
        return {row["n"]: row["v"] for row in select_values(kg, render(_LABELS))}

    def _set_labels(self, labels: dict[str, str]) -> None:
        self._labels = {iri: name.strip().lower() for iri, name in labels.items()}
        self._by_label = defaultdict(set)
        for iri, name in self._labels.items():
            self._by_label[name].add(iri)

    def _put(self, pid: str, entry: Entry) -> None:
        self._entries[pid] = entry
        for kind in _POSTED:
            value = getattr(entry, kind)
            for key in (value if isinstance(value, frozenset) else (value,) if value else ()):
                self._postings[kind][key].add(pid)

    def _drop(self, pid: str) -> None:
        entry = self._entries.pop(pid, None)
        if entry is None:
            return
        for kind in _POSTED:
            value = getattr(entry, kind)
            for key in (value if isinstance(value, frozenset) else (value,) if value else ()):
                posting = self._postings[kind].get(key)
                if posting is not None:
                    posting.discard(pid)
                    if not posting:
                        del self._postings[kind][key]

    # --- searching ------------------------------------------------------------------------------------

    def search_ids(self, facets: SearchFacets) -> list[str]:
        """The ids of the products matching every facet, sorted, from ``offset`` on, at most ``limit``
        (the same products and order as ``knowledge.products.search_ids``)."""
        with self._lock:
            candidates = self._candidates(facets)
            entries = self._entries
            excluded = set(facets.exclude)
            found = [(pid, entries[pid]) for pid in candidates
                     if pid not in excluded and self._matches(entries[pid], facets)]
            sort_key = _SORT_KEYS.get(facets.sort, _SORT_KEYS["rating"])
            limit = max(1, min(int(facets.limit), MAX_CANDIDATES))
            offset = max(0, min(int(facets.offset), 100_000))
            best = heapq.nsmallest(offset + limit, found, key=lambda item: (*sort_key(item[1]), item[1].name, item[0]))
            return [pid for pid, _ in best[offset:offset + limit]]

    def _iris(self, label: str) -> set[str]:
        return self._by_label.get(label.strip().lower(), set())

    def _candidates(self, facets: SearchFacets) -> Iterable[str]:
        sets: list[set[str]] = []
        for kind, value in (("category", facets.category), ("brand", facets.brand)):
            if value:
                sets.append(set().union(*(self._postings[kind].get(iri, set()) for iri in self._iris(value))))
        for kind, value in (("colors", facets.color), ("materials", facets.material), ("sizes", facets.size)):
            if value:
                sets.append(self._postings[kind].get(value.strip().lower(), set()))
        if not sets:
            return list(self._entries)
        sets.sort(key=len)
        return sets[0].intersection(*sets[1:])

    def _matches(self, entry: Entry, facets: SearchFacets) -> bool:
        if not entry.complete:
            return False
        if facets.category and self._labels.get(entry.category) != facets.category.strip().lower():
            return False
        if facets.brand and self._labels.get(entry.brand) != facets.brand.strip().lower():
            return False
        if facets.color and facets.color.strip().lower() not in entry.colors:
            return False
        if facets.material and facets.material.strip().lower() not in entry.materials:
            return False
        if facets.size and facets.size.strip().lower() not in entry.sizes:
            return False
        if facets.text and facets.text.strip().lower() not in entry.name.lower():
            return False
        if facets.min_price is not None and entry.price < facets.min_price:
            return False
        if facets.max_price is not None and entry.price > facets.max_price:
            return False
        if facets.in_stock and entry.stock <= 0:
            return False
        if facets.exclude_brands and self._labels.get(entry.brand) in {b.strip().lower() for b in facets.exclude_brands}:
            return False
        if facets.exclude_colors and entry.colors & {c.strip().lower() for c in facets.exclude_colors}:
            return False
        return True

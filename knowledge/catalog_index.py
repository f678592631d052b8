"""The catalog's facets in memory, so a faceted search costs milliseconds at any catalog size.

A SPARQL server without facet indexes (Oxigraph) joins and sorts every product of a category for each
search: seconds at 100,000 products. :class:`CatalogIndex` reads each facet once with one lean scan per
property (about 25 s at 100,000 products, in the background while SPARQL answers), keeps posting sets per
category, brand, colour, material and size, and answers ``search_ids`` with the same filters and order as
``knowledge.products.search_ids``. It is a ``knowledge.catalog_watch.CatalogWatch`` follower: a staff edit
re-reads just the products it touched. The products' facts shown to a shopper are still read live.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

import numpy as np
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


@dataclass
class _Arrays:
    """The entries as columns, for vectorised filtering and sorting (rebuilt after changes, on the next search)."""

    ids: list[str]
    position: dict[str, int]
    names: list[str]  # lower case
    complete: np.ndarray
    name_rank: np.ndarray  # rank of (name, id): the tie-break of every sort
    numbers: dict[str, np.ndarray]  # price, stock, rating, reviews, weight; NaN where unbound


def _columns(entries: dict[str, Entry]) -> _Arrays:
    ids = list(entries)
    values = [entries[pid] for pid in ids]
    numbers = {
        name: np.array([float(getattr(e, name)) if getattr(e, name) is not None else np.nan for e in values])
        for name in _NUMBERS
    }
    order = sorted(range(len(ids)), key=lambda i: (values[i].name, ids[i]))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return _Arrays(ids, {pid: i for i, pid in enumerate(ids)}, [e.name.lower() for e in values],
                   np.array([e.complete for e in values], dtype=bool), rank, numbers)


def _sort_keys(sort: str, columns: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The keys of a sort, most significant first, as SPARQL orders them (unbound values last)."""
    def missing_last(name: str, descending: bool) -> list[np.ndarray]:
        column = columns[name]
        unbound = np.isnan(column)
        return [unbound, np.where(unbound, 0.0, -column if descending else column)]

    keys = {
        "price_asc": lambda: [columns["price"]],
        "price_desc": lambda: [-columns["price"]],
        "rating": lambda: missing_last("rating", True),
        "rating_asc": lambda: missing_last("rating", False),
        "weight_asc": lambda: missing_last("weight", False),
        "weight_desc": lambda: missing_last("weight", True),
        "reviews": lambda: missing_last("reviews", True),
        "stock": lambda: [-columns["stock"]],
        "name": lambda: [],
    }
    return keys.get(sort, keys["rating"])()


class CatalogIndex:
    """Every product's facets, for faceted search in memory (see the module's doc)."""

    name = "facets"

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._postings: dict[str, dict[str, set[str]]] = {kind: defaultdict(set) for kind in _POSTED}
        self._labels: dict[str, str] = {}  # category or brand IRI -> lower-case name
        self._by_label: dict[str, set[str]] = defaultdict(set)  # lower-case name -> IRIs
        self._lock = threading.RLock()
        self._arrays: Optional[_Arrays] = None  # None: to be rebuilt from the entries
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
            self._arrays = _columns(self._entries)
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
        self._arrays = None
        for kind in _POSTED:
            value = getattr(entry, kind)
            for key in (value if isinstance(value, frozenset) else (value,) if value else ()):
                self._postings[kind][key].add(pid)

    def _drop(self, pid: str) -> None:
        entry = self._entries.pop(pid, None)
        if entry is None:
            return
        self._arrays = None
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
            if self._arrays is None:
                self._arrays = _columns(self._entries)
            arrays = self._arrays
            rows = self._candidate_rows(facets, arrays)
            rows = rows[arrays.complete[rows]]
            numbers = {name: column[rows] for name, column in arrays.numbers.items()}
            keep = np.ones(len(rows), dtype=bool)
            if facets.min_price is not None:
                keep &= numbers["price"] >= float(facets.min_price)
            if facets.max_price is not None:
                keep &= numbers["price"] <= float(facets.max_price)
            if facets.in_stock:
                keep &= numbers["stock"] > 0
            if facets.text:
                text = facets.text.strip().lower()
                keep &= np.fromiter((text in arrays.names[row] for row in rows), dtype=bool, count=len(rows))
            rows = rows[keep]
            numbers = {name: column[keep] for name, column in numbers.items()}
            keys = _sort_keys(facets.sort, numbers)
            order = np.lexsort([arrays.name_rank[rows], *reversed(keys)])
            limit = max(1, min(int(facets.limit), MAX_CANDIDATES))
            offset = max(0, min(int(facets.offset), 100_000))
            return [arrays.ids[row] for row in rows[order[offset:offset + limit]]]

    def _iris(self, label: str) -> set[str]:
        return self._by_label.get(label.strip().lower(), set())

    def _posting(self, kind: str, value: str) -> set[str]:
        """The products having this category or brand (by name), colour, material or size (any case)."""
        if kind in ("category", "brand"):
            return set().union(*(self._postings[kind].get(iri, set()) for iri in self._iris(value)))
        return self._postings[kind].get(value.strip().lower(), set())

    def _candidate_rows(self, facets: SearchFacets, arrays: _Arrays) -> np.ndarray:
        """Rows of the products having every facet asked for and none excluded."""
        wanted = [(kind, value) for kind, value in (("category", facets.category), ("brand", facets.brand),
                  ("colors", facets.color), ("materials", facets.material), ("sizes", facets.size)) if value]
        excluded = set(facets.exclude)
        for brand in facets.exclude_brands:
            excluded |= self._posting("brand", brand)
        for color in facets.exclude_colors:
            excluded |= self._posting("colors", color)
        if wanted:
            sets = sorted((self._posting(kind, value) for kind, value in wanted), key=len)
            found = sets[0].intersection(*sets[1:]) - excluded
            return np.fromiter(sorted(arrays.position[pid] for pid in found), dtype=np.int64, count=len(found))
        rows = np.arange(len(arrays.ids))
        if excluded:
            drop = [arrays.position[pid] for pid in excluded if pid in arrays.position]
            rows = np.delete(rows, drop)
        return rows

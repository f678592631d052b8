"""The shop's knowledge in one place: a SPARQL endpoint plus the live catalog vocabulary.

The catalog's names (mention resolution and the phrase matcher) are read from the graph once, then kept
current by a :class:`knowledge.catalog_watch.CatalogWatch` from the graph's change counter and the audit log,
so a 100,000-product catalog is never re-read on a timer. Its facets are held the same way
(:class:`knowledge.catalog_index.CatalogIndex`, built in the background by ``warm_up``) and answer faceted
searches in memory; until they are built, searches go to the graph.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Optional, Sequence

from knowledge.catalog_index import CatalogIndex
from knowledge.catalog_watch import AuditChangeLog, CatalogWatch, ChangeLog
from knowledge.connections import bulk_graph_client, graph_client
from knowledge.matcher import Span
from knowledge.products import (
    MAX_CANDIDATES, MAX_PRODUCTS, Comparison, Product, SearchFacets, compare_products, get_product, get_products,
    search_ids,
)
from knowledge.refinement import PAGE, SearchState
from knowledge.settings import Settings, get_settings
from knowledge.sparql import SparqlEndpoint
from knowledge.textsearch import ProductTextIndex, product_texts, rank
from knowledge.vocabulary import CatalogNames, Resolution, Vocabulary

logger = logging.getLogger(__name__)



class Shop:
    """Answers about products and policies from a knowledge graph, with names kept fresh."""

    def __init__(
        self, kg: SparqlEndpoint, vocabulary_max_age: float = 2.0, text_index: Optional[ProductTextIndex] = None,
        changes: Optional[ChangeLog] = None, bulk_kg: Optional[SparqlEndpoint] = None,
    ) -> None:
        self.kg = kg
        # reading a whole large catalog takes longer than one answer may: its own client, with a longer timeout
        self.watch = CatalogWatch(bulk_kg if bulk_kg is not None else kg, vocabulary_max_age, changes=changes)
        self._names = CatalogNames()
        self.facets = CatalogIndex()
        self._facets_building: Optional[threading.Thread] = None
        self.text_index = text_index if text_index is not None else ProductTextIndex()
        self._warming: Optional[threading.Thread] = None
        self._warming_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Optional[Settings] = None) -> "Shop":
        """A shop on the SPARQL endpoint the settings name."""
        settings = settings or get_settings()
        client = graph_client(settings)
        bulk = bulk_graph_client(settings)
        changes = AuditChangeLog(settings.database_url) if settings.database_url else None
        return cls(client, settings.catalog_cache_seconds, ProductTextIndex(path=settings.text_index_file), changes, bulk)

    def warm_up(self, names_only: bool = False) -> None:
        """Load what answers need (catalog names and phrase matcher; unless ``names_only``, the facets and the
        sentence encoder too) in the background, once."""
        with self._warming_lock:
            if self._warming is not None:
                return
            self._warming = threading.Thread(target=self._warm, args=(names_only,), name="shop-warm-up", daemon=True)
        self._warming.start()

    def _warm(self, names_only: bool = False) -> None:
        try:
            self.tag("warm up")
            if names_only:
                return
            self._build_facets()
            self.text_index.vectors(["warm up"])
        except Exception as error:  # noqa: BLE001 - warming is an optimisation; the first real use reports errors
            logger.info("warming up the shop failed (the first answer will load it): %s", error)

    def vocabulary(self) -> Vocabulary:
        """The catalog's names as the graph holds them (current within one poll of the catalog watch)."""
        self.watch.ensure(self._names)
        return self._names.vocabulary

    def refresh(self) -> None:
        """Read every name and facet from the graph again, e.g. after the graph was replaced."""
        self.watch.invalidate()
        if self.facets.ready:  # searches go to the graph until the facets are read again
            self.facets.ready = False
            self._build_facets_in_background()

    def _build_facets(self) -> None:
        self.watch.ensure(self.facets)

    def _build_facets_in_background(self) -> None:
        with self._warming_lock:
            if self._facets_building is not None and self._facets_building.is_alive():
                return
            self._facets_building = threading.Thread(target=self._build_facets, name="shop-facets", daemon=True)
        self._facets_building.start()

    def search_ids(self, facets: SearchFacets) -> list[str]:
        """The ids of the products matching the facets, sorted: from memory once the facets are read."""
        if self.facets.ready:
            return self.facets.search_ids(facets)
        return search_ids(self.kg, facets)

    def tag(self, text: str) -> list[Span]:
        """Catalog phrases (products, brands, categories, colours, materials) in a message."""
        self.watch.ensure(self._names)
        return self._names.tag(text)

    def resolve(self, mention: str) -> Resolution:
        """The products a shopper's mention may refer to, best first."""
        return self.vocabulary().resolve(mention)

    def resolve_in_text(self, text: str) -> Resolution:
        """The products named anywhere in a message, for when NLU found no product entity."""
        mentions = [span.text for span in self.tag(text) if span.label == "product"]
        if not mentions:
            return Resolution(text, ())
        return self.resolve(max(mentions, key=len))

    def product(self, product_id: str) -> Optional[Product]:
        """The current facts of one product."""
        return get_product(self.kg, product_id)

    def search(self, facets: SearchFacets) -> list[Product]:
        """Products matching the facets."""
        return self.products(self.search_ids(replace(facets, limit=min(facets.limit, MAX_PRODUCTS))))

    def products(self, product_ids: Sequence[str]) -> list[Product]:
        """The current facts of these products, in the order asked (unknown ids left out)."""
        return get_products(self.kg, list(product_ids))

    def find(self, state: SearchState, limit: int = PAGE) -> tuple[list[Product], SearchState]:
        """The products a search shows from its offset on, filtered by its facets and ranked by its words;
        and the search as run (words that say nothing about these products are dropped)."""
        if not state.keywords:
            return self.search(state.facets(limit)), state
        ids = self.search_ids(replace(state.facets(MAX_CANDIDATES), offset=0))
        texts = product_texts(self.kg, ids)
        state = replace(state, keywords=tuple(self.text_index.relevant(state.keywords, texts)))
        scores = self.text_index.scores(state.keywords, texts)
        self.text_index.save()
        ranked = rank(ids, scores, keep_order=state.sort is not None)
        return self.products(ranked[state.offset:state.offset + limit]), state

    def compare(self, first_id: str, second_id: str) -> Optional[Comparison]:
        """Two products side by side."""
        return compare_products(self.kg, first_id, second_id)


_default: Optional[Shop] = None
_default_lock = threading.Lock()


def default_shop() -> Shop:
    """The process-wide shop on the configured endpoint, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Shop.from_settings()
        return _default


def set_default_shop(shop: Shop) -> None:
    """Make ``shop`` the process-wide shop (e.g. one on a test's own graph server)."""
    global _default
    with _default_lock:
        _default = shop


def reset_default_shop() -> None:
    """Forget the process-wide shop, so the next use reads the settings again."""
    global _default
    with _default_lock:
        _default = None

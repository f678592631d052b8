"""The shop's knowledge in one place: a SPARQL endpoint plus the live catalog vocabulary."""

from __future__ import annotations

import threading
from typing import Optional

from knowledge.matcher import PhraseTagger, Span
from knowledge.products import Comparison, Product, SearchFacets, compare_products, get_product, search_products
from knowledge.settings import Settings, get_settings
from knowledge.sparql import HttpSparqlClient, SparqlEndpoint
from knowledge.vocabulary import CachedVocabulary, Resolution, Vocabulary, load_vocabulary


class Shop:
    """Answers about products and policies from a knowledge graph, with names kept fresh."""

    def __init__(self, kg: SparqlEndpoint, vocabulary_max_age: float = 2.0) -> None:
        self.kg = kg
        self._vocabulary = CachedVocabulary(lambda: load_vocabulary(kg), vocabulary_max_age, background=True)
        self._tagger: Optional[tuple[int, PhraseTagger]] = None

    @classmethod
    def from_settings(cls, settings: Optional[Settings] = None) -> "Shop":
        """A shop on the SPARQL endpoint the settings name."""
        settings = settings or get_settings()
        auth = (settings.sparql_user, settings.sparql_password) if settings.sparql_user else None
        client = HttpSparqlClient(
            settings.sparql_query_url, settings.sparql_update_url, timeout=settings.sparql_timeout, auth=auth
        )
        return cls(client, settings.catalog_cache_seconds)

    def vocabulary(self) -> Vocabulary:
        """The catalog's names as the graph holds them now (cached for a few seconds)."""
        return self._vocabulary.get()

    def refresh(self) -> None:
        """Reload names from the graph on the next call, e.g. right after an edit."""
        self._vocabulary.invalidate()

    def tag(self, text: str) -> list[Span]:
        """Catalog phrases (products, brands, categories, colours, materials) in a message."""
        phrases = self.vocabulary().phrases()
        signature = hash(tuple((label, tuple(items)) for label, items in phrases.items()))
        if self._tagger is None or self._tagger[0] != signature:
            self._tagger = (signature, PhraseTagger(phrases))
        return self._tagger[1].tag(text)

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
        return search_products(self.kg, facets)

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

"""The shop's recommender: trained from the interaction log and the shopper segments, asked mid-conversation.

Training (:func:`train`) reads the shop's history (``interactions``) and the live behaviour log
(``behaviour_events``: what shoppers did in the chat and on the store page, guests by conversation), the
catalog's attributes from the graph and each customer's stored segment (``shopbot segments build``).

Asking (:class:`ShopRecommender`) always honours the request (:class:`~knowledge.recommend.request.Request`:
category, brand, colour, budget, descriptive words, in stock, not bought before): candidates are ranked
first and filtered before the top N are taken, and when the ranking runs dry a search of the graph fills
the list, so an answer is empty only when nothing in the catalog fits. Whom the picks are for decides the
ranking and the reason the shopper is told:

* a customer with enough history: the hybrid's picks ("shoppers who bought the X also bought this");
* a customer with little history and a segment (stored, or placed at the nearest centroid from the
  products they looked at in this conversation): the segment's popular items ("popular with Bargain
  hunters like you");
* anyone who looked at products: items like those ("shoppers who liked the X also liked this");
* otherwise what is popular now.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
from sqlalchemy import func, select

from knowledge.products import Product, SearchFacets, all_product_ids, get_products, search_products
from knowledge.recommend.base import InteractionArrays, load_model, read_header
from knowledge.recommend.hybrid import Hybrid
from knowledge.recommend.request import Request, product_stems
from knowledge.shopdb.behaviour import live_interactions, session_products
from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import Interaction, Order, OrderLine

logger = logging.getLogger(__name__)

#: How much each kind of history event says about a shopper's taste (ratings count by their value).
EVENT_WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0}
#: A shopper without a segment is placed at the nearest centroid after looking at this many products.
MIN_SESSION_VIEWS = 3
#: Ranked candidates checked against the request (in chunks), before the graph search fills the rest.
MAX_CANDIDATES = 1000
CHUNK = 100
SEGMENTS_FILE = "segments.npz"
Progress = Optional[Callable[[str], None]]
Search = Callable[[SearchFacets], list[Product]]


@dataclass(frozen=True)
class Suggestion:
    """A product to suggest, with its score and the reason the shopper is told."""

    product: Product
    score: float
    reason: str


# --- training -------------------------------------------------------------------------------------


def shop_interactions(db: DB) -> list[tuple[str, str, float, datetime]]:
    """(customer or ``session:<id>``, product, weight, last time): the history's events summed by weight, and the live log's."""
    weights: dict[tuple[str, str], float] = defaultdict(float)
    latest: dict[tuple[str, str], datetime] = {}
    with session_scope(db) as session:
        rows = session.execute(
            select(Interaction.customer_id, Interaction.product_id, Interaction.kind, func.sum(Interaction.value),
                   func.count(), func.max(Interaction.at))
            .group_by(Interaction.customer_id, Interaction.product_id, Interaction.kind)
        )
        for customer, product, kind, total, count, last in rows:
            key = (customer, product)
            weights[key] += float(total) if kind == "rating" else EVENT_WEIGHTS.get(kind, 1.0) * count
            latest[key] = max(latest.get(key, last), last)
    for user, product, weight, last in live_interactions(db):
        key = (user, product)
        weights[key] += weight
        latest[key] = max(latest.get(key, last), last)
    return [(user, product, weight, latest[(user, product)]) for (user, product), weight in weights.items()]


def purchased(db: DB, customer_id: str) -> list[str]:
    """The products a customer has bought, most recent first."""
    with session_scope(db) as session:
        rows = session.execute(
            select(OrderLine.product_id).join(Order, Order.id == OrderLine.order_id)
            .where(Order.customer_id == customer_id, Order.status != "cancelled")
            .order_by(Order.placed_at.desc())
        )
        return list(dict.fromkeys(row[0] for row in rows))


def item_features(products: Iterable[Product]) -> dict[str, dict[str, object]]:
    """The graph attributes the content-based part of the hybrid learns from."""
    return {
        p.id: {"category": p.category, "brand": p.brand, "price": float(p.price), "color": " ".join(p.colors),
               "material": p.material, "description": p.description}
        for p in products
    }


def train(
    db: DB,
    products: Sequence[Product],
    path: Path,
    segments: Optional[dict[str, str]] = None,
    min_history: Optional[int] = None,
) -> Hybrid:
    """Fit the hybrid on the interaction log, the products' attributes and the stored segments; save it to ``path``.

    ``min_history``: customers with fewer products in their history get their segment's picks (default
    ``SHOPBOT_RECOMMEND_MIN_HISTORY``).
    """
    from knowledge.segments.storage import customer_segments
    from knowledge.settings import get_settings

    min_history = get_settings().recommend_min_history if min_history is None else min_history
    rows = shop_interactions(db)
    if not rows:
        raise ValueError("the interaction log is empty: nothing to learn from (run `shopbot shop generate`)")
    data = InteractionArrays.from_tuples(rows)
    user_segments = customer_segments(db) if segments is None else segments
    model = Hybrid(min_interactions=min_history).fit(data, item_features=item_features(products),
                                                     user_segments=user_segments)
    model.save(path)
    return model


def is_current(path: Path) -> bool:
    """Whether ``path`` holds a model this version of shopbot can load."""
    try:
        read_header(path)
    except (OSError, ValueError, KeyError):
        return False
    return True


def ensure_model(path: Path, db: DB, kg, progress: Progress = None) -> Path:  # noqa: ANN001 - a SparqlEndpoint
    """The saved model at ``path``; when it is missing (or of an older format), segments then recommender are built first."""
    if not is_current(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        refresh(db, kg, path, path.with_name(SEGMENTS_FILE), progress=progress, segments_if_missing=True)
    return path


def refresh(
    db: DB,
    kg,  # noqa: ANN001 - a SparqlEndpoint
    model_path: Path,
    segments_path: Path,
    currency: str = "",
    progress: Progress = None,
    segments_if_missing: bool = False,
    step: Optional[Callable[[str], None]] = None,
) -> Hybrid:
    """The nightly job: shopper segments from the database and the live catalog (stored, saved), then the recommender.

    ``segments_if_missing`` builds segments only when none are stored yet (the first start); ``step`` is
    told each step's name as it starts (a progress bar).
    """
    from knowledge.segments import build_segments_from_graph, customer_segments, store_segments

    tell = step or (lambda name: None)
    stored = customer_segments(db, with_no_purchase=True)
    if not (segments_if_missing and stored and segments_path.exists()):
        tell("segments")
        try:
            model = build_segments_from_graph(db, kg, currency=currency, progress=progress)
        except ValueError as error:  # too few customers to cluster: the recommender works without
            logger.warning("no shopper segments: %s", error)
            if progress:
                progress(f"no shopper segments: {error}")
        else:
            store_segments(db, model)
            model.save(segments_path)
    tell("catalog")
    products = get_products(kg, all_product_ids(kg))
    tell("recommender")
    return train(db, products, model_path)


# --- asking ---------------------------------------------------------------------------------------


def shopper_label(segment_name: str) -> str:
    """A segment's name as a shopper reads it (without the "#2" that tells equal names apart)."""
    return re.sub(r"\s+#\d+$", "", segment_name).strip()


@dataclass
class _Ranking:
    """Ranked product ids, why, and the products the ranking was built from."""

    ranked: list[tuple[str, float]]
    reason: Callable[[Product], str]
    exclude: set[str] = field(default_factory=set)


class ShopRecommender:
    """Suggestions for a shopper that fit the request, in stock per the graph, each with a reason."""

    def __init__(self, model: Hybrid, kg, db: DB, segments=None, min_session_views: int = MIN_SESSION_VIEWS,  # noqa: ANN001 - kg: any SPARQL client of knowledge.sparql; segments: a fitted ShopperSegments or None
                 search: Optional[Search] = None) -> None:
        self.model, self.kg, self.db = model, kg, db
        # the shop's faceted search (Shop.search: from the facet index in memory), else a SPARQL query
        self.search: Search = search or (lambda facets: search_products(kg, facets))
        self.segments = segments  # a SegmentModel, for placing shoppers without a segment
        self.min_session_views = min_session_views
        self._words: Optional[frozenset[str]] = None

    @classmethod
    def load(cls, path: Path, kg, db: DB, segments_path: Optional[Path] = None,  # noqa: ANN001 - kg: any SPARQL client of knowledge.sparql
             search: Optional[Search] = None) -> "ShopRecommender":
        """A recommender from a model saved by :func:`train` (and the segment model next to it, if any)."""
        from knowledge.segments.model import SegmentModel

        segments_path = segments_path or path.with_name(SEGMENTS_FILE)
        segments = SegmentModel.load(segments_path) if segments_path.exists() else None
        return cls(load_model(path), kg, db, segments, search=search)  # type: ignore[arg-type]

    def catalog_words(self) -> frozenset[str]:
        """Every word (stem) the catalog describes its products with, read once from the graph."""
        if self._words is None:
            ids = all_product_ids(self.kg)
            words: set[str] = set()
            for start in range(0, len(ids), 500):
                for product in get_products(self.kg, ids[start : start + 500]):
                    words |= product_stems(product)
            self._words = frozenset(words)
        return self._words

    # --- who the picks are for --------------------------------------------------------------------

    def segment_for(self, customer_id: Optional[str], viewed: Sequence[str] = ()) -> Optional[str]:
        """The shopper's segment: stored for the customer, else the nearest centroid to what they looked at."""
        from knowledge.segments.storage import segment_of

        if customer_id:
            stored = segment_of(self.db, customer_id)
            if stored is not None and stored.id >= 0:
                return stored.name
        return self.place(viewed)

    def place(self, viewed: Sequence[str]) -> Optional[str]:
        """The segment whose centroid is nearest to the products looked at (at least ``min_session_views``)."""
        if self.segments is None or len(viewed) < self.min_session_views:
            return None
        found = self.segments.place_by_products(get_products(self.kg, list(viewed)[-50:]))
        segment = self.segments.segment(found) if found is not None else None
        return segment.name if segment is not None and segment.name in self.model.segments else None

    # --- the rankings -------------------------------------------------------------------------------

    def _personal(self, customer_id: str) -> _Ranking:
        bought = purchased(self.db, customer_id)
        history = {p.id: p for p in get_products(self.kg, bought[:20])}
        segment = self.model.segment_of(customer_id)

        def reason(product: Product) -> str:
            same = next((b for b in history.values() if b.category == product.category), None)
            if same is not None:
                return f"shoppers who bought the {same.name} also bought this"
            if segment:
                return f"popular with {shopper_label(segment)} like you"
            return "picked for you from what you bought and looked at" if bought else "picked for you from what you looked at"

        ranked = self.model.recommend(customer_id, n=len(self.model.item_index_), exclude_seen=False)
        return _Ranking(ranked, reason, set(bought))

    def _segment(self, segment: str, exclude: Iterable[str]) -> _Ranking:
        scores = self.model.fallback_scores(segment=segment)
        order = np.argsort(-scores, kind="stable")
        ranked = list(zip(self.model.item_index_.decode(order), scores[order].tolist()))
        return _Ranking(ranked, lambda product: f"popular with {shopper_label(segment)} like you", set(exclude))

    def _like(self, product_ids: Sequence[str]) -> Optional[_Ranking]:
        names = {p.id: p.name for p in get_products(self.kg, list(product_ids))}
        ranked: list[tuple[str, float]] = []
        source: dict[str, str] = {}
        for product_id in reversed(list(product_ids)):  # the latest looked at first
            try:
                similar = self.model.similar_items(product_id, n=100)
            except (KeyError, NotImplementedError, ValueError):
                continue
            for item, score in similar:
                if item not in source:
                    source[item] = names.get(product_id, product_id)
                    ranked.append((item, score))
        if not ranked:
            return None
        return _Ranking(ranked, lambda product: f"shoppers who liked the {source.get(product.id, 'last one')} also "
                                                 "liked this", set(product_ids))

    def _popular(self) -> _Ranking:
        ranked = self.model.recommend("__nobody__", n=len(self.model.item_index_), exclude_seen=False)
        return _Ranking(ranked, lambda product: "popular with our shoppers right now")

    def ranking(
        self, request: Request, customer_id: Optional[str] = None, viewed: Sequence[str] = ()
    ) -> _Ranking:
        """How to rank for this shopper and request (see the module's docstring)."""
        if request.similar_to:
            like = self._like([request.similar_to])
            if like is not None:
                return like
        if customer_id and not self.model.is_cold(customer_id):
            return self._personal(customer_id)
        segment = self.segment_for(customer_id, viewed)
        if segment is not None and self.model.segment_scores(segment) is not None:
            return self._segment(segment, purchased(self.db, customer_id) if customer_id else ())
        if viewed:
            like = self._like(list(viewed)[-5:])
            if like is not None:
                return like
        return self._popular()

    # --- fitting the request --------------------------------------------------------------------------

    def _fitting(self, ranking: _Ranking, request: Request) -> list[Suggestion]:
        skip = ranking.exclude | set(request.exclude)
        candidates = [(pid, score) for pid, score in ranking.ranked if pid not in skip][:MAX_CANDIDATES]
        picks: list[Suggestion] = []
        start, size = 0, max(3 * request.n, 8)  # most requests fit the first few; a narrow one reads on in bigger chunks
        while start < len(candidates):
            chunk = candidates[start : start + size]
            start, size = start + size, min(4 * size, CHUNK)
            facts = {p.id: p for p in get_products(self.kg, [pid for pid, _ in chunk])}
            for pid, score in chunk:
                product = facts.get(pid)
                if product is not None and request.matches(product):
                    picks.append(Suggestion(product, score, ranking.reason(product)))
                    if len(picks) >= request.n:
                        return picks
        return picks

    def _search(self, request: Request, skip: set[str], n: int) -> list[Suggestion]:
        """Products that fit the request straight from the graph (best rated first), for when the ranking runs dry."""
        facets = SearchFacets(
            category=request.category, brand=request.brand, color=request.color, material=request.material,
            size=request.size, min_price=request.min_price, max_price=request.max_price, in_stock=request.in_stock,
            sort="rating", limit=50, exclude=tuple(sorted(skip))[:50],
        )
        found = [p for p in self.search(facets) if p.id not in skip and request.matches(p)]
        return [Suggestion(p, 0.0, "one of our best rated that fits what you asked for") for p in found[:n]]

    def recommend(
        self,
        request: Optional[Request] = None,
        customer_id: Optional[str] = None,
        session_id: Optional[str] = None,
        viewed: Sequence[str] = (),
    ) -> list[Suggestion]:
        """Up to ``request.n`` products for the shopper that fit the request, each with its reason."""
        request = request or Request()
        if request.words:  # words no product is described by ("a gift for my dad") narrow nothing
            request = request.known_words(self.catalog_words())
        looked_at = list(dict.fromkeys([*(session_products(self.db, session_id) if session_id else []), *viewed]))
        ranking = self.ranking(request, customer_id, looked_at)
        picks = self._fitting(ranking, request)
        if len(picks) < request.n:
            skip = ranking.exclude | set(request.exclude) | {s.product.id for s in picks}
            picks += self._search(request, skip, request.n - len(picks))
        return picks

    # --- the earlier entry points ---------------------------------------------------------------------

    def for_customer(self, customer_id: str, n: int = 3, category: Optional[str] = None) -> list[Suggestion]:
        """Picks for a known customer: in stock, not bought before, optionally in one category."""
        return self.recommend(Request(category=category, n=n), customer_id=customer_id)

    def like(self, product_ids: Sequence[str], n: int = 3) -> list[Suggestion]:
        """Picks for a shopper who looked at these products: items similar to them, in stock."""
        return self.recommend(Request(n=n), viewed=product_ids)

    def popular(self, n: int = 3) -> list[Suggestion]:
        """The most popular products in stock."""
        return self._fitting(self._popular(), Request(n=n))


class LiveRecommender:
    """The shop's recommender as saved on disk, reloaded when the model or segment file changes (no restart)."""

    def __init__(self, path: Path, kg, db: DB, check_seconds: float = 1.0,  # noqa: ANN001 - kg: any SPARQL client of knowledge.sparql
                 search: Optional[Search] = None) -> None:
        self.path, self.kg, self.db, self.search = Path(path), kg, db, search
        self.segments_path = self.path.with_name(SEGMENTS_FILE)
        self.check_seconds = check_seconds
        self._current: Optional[ShopRecommender] = None
        self._stamp: tuple[int, int] = (-1, -1)
        self._checked = 0.0
        self._lock = threading.Lock()

    def _stamps(self) -> tuple[int, int]:
        def mtime(path: Path) -> int:
            try:
                return path.stat().st_mtime_ns
            except FileNotFoundError:
                return 0

        return mtime(self.path), mtime(self.segments_path)

    def get(self) -> ShopRecommender:
        """The current recommender: loaded on first use, and again once its files' mtimes change."""
        now = time.monotonic()
        with self._lock:
            if self._current is not None and now - self._checked < self.check_seconds:
                return self._current
            self._checked = now
            stamp = self._stamps()
            if self._current is None or stamp != self._stamp:
                try:
                    self._current = ShopRecommender.load(self.path, self.kg, self.db, self.segments_path, self.search)
                    self._stamp = stamp
                    logger.info("recommender loaded from %s", self.path)
                except (OSError, ValueError) as error:
                    if self._current is None:
                        raise
                    logger.warning("kept the previous recommender: %s could not be loaded (%s)", self.path, error)
            return self._current

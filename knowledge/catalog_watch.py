"""Keeping what a process holds in memory about the catalog (names, facets) current, without re-reading it all.

A :class:`CatalogWatch` polls the graph's catalog state (``knowledge.catalog_state``: one tiny query every
``KG_CACHE_SECONDS``) in a background thread. Each *follower* (the names of ``knowledge.vocabulary``, the
facets of ``knowledge.catalog_index``) is built once from the graph, then:

* when the load id changed (a new catalog was loaded), the graph went back in time, or the audit log cannot
  say what changed, the follower is rebuilt in the background while the old one keeps answering;
* when only the change counter moved, the audit log (``kg_changes``) names the subjects the new changes
  touched and the follower re-reads just those products (and its small tables if other nodes changed).

A staff edit is therefore seen within one poll plus a few milliseconds of reading, at any catalog size.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from rdflib import URIRef

from knowledge.catalog_state import CatalogState, read_state
from knowledge.editing.documents import is_product_iri
from knowledge.sparql import SparqlEndpoint

if TYPE_CHECKING:
    from knowledge.shopdb.engine import ShopDB

logger = logging.getLogger(__name__)

#: Changes after a given audit id (up to another): ``(id, subjects)`` oldest first, or None if the log is unreadable.
ChangeLog = Callable[[int, int], Optional[list[tuple[int, tuple[URIRef, ...]]]]]
MAX_CHANGES = 1_000  # more changes than this in one poll: rebuilding is cheaper than replaying them
PENDING_ROUNDS = 5  # polls to wait for an audit row the graph already counts (its transaction still committing)


class Follower(Protocol):
    """Something built from the catalog and kept current by a :class:`CatalogWatch`."""

    name: str

    def rebuild(self, kg: SparqlEndpoint) -> None:
        """Read everything it holds from the graph again (the old state answers until the new one is ready)."""

    def update(self, kg: SparqlEndpoint, products: set[URIRef], others: set[URIRef]) -> None:
        """Re-read these changed products, and the small tables when ``others`` (brands, categories...) changed."""


@dataclass
class _Followed:
    follower: Follower
    seen: Optional[CatalogState] = None  # None: never built
    stale: bool = False  # rebuild on the next use or poll
    pending: int = 0  # polls spent waiting for an audit row the graph already counts
    lock: threading.Lock = field(default_factory=threading.Lock)


class AuditChangeLog:
    """The audit log of the shop database as a :data:`ChangeLog` (connected on first use)."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._db: Optional[ShopDB] = None
        self._failing = False

    def __call__(self, after: int, upto: int) -> Optional[list[tuple[int, tuple[URIRef, ...]]]]:
        from knowledge.editing.audit import changed_subjects
        from knowledge.shopdb.engine import connect

        try:
            if self._db is None:
                self._db = connect(self._url)
            rows = changed_subjects(self._db, after, upto, limit=MAX_CHANGES + 1)
        except Exception as error:  # noqa: BLE001 - no log to read: the follower is rebuilt instead
            if not self._failing:
                logger.warning("audit log %s unreadable, rebuilding the catalog's names instead: %s", self._url, error)
            self._failing = True
            return None
        self._failing = False
        return rows


class CatalogWatch:
    """Polls the graph's catalog state and keeps every registered follower current (see the module's doc)."""

    def __init__(self, kg: SparqlEndpoint, poll_seconds: float, changes: Optional[ChangeLog] = None,
                 background: bool = True) -> None:
        self.kg = kg
        self.poll_seconds = poll_seconds
        self._changes = changes
        self._background = background
        self._followed: dict[str, _Followed] = {}
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._wake = threading.Event()
        self._failing = False

    def ensure(self, follower: Follower) -> None:
        """Build ``follower`` now if it never was (or was invalidated), and keep it current from then on."""
        with self._lock:
            followed = self._followed.setdefault(follower.name, _Followed(follower))
        if followed.seen is None or followed.stale:
            with followed.lock:
                if followed.seen is None or followed.stale:
                    self._rebuild(followed)
        self._start()

    def invalidate(self, name: Optional[str] = None) -> None:
        """Rebuild one follower (or all) on its next use."""
        with self._lock:
            for key, followed in self._followed.items():
                if name is None or key == name:
                    followed.stale = True

    def check(self) -> None:
        """One round: read the catalog state and bring every built follower up to it."""
        state = read_state(self.kg)
        with self._lock:
            followed = [f for f in self._followed.values() if f.seen is not None]
        for item in followed:
            with item.lock:
                self._follow(item, state)

    def _follow(self, item: _Followed, state: CatalogState) -> None:
        seen = item.seen
        if seen is None:
            return
        if item.stale or state.load_id != seen.load_id or state.last_change < seen.last_change:
            self._rebuild(item)
            return
        if state.last_change == seen.last_change:
            return
        rows = self._changes(seen.last_change, state.last_change) if self._changes else None
        if rows is None or len(rows) > MAX_CHANGES:
            self._rebuild(item)
            return
        if rows:
            products = {s for _, subjects in rows for s in subjects if is_product_iri(s)}
            others = {s for _, subjects in rows for s in subjects if not is_product_iri(s)}
            item.follower.update(self.kg, products, others)
            item.seen = seen = CatalogState(seen.load_id, rows[-1][0])
        if seen.last_change < state.last_change:  # the graph counts a change whose audit row isn't committed yet
            item.pending += 1
            if item.pending >= PENDING_ROUNDS:  # rolled back, or written by someone else: read everything
                self._rebuild(item)
        else:
            item.pending = 0

    def _rebuild(self, item: _Followed) -> None:
        state = read_state(self.kg)  # before reading: a change made meanwhile is replayed on the next poll
        item.follower.rebuild(self.kg)
        item.seen, item.stale, item.pending = state, False, 0

    def _start(self) -> None:
        if not self._background or self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=_watch, args=(weakref.ref(self), self._wake, self.poll_seconds),
                                            name="catalog-watch", daemon=True)
        self._thread.start()

    def _round(self) -> None:
        try:
            self.check()
        except Exception as error:  # noqa: BLE001 - keep serving what we hold; try again next round
            log = logger.debug if self._failing else logger.warning  # once per outage, not once per round
            log("catalog watch: could not follow the graph, serving what is held: %s", error)
            self._failing = True
            return
        if self._failing:
            logger.info("catalog watch: following the graph again")
            self._failing = False


def _watch(watch_ref: "weakref.ref[CatalogWatch]", wake: threading.Event, interval: float) -> None:
    """Poll every ``interval`` seconds while the watch exists."""
    while True:
        wake.wait(interval)
        wake.clear()
        watch = watch_ref()
        if watch is None:
            return
        watch._round()
        del watch

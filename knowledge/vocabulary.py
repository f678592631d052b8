"""The words of the catalog: product names, brands, categories, colours, materials and sizes."""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Optional

from rapidfuzz import fuzz, process

from knowledge.namespaces import product_id_of
from knowledge.sparql import SparqlEndpoint, render

logger = logging.getLogger(__name__)

STOPWORDS = frozenset({"the", "a", "an", "this", "that", "these", "those", "my", "your", "one", "ones", "of"})
_NON_WORD = re.compile(r"[^\w\s\-]+", re.UNICODE)


def normalize(text: str) -> str:
    """Lowercase words of a mention without punctuation or leading articles."""
    words = _NON_WORD.sub(" ", text.lower()).split()
    while words and words[0] in STOPWORDS:
        words.pop(0)
    return " ".join(words)


@dataclass(frozen=True)
class Match:
    """A product that a mention may refer to, with a score from 0 to 100."""

    product_id: str
    name: str
    score: float


@dataclass(frozen=True)
class Resolution:
    """The products a mention may refer to, best first."""

    mention: str
    matches: tuple[Match, ...]

    @property
    def best(self) -> Optional[Match]:
        """The single product meant, or None when nothing or several match equally well."""
        if not self.matches or self.ambiguous:
            return None
        return self.matches[0]

    @property
    def ambiguous(self) -> bool:
        """Whether several products match about equally well, so the shopper must choose."""
        return len(self.matches) > 1 and self.matches[1].score >= self.matches[0].score - 3


@dataclass
class Vocabulary:
    """The catalog's names, indexed for exact, partial and fuzzy lookup."""

    product_names: dict[str, str] = field(default_factory=dict)  # product id -> display name
    keys: list[str] = field(default_factory=list)  # normalised names and alternative names
    owners: list[str] = field(default_factory=list)  # product id of each key
    categories: dict[str, str] = field(default_factory=dict)  # normalised label or synonym -> label
    brands: dict[str, str] = field(default_factory=dict)  # normalised name -> name
    colors: set[str] = field(default_factory=set)
    materials: set[str] = field(default_factory=set)
    sizes: set[str] = field(default_factory=set)
    _prefixes: dict[int, list[str]] = field(default_factory=dict, repr=False)  # names cut to n words

    def add_product_name(self, product_id: str, text: str, display: bool) -> None:
        """Index one name or alternative name of a product."""
        key = normalize(text)
        if display:
            self.product_names[product_id] = text
        if key:
            self.keys.append(key)
            self.owners.append(product_id)

    def resolve(self, mention: str, limit: int = 5) -> Resolution:
        """The products a shopper's mention may refer to: exact, partial and fuzzy matches, ranked."""
        query = normalize(mention)[:200]
        if not query:
            return Resolution(mention, ())
        scores: dict[str, float] = defaultdict(float)
        upper = query.upper()
        if upper in self.product_names:
            scores[upper] = 101.0
        words = query.split()
        if not any(len(word) >= 3 and not word.isdigit() for word in words):
            return Resolution(mention, tuple(Match(pid, self.product_names[pid], 101.0) for pid in scores))
        for key, owner in zip(self.keys, self.owners):
            if key == query:
                score = 100.0
            elif _contains_words(key, words):
                score = 88.0 + 10.0 * len(words) / max(len(key.split()), len(words))
            else:
                continue
            scores[owner] = max(scores[owner], score)
        if not scores:
            for owner, score in self._fuzzy(query):
                scores[owner] = max(scores[owner], score)
        if max(scores.values(), default=0.0) >= 100.0:  # a whole name or alternative name: no need to ask which
            scores = {owner: score for owner, score in scores.items() if score >= 100.0}
        ranked = sorted(scores.items(), key=lambda item: (-item[1], self.product_names.get(item[0], "")))
        return Resolution(
            mention,
            tuple(Match(pid, self.product_names.get(pid, pid), round(score, 1)) for pid, score in ranked[:limit]),
        )

    def _fuzzy(self, query: str) -> list[tuple[str, float]]:
        """Near spellings: the query against whole names and against names cut to the query's word count."""
        width = min(len(query.split()), 4)
        if width not in self._prefixes:
            self._prefixes[width] = [" ".join(key.split()[:width]) for key in self.keys]
        found = []
        for choices in (self.keys, self._prefixes[width]):
            for _, score, index in process.extract(query, choices, scorer=fuzz.ratio, limit=25, score_cutoff=80):
                found.append((self.owners[index], min(float(score), 97.0) - 10.0))
        return found

    def category(self, text: str) -> Optional[str]:
        """The category label a shopper's word refers to, if any."""
        return _lookup(self.categories, text)

    def brand(self, text: str) -> Optional[str]:
        """The brand a shopper's word refers to, if any."""
        return _lookup(self.brands, text)

    def color(self, text: str) -> Optional[str]:
        """The catalog colour a shopper's word refers to, if any."""
        return _lookup({c: c for c in self.colors}, text)

    def material(self, text: str) -> Optional[str]:
        """The catalog material a shopper's word refers to, if any."""
        return _lookup({m: m for m in self.materials}, text)

    def size(self, text: str) -> Optional[str]:
        """The catalog size a shopper's word refers to, if any."""
        sizes = {s.lower(): s for s in self.sizes}
        return sizes.get(text.strip().lower())

    def phrases(self) -> dict[str, list[str]]:
        """Every catalog phrase by entity type, for a phrase matcher."""
        return {
            "product": sorted(set(self.keys)),
            "brand": sorted(self.brands),
            "category": sorted(self.categories),
            "color": sorted(self.colors),
            "material": sorted(self.materials),
        }


def _contains_words(key: str, words: list[str]) -> bool:
    key_words = key.split()
    return all(word in key_words for word in words[:-1]) and any(k.startswith(words[-1]) for k in key_words)


def _lookup(table: dict[str, str], text: str) -> Optional[str]:
    query = normalize(text)
    if not query:
        return None
    if query in table:
        return table[query]
    if query.endswith("s") and query[:-1] in table:
        return table[query[:-1]]
    found = process.extractOne(query, list(table), scorer=fuzz.ratio, score_cutoff=85)
    return table[found[0]] if found else None


_NAMES = """SELECT ?p ?kind ?text WHERE {
  { ?p a schema:Product ; schema:name ?text BIND("name" AS ?kind) }
  UNION { ?p a schema:Product ; schema:alternateName ?text BIND("alt" AS ?kind) }
  UNION { ?p a shop:Category ; schema:name ?text BIND("category" AS ?kind) }
  UNION { ?p a shop:Category ; shop:synonym ?text BIND("category_synonym" AS ?kind) }
  UNION { ?p a schema:Brand ; schema:name ?text BIND("brand" AS ?kind) }
  UNION { SELECT DISTINCT ?text ?kind WHERE { ?x schema:color ?text BIND("color" AS ?kind) } }
  UNION { SELECT DISTINCT ?text ?kind WHERE { ?x schema:material ?text BIND("material" AS ?kind) } }
  UNION { SELECT DISTINCT ?text ?kind WHERE { ?x schema:size ?text BIND("size" AS ?kind) } }
}"""


def load_vocabulary(kg: SparqlEndpoint) -> Vocabulary:
    """The catalog's vocabulary as the graph holds it now (one query)."""
    vocab = Vocabulary()
    category_labels: dict[str, str] = {}
    synonyms: list[tuple[str, str]] = []
    for row in kg.select(render(_NAMES)):
        kind, text = str(row["kind"]), str(row["text"])
        node = str(row.get("p", ""))
        if kind in ("name", "alt"):
            vocab.add_product_name(product_id_of(node), text, display=kind == "name")
        elif kind == "category":
            category_labels[node] = text
            vocab.categories[normalize(text)] = text
        elif kind == "category_synonym":
            synonyms.append((node, text))
        elif kind == "brand":
            vocab.brands[normalize(text)] = text
        elif kind == "color":
            vocab.colors.add(text.lower())
        elif kind == "material":
            vocab.materials.add(text.lower())
        elif kind == "size":
            vocab.sizes.add(text)
    for node, text in synonyms:
        if node in category_labels:
            vocab.categories.setdefault(normalize(text), category_labels[node])
    return vocab


class CachedVocabulary:
    """The vocabulary, reloaded from the graph when older than a few seconds, so edits are seen live.

    With ``background=True`` a daemon thread reloads it every ``max_age`` seconds once it was first used
    (and at once when a caller finds it stale), so a shopper's message never waits for a reload and an
    edit is seen within ``max_age`` plus one reload; only the very first load blocks. The thread ends
    when the cache is garbage-collected.
    """

    def __init__(self, loader: Callable[[], Vocabulary], max_age: float, background: bool = False) -> None:
        self._loader = loader
        self._max_age = max_age
        self._background = background
        self._value: Optional[Vocabulary] = None
        self._loaded_at = 0.0
        self._wake = threading.Event()
        self._refresher: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._failing = False

    def get(self) -> Vocabulary:
        """The vocabulary, fresh within the configured age."""
        with self._lock:
            stale = self._value is None or time.monotonic() - self._loaded_at > self._max_age
            if stale and (self._value is None or not self._background):
                self._value = self._loader()
                self._loaded_at = time.monotonic()
            elif stale:
                self._wake.set()
            if self._background and self._refresher is None:
                self._refresher = threading.Thread(target=_refresh, args=(weakref.ref(self), self._wake, self._max_age),
                                                   name="vocabulary-refresh", daemon=True)
                self._refresher.start()
            return self._value

    def _reload(self) -> None:
        try:
            value = self._loader()
        except Exception as error:  # noqa: BLE001 - keep serving the last vocabulary; retry next round
            with self._lock:  # not stale again before the next round: no retry storm while the graph is down
                self._loaded_at = time.monotonic()
            log = logger.debug if self._failing else logger.warning  # once per outage, not once per round
            log("catalog vocabulary reload failed, serving the last one: %s", error)
            self._failing = True
            return
        with self._lock:
            self._value, self._loaded_at = value, time.monotonic()
        if self._failing:
            logger.info("catalog vocabulary reloaded again")
            self._failing = False

    def invalidate(self) -> None:
        """Forget the cached vocabulary so the next call reloads it."""
        with self._lock:
            self._value = None


def _refresh(cache_ref: "weakref.ref[CachedVocabulary]", wake: threading.Event, interval: float) -> None:
    """Reload a background cache every ``interval`` seconds, or when woken, while the cache exists."""
    while True:
        wake.wait(interval)
        wake.clear()
        cache = cache_ref()
        if cache is None:
            return
        cache._reload()
        del cache

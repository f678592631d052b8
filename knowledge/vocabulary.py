"""The words of the catalog: product names, brands, categories, colours, materials and sizes.

:class:`Vocabulary` indexes the names for mention resolution at any catalog size: an exact-name table, an
inverted index from words to names (partial names: "the trailblazer"), and for typos a comparison with the
names that share a near word ("trailblazr" -> "trailblazer"), so one resolution looks at a bounded number of
names. :class:`CatalogNames` builds it (and the phrase tagger of ``knowledge.matcher``) once from the graph
and then takes what changed from a ``knowledge.catalog_watch.CatalogWatch``.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Optional

from rapidfuzz import fuzz, process
from rdflib import URIRef

from knowledge.matcher import PhraseTagger, Span
from knowledge.namespaces import product_id_of
from knowledge.sparql import SparqlEndpoint, render, select_values

logger = logging.getLogger(__name__)

STOPWORDS = frozenset({"the", "a", "an", "this", "that", "these", "those", "my", "your", "one", "ones", "of"})
_NON_WORD = re.compile(r"[^\w\s\-]+", re.UNICODE)
PARTIAL_CANDIDATES = 20_000  # names a one-word partial mention is compared with, at most
FUZZY_SCAN_KEYS = 10_000  # up to this many names a typo is compared with all of them; above, with those sharing a near word
FUZZY_CANDIDATES = 20_000  # names a typo is compared with, at most
NEAR_WORDS = 5  # catalog words taken as near spellings of each word of a typo


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


@dataclass(eq=False)
class Vocabulary:
    """The catalog's names, indexed for exact, partial and fuzzy lookup; safe to update while others read it."""

    product_names: dict[str, str] = field(default_factory=dict)  # product id -> display name
    categories: dict[str, str] = field(default_factory=dict)  # normalised label or synonym -> label
    brands: dict[str, str] = field(default_factory=dict)  # normalised name -> name
    colors: set[str] = field(default_factory=set)
    materials: set[str] = field(default_factory=set)
    sizes: set[str] = field(default_factory=set)
    _keys_of: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)  # product id -> its name keys
    _owners: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)  # name key -> product ids
    _postings: dict[str, set[str]] = field(default_factory=dict, repr=False)  # word -> name keys holding it
    _words: Optional[list[str]] = field(default=None, repr=False)  # sorted words of every name (None: stale)
    _scan: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict, repr=False)  # typo scan lists
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # --- building ---------------------------------------------------------------------------------------

    def add_product_name(self, product_id: str, text: str, display: bool) -> None:
        """Index one name or alternative name of a product."""
        with self._lock:
            if display:
                self.product_names[product_id] = text
            key = normalize(text)
            if key and key not in self._keys_of.get(product_id, ()):
                self._keys_of[product_id] = self._keys_of.get(product_id, ()) + (key,)
                self._add_key(key, product_id)

    def set_product(self, product_id: str, name: Optional[str], alt_names: Iterable[str] = ()) -> tuple[set[str], set[str]]:
        """Give a product exactly these names (``name`` None: it is gone); the name keys added and removed."""
        keys = tuple(dict.fromkeys(k for k in (normalize(t) for t in ([name] if name else []) + list(alt_names)) if k))
        with self._lock:
            old = self._keys_of.pop(product_id, ())
            self.product_names.pop(product_id, None)
            for key in old:
                self._remove_key(key, product_id)
            if name:
                self.product_names[product_id] = name
                self._keys_of[product_id] = keys
                for key in keys:
                    self._add_key(key, product_id)
            else:
                keys = ()
        return ({k for k in keys if k not in old and self._owners.get(k) == (product_id,)},
                {k for k in old if k not in self._owners})

    def _add_key(self, key: str, product_id: str) -> None:
        owners = self._owners.get(key, ())
        if product_id in owners:
            return
        self._owners[key] = owners + (product_id,)
        if not owners:
            for word in set(key.split()):
                posting = self._postings.get(word)
                if posting is None:
                    self._postings[word] = {key}
                    self._words = None
                else:
                    posting.add(key)
            self._scan.clear()

    def _remove_key(self, key: str, product_id: str) -> None:
        owners = tuple(o for o in self._owners.get(key, ()) if o != product_id)
        if owners:
            self._owners[key] = owners
            return
        self._owners.pop(key, None)
        for word in set(key.split()):
            posting = self._postings.get(word)
            if posting is not None:
                posting.discard(key)
                if not posting:
                    del self._postings[word]
                    self._words = None
        self._scan.clear()

    def set_facets(self, categories: dict[str, str], brands: dict[str, str], colors: set[str],
                   materials: set[str], sizes: set[str]) -> None:
        """Replace the small tables: categories, brands, colours, materials and sizes."""
        self.categories, self.brands = categories, brands
        self.colors, self.materials, self.sizes = colors, materials, sizes

    # --- reading ----------------------------------------------------------------------------------------

    @property
    def keys(self) -> list[str]:
        """Every normalised name and alternative name, once."""
        with self._lock:
            return list(self._owners)

    def key_owners(self) -> list[tuple[str, str]]:
        """Every (name key, product id) pair, sorted."""
        with self._lock:
            return sorted((key, owner) for key, owners in self._owners.items() for owner in owners)

    def resolve(self, mention: str, limit: int = 5) -> Resolution:
        """The products a shopper's mention may refer to: exact, partial and fuzzy matches, ranked."""
        query = normalize(mention)[:200]
        if not query:
            return Resolution(mention, ())
        scores: dict[str, float] = defaultdict(float)
        words = query.split()
        with self._lock:
            upper = query.upper()
            if upper in self.product_names:
                scores[upper] = 101.0
            if not any(len(word) >= 3 and not word.isdigit() for word in words):
                return Resolution(mention, tuple(Match(pid, self.product_names[pid], 101.0) for pid in scores))
            self._score_partials(query, words, limit, scores)
            if not scores:
                for owner, score in self._fuzzy(query, words):
                    scores[owner] = max(scores[owner], score)
            if max(scores.values(), default=0.0) >= 100.0:  # a whole name or alternative name: no need to ask which
                scores = {owner: score for owner, score in scores.items() if score >= 100.0}
            names = self.product_names
            ranked = heapq.nsmallest(limit, scores.items(), key=lambda item: (-item[1], names.get(item[0], "")))
            return Resolution(
                mention, tuple(Match(pid, names.get(pid, pid), round(score, 1)) for pid, score in ranked))

    def _score_partials(self, query: str, words: list[str], limit: int, scores: dict[str, float]) -> None:
        """Score the names holding the mention's words: the whole name 100, else more the fewer words it has.

        Names are taken by their width (the more words, the lower the score) and the widths stop once
        ``limit`` products are scored: no product of a wider name could rank among them.
        """
        width = len(words)
        by_width: dict[int, list[str]] = defaultdict(list)
        for key in self._partial_keys(words):
            if key == query:
                for owner in self._owners[key]:
                    scores[owner] = 100.0
            else:
                by_width[max(key.count(" ") + 1, width)].append(key)
        for size in sorted(by_width):
            score = 88.0 + 10.0 * width / size
            for key in by_width[size]:
                for owner in self._owners[key]:
                    if score > scores[owner]:
                        scores[owner] = score
            if len(scores) >= limit:
                return

    def _partial_keys(self, words: list[str]) -> set[str]:
        """Names holding every word of the mention, the last one possibly cut short ("the trailbl")."""
        last = words[-1]
        postings = []
        for word in set(words[:-1]):
            posting = self._postings.get(word)
            if not posting:
                return set()
            postings.append(posting)
        prefixed = self._words_with_prefix(last)
        if postings:
            postings.sort(key=len)
            found = postings[0].intersection(*postings[1:])
            if len(prefixed) <= 50:  # intersect in C with the names holding a word that starts with the last one
                return found & set().union(*(self._postings[w] for w in prefixed)) if prefixed else set()
            return {key for key in found if any(word.startswith(last) for word in key.split())}
        found = set()
        for word in prefixed:  # the whole word first: it sorts before its longer forms
            found |= self._postings[word]
            if len(found) > PARTIAL_CANDIDATES:
                break
        return found

    def _words_with_prefix(self, prefix: str) -> list[str]:
        if self._words is None:
            self._words = sorted(self._postings)
        start = bisect.bisect_left(self._words, prefix)
        end = bisect.bisect_left(self._words, prefix + "\U0010ffff", lo=start)
        return self._words[start:end]

    def _fuzzy(self, query: str, words: list[str]) -> list[tuple[str, float]]:
        """Near spellings: the query against whole names and against names cut to the query's word count."""
        width = min(len(words), 4)
        if len(self._owners) <= FUZZY_SCAN_KEYS:
            if width not in self._scan:
                keys = list(self._owners)
                self._scan[width] = (keys, [" ".join(key.split()[:width]) for key in keys])
            keys, prefixes = self._scan[width]
        else:
            keys = list(self._near_keys(words))
            prefixes = [" ".join(key.split()[:width]) for key in keys]
        found = []
        for choices in (keys, prefixes):
            for _, score, index in process.extract(query, choices, scorer=fuzz.ratio, limit=25, score_cutoff=80):
                for owner in self._owners[keys[index]]:
                    found.append((owner, min(float(score), 97.0) - 10.0))
        return found

    def _near_keys(self, words: list[str]) -> set[str]:
        """Names holding a word spelled like one of the mention's words (at most ``FUZZY_CANDIDATES``)."""
        if self._words is None:
            self._words = sorted(self._postings)
        found: set[str] = set()
        for word in words:
            if len(word) < 3 or word.isdigit():
                continue
            for near, _, _ in process.extract(word, self._words, scorer=fuzz.ratio, limit=NEAR_WORDS, score_cutoff=70):
                found |= self._postings[near]
                if len(found) > FUZZY_CANDIDATES:
                    return found
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
        return {"product": sorted(self.keys), **self.facet_phrases()}

    def facet_phrases(self) -> dict[str, list[str]]:
        """The phrases of brands, categories, colours and materials (the small tables)."""
        return {
            "brand": sorted(self.brands),
            "category": sorted(self.categories),
            "color": sorted(self.colors),
            "material": sorted(self.materials),
        }


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


# --- reading the names from the graph -------------------------------------------------------------------

_PRODUCT_NAMES = "SELECT ?p ?name WHERE { ?p a schema:Product ; schema:name ?name }"
_ALT_NAMES = "SELECT ?p ?name WHERE { ?p a schema:Product ; schema:alternateName ?name }"
_NAMES_OF = """SELECT ?p ?kind ?name WHERE { VALUES ?p { $products } ?p a schema:Product .
  { ?p schema:name ?name BIND("name" AS ?kind) } UNION { ?p schema:alternateName ?name BIND("alt" AS ?kind) } }"""
_CATEGORIES = """SELECT ?c ?kind ?text WHERE { ?c a shop:Category .
  { ?c schema:name ?text BIND("name" AS ?kind) } UNION { ?c shop:synonym ?text BIND("synonym" AS ?kind) } }"""
_BRANDS = "SELECT ?text WHERE { ?b a schema:Brand ; schema:name ?text }"
_VALUES = """SELECT DISTINCT ?kind ?text WHERE {
  { ?x schema:color ?text BIND("color" AS ?kind) } UNION { ?x schema:material ?text BIND("material" AS ?kind) }
  UNION { ?x schema:size ?text BIND("size" AS ?kind) } }"""


def _facet_tables(kg: SparqlEndpoint) -> tuple[dict[str, str], dict[str, str], set[str], set[str], set[str]]:
    labels: dict[str, str] = {}
    synonyms: list[tuple[str, str]] = []
    for row in select_values(kg, render(_CATEGORIES)):
        if row["kind"] == "name":
            labels[row["c"]] = row["text"]
        else:
            synonyms.append((row["c"], row["text"]))
    categories = {normalize(text): text for text in labels.values()}
    for node, text in synonyms:
        if node in labels:
            categories.setdefault(normalize(text), labels[node])
    brands = {normalize(row["text"]): row["text"] for row in select_values(kg, render(_BRANDS))}
    values: dict[str, set[str]] = {"color": set(), "material": set(), "size": set()}
    for row in select_values(kg, render(_VALUES)):
        values[row["kind"]].add(row["text"] if row["kind"] == "size" else row["text"].lower())
    return categories, brands, values["color"], values["material"], values["size"]


def load_vocabulary(kg: SparqlEndpoint) -> Vocabulary:
    """The catalog's vocabulary as the graph holds it now (a few lean queries)."""
    vocab = Vocabulary()
    names = {product_id_of(row["p"]): row["name"] for row in select_values(kg, render(_PRODUCT_NAMES))}
    alts: dict[str, list[str]] = defaultdict(list)
    for row in select_values(kg, render(_ALT_NAMES)):
        alts[product_id_of(row["p"])].append(row["name"])
    for pid, name in names.items():
        vocab.set_product(pid, name, alts.get(pid, ()))
    vocab.set_facets(*_facet_tables(kg))
    return vocab


def update_vocabulary(kg: SparqlEndpoint, vocab: Vocabulary, products: Iterable[URIRef],
                      facets: bool = True) -> tuple[set[str], set[str]]:
    """Re-read the names of these products (and the small tables); the name keys added and removed."""
    products = sorted(set(products), key=str)
    added: set[str] = set()
    removed: set[str] = set()
    for start in range(0, len(products), 500):
        chunk = products[start:start + 500]
        found: dict[str, dict[str, list[str]]] = {product_id_of(p): {"name": [], "alt": []} for p in chunk}
        for row in select_values(kg, render(_NAMES_OF, products=chunk)):
            found[product_id_of(row["p"])][row["kind"]].append(row["name"])
        for pid, names in found.items():
            plus, minus = vocab.set_product(pid, names["name"][0] if names["name"] else None, names["alt"])
            added |= plus
            removed |= minus
    if facets:
        vocab.set_facets(*_facet_tables(kg))
    return added, removed


class CatalogNames:
    """The vocabulary and the phrase tagger of the live catalog: a ``CatalogWatch`` follower."""

    name = "names"

    def __init__(self) -> None:
        self._vocabulary: Optional[Vocabulary] = None
        self._tagger: Optional[PhraseTagger] = None

    @property
    def vocabulary(self) -> Vocabulary:
        """The vocabulary (built by the first ``rebuild``)."""
        if self._vocabulary is None:
            raise RuntimeError("the catalog's names were never read")
        return self._vocabulary

    def tag(self, text: str) -> list[Span]:
        """Catalog phrases in a message."""
        if self._tagger is None:
            raise RuntimeError("the catalog's names were never read")
        return self._tagger.tag(text)

    def rebuild(self, kg: SparqlEndpoint) -> None:
        """Read every name again; the old names answer until the new ones are ready."""
        vocabulary = load_vocabulary(kg)
        tagger = PhraseTagger(vocabulary.phrases())
        self._vocabulary, self._tagger = vocabulary, tagger

    def update(self, kg: SparqlEndpoint, products: set[URIRef], others: set[URIRef]) -> None:
        """Re-read the names of changed products, then the small tables (brands, categories, colours...)."""
        vocabulary, tagger = self.vocabulary, self._tagger
        if tagger is None:  # never built: read everything
            return self.rebuild(kg)
        before = vocabulary.facet_phrases()
        added, removed = update_vocabulary(kg, vocabulary, products, facets=False)
        for key in added:
            tagger.add("product", key)
        for key in removed:
            tagger.remove("product", key)
        vocabulary.set_facets(*_facet_tables(kg))
        after = vocabulary.facet_phrases()
        for label in after:
            for phrase in set(after[label]) - set(before[label]):
                tagger.add(label, phrase)
            for phrase in set(before[label]) - set(after[label]):
                tagger.remove(label, phrase)

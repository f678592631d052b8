"""Descriptive search: rank products by how well their own text fits words such as "waterproof, for hiking".

Facets filter exactly (category, colour, price...); the words that are not facets rank what is left. Each
product's text (name, description, material, category) is embedded with the same sentence encoder the NLU
runs, and the vectors are kept in an index beside the graph (``var/models/product-text-vectors.npz``),
keyed by a hash of the text: a product whose text a staff edit changed is embedded again the next time it is
ranked, and every other vector is reused. Texts are read from the graph at query time, so the ranking always
follows the live catalog.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from knowledge.namespaces import product_id_of, product_iri
from knowledge.sparql import SparqlEndpoint, render

logger = logging.getLogger(__name__)

Encode = Callable[[Sequence[str]], np.ndarray]
FOLLOW_SECONDS = 5.0  # how often an index looks for what other processes saved to its file
LEXICAL_WEIGHT = 0.35  # a product whose text holds the shopper's very words gets this much on top
# A word ranks products only if some product's text holds it or comes this close to it in meaning: words such
# as "browsing" or "today" (about 0.2 to any product) say nothing about the products; "camping" (0.4) does.
RELEVANT_SIMILARITY = 0.28
RELEVANT_MARGIN = 0.12  # with an explicit sort, products within this score of the best one are kept
_TOKEN = re.compile(r"[a-z0-9]+")

_TEXTS = """SELECT ?p ?name ?description ?material ?category WHERE {
  VALUES ?p { $products }
  ?p schema:name ?name .
  OPTIONAL { ?p schema:description ?description }
  OPTIONAL { ?p schema:material ?material }
  OPTIONAL { ?p schema:category/schema:name ?category }
}"""


def product_texts(kg: SparqlEndpoint, product_ids: Sequence[str]) -> dict[str, str]:
    """The text each product is ranked by: name, description, material and category, as the graph holds it."""
    texts: dict[str, list[str]] = {}
    for start in range(0, len(product_ids), 500):
        iris = [product_iri(pid) for pid in product_ids[start:start + 500]]
        for row in kg.select(render(_TEXTS, products=iris)):
            parts = texts.setdefault(product_id_of(row["p"]), [])
            for name in ("name", "description", "material", "category"):
                value = str(row.get(name, "") or "")
                if value and value not in parts:
                    parts.append(value)
    return {pid: ". ".join(parts) for pid, parts in texts.items()}


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def _stems(text: str) -> set[str]:
    return {_stem(token) for token in _TOKEN.findall(text.lower())}


def _stem(token: str) -> str:
    for suffix in ("ations", "ation", "ings", "ing", "ers", "er", "ed", "es", "s"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            stem = token[: -len(suffix)]
            return stem[:-1] if len(stem) >= 4 and stem[-1] == stem[-2] else stem  # "swimming" -> "swim"
    return token


def lexical_overlap(words: Sequence[str], text: str) -> float:
    """The share of the shopper's words whose stem appears in a product's text (0 to 1)."""
    wanted = [_stem(token) for word in words for token in _TOKEN.findall(word.lower())]
    if not wanted:
        return 0.0
    have = _stems(text)
    return sum(1 for stem in wanted if stem in have) / len(wanted)


class ProductTextIndex:
    """Sentence vectors of product texts, kept by a hash of each text and saved beside the graph.

    Several processes may share the file (the action server, and a background ``shopbot kg index-texts`` on a
    large catalog): each one takes in what the file gained since it last looked (at most every
    ``FOLLOW_SECONDS``), and saving merges with the file rather than overwriting it.
    """

    def __init__(self, encode: Optional[Encode] = None, path: Optional[Path] = None) -> None:
        self._encode = encode
        self._path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._loaded = False
        self._unsaved = 0
        self._stamp: Optional[int] = None  # the file's mtime when last read
        self._looked = 0.0

    @property
    def encode(self) -> Encode:
        """The encoder, the process-wide sentence encoder unless one was given."""
        if self._encode is None:
            from knowledge.embeddings import default_encoder

            self._encode = default_encoder().sentences
        return self._encode

    def _load(self) -> None:
        now = time.monotonic()
        if self._loaded and now - self._looked < FOLLOW_SECONDS:
            return
        self._loaded, self._looked = True, now
        self._vectors = {**self._read_file(), **self._vectors}

    def _read_file(self) -> dict[str, np.ndarray]:
        """The vectors in the file when it changed since it was last read (else none)."""
        if self._path is None:
            return {}
        try:
            stamp = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if stamp == self._stamp:
            return {}
        self._stamp = stamp
        try:
            with np.load(self._path, allow_pickle=False) as data:
                return dict(zip(data["keys"].tolist(), data["vectors"]))
        except (OSError, KeyError, ValueError) as error:
            logger.warning("product text index %s unreadable, rebuilding it: %s", self._path, error)
            return {}

    def vectors(self, texts: Iterable[str]) -> np.ndarray:
        """The vector of each text, embedding only the texts not indexed yet."""
        texts = list(texts)
        keys = [_key(text) for text in texts]
        with self._lock:
            self._load()
            missing = {key: text for key, text in zip(keys, texts) if key not in self._vectors}
        if missing:
            encoded = self.encode(list(missing.values()))
            with self._lock:
                self._vectors.update(zip(missing, encoded))
                self._unsaved += len(missing)
        with self._lock:
            return np.vstack([self._vectors[key] for key in keys]) if keys else np.zeros((0, 384), np.float32)

    def save(self) -> None:
        """Write the index beside the graph when it holds vectors not saved yet."""
        with self._lock:
            if self._path is None or not self._unsaved:
                return
            self._vectors = {**self._read_file(), **self._vectors}  # what another process saved meanwhile stays
            keys = sorted(self._vectors)
            self._path.parent.mkdir(parents=True, exist_ok=True)
            partial = self._path.with_name(self._path.stem + ".partial.npz")
            np.savez(partial, keys=np.array(keys), vectors=np.vstack([self._vectors[k] for k in keys]))
            partial.replace(self._path)
            self._stamp = self._path.stat().st_mtime_ns
            self._unsaved = 0

    def __len__(self) -> int:
        with self._lock:
            self._load()
            return len(self._vectors)

    def relevant(self, words: Sequence[str], texts: dict[str, str]) -> list[str]:
        """The shopper's words that say something about these products (held by a text, or close in meaning)."""
        if not texts or not words:
            return []
        vectors = self.vectors(list(texts.values()))
        kept = []
        for word, vector in zip(words, self.vectors(list(words))):
            if any(lexical_overlap([word], text) > 0 for text in texts.values()) or \
                    float(np.max(vectors @ vector)) >= RELEVANT_SIMILARITY:
                kept.append(word)
        return kept

    def scores(self, words: Sequence[str], texts: dict[str, str]) -> dict[str, float]:
        """How well each product's text fits the words: cosine similarity plus a bonus for the very words."""
        if not texts or not words:
            return {}
        ids = list(texts)
        query = self.vectors([" ".join(words)])[0]
        similarity = self.vectors([texts[pid] for pid in ids]) @ query
        return {pid: float(sim) + LEXICAL_WEIGHT * lexical_overlap(words, texts[pid])
                for pid, sim in zip(ids, similarity)}


def rank(ids: Sequence[str], scores: dict[str, float], keep_order: bool) -> list[str]:
    """Products by descending score; with ``keep_order`` (an explicit sort) only the relevant, in their order."""
    if not scores:
        return list(ids)
    if keep_order:
        best = max(scores.values())
        return [pid for pid in ids if scores.get(pid, -1.0) >= best - RELEVANT_MARGIN]
    return sorted(ids, key=lambda pid: -scores.get(pid, -1.0))  # stable: equal scores keep their order


def index_catalog(kg: SparqlEndpoint, index: ProductTextIndex, batch: int = 2_000) -> tuple[int, int]:
    """Embed every product text the index lacks and save it; return (products, texts embedded now)."""
    from knowledge.products import all_product_ids

    ids = all_product_ids(kg)
    before = len(index)
    for start in range(0, len(ids), batch):
        index.vectors(product_texts(kg, ids[start:start + batch]).values())
        index.save()  # each batch: a long run's progress is kept, and other processes use it meanwhile
    return len(ids), len(index) - before

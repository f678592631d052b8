"""Content-based recommendations from item attributes (category, brand, price band, colour, material, text).

Each item becomes one L2-normalised sparse vector: one-hot ``key=value`` tokens for its categorical
attributes (lists give several tokens), a price band (quantiles of the catalogue's prices) and the
TF-IDF of its text fields. A user's profile is the weighted mean of the vectors of the items they
interacted with; an item's score is the cosine between the profile and the item.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from knowledge.recommend.base import InteractionArrays, Recommender, top_n

#: Attribute spellings folded together.
KEY_ALIASES = {"color": "colour", "colours": "colour", "colors": "colour", "categories": "category"}
TEXT_FIELDS = ("description", "name", "title", "text")
PRICE_FIELDS = ("price", "unit_price")
#: How a user's interactions weigh their items in the profile.
WEIGHTINGS = ("binary", "value", "log", "centred")


def _tokens(key: str, value: Any) -> list[str]:
    key = KEY_ALIASES.get(key.lower(), key.lower())
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [token for element in value for token in _tokens(key, element)]
    if isinstance(value, bool):
        return [f"{key}={str(value).lower()}"]
    return [f"{key}={str(value).strip().lower()}"]


def item_feature_matrix(
    item_ids: Sequence[str],
    item_features: Mapping[str, Mapping[str, Any]],
    price_bands: int = 5,
    categorical_weight: float = 1.0,
    text_weight: float = 1.0,
    max_text_features: int = 20000,
) -> sp.csr_matrix:
    """Items × features CSR matrix (rows L2-normalised; zero rows for items without attributes)."""
    n = len(item_ids)
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    texts = [""] * n
    prices = np.full(n, np.nan)
    for row, item in enumerate(item_ids):  # one pass over the catalogue, not over interactions
        features = item_features.get(item)
        if not features:
            continue
        text_parts = []
        for key, value in features.items():
            lower = key.lower()
            if lower in TEXT_FIELDS:
                if value:
                    text_parts.append(str(value))
            elif lower in PRICE_FIELDS and isinstance(value, numbers.Real) and not isinstance(value, bool):
                prices[row] = float(value)
            else:
                for token in _tokens(key, value):
                    rows.append(row)
                    cols.append(vocab.setdefault(token, len(vocab)))
        texts[row] = " ".join(text_parts)
    priced = np.flatnonzero(np.isfinite(prices))
    if len(priced) and price_bands > 1:
        edges = np.quantile(prices[priced], np.linspace(0, 1, price_bands + 1)[1:-1])
        bands = np.searchsorted(edges, prices[priced], side="right")
        for row, band in zip(priced.tolist(), bands.tolist()):
            rows.append(row)
            cols.append(vocab.setdefault(f"price_band={band}", len(vocab)))
    blocks = []
    if vocab:
        categorical = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(vocab)))
        categorical.data = np.minimum(categorical.data, 1.0)
        blocks.append(categorical_weight * normalize(categorical))
    if any(texts):
        vectorizer = TfidfVectorizer(
            stop_words="english", sublinear_tf=True, max_features=max_text_features, dtype=np.float64
        )
        try:
            blocks.append(text_weight * normalize(vectorizer.fit_transform(texts)))
        except ValueError:  # only stop words
            pass
    if not blocks:
        return sp.csr_matrix((n, 1))
    return normalize(sp.hstack(blocks, format="csr"))


class ContentBased(Recommender):
    """Cosine between a user's profile (weighted mean of their items' attribute vectors) and each item."""

    predicts_ratings = False
    requires_item_features = True
    _array_attrs = ("item_vectors_",)
    _aggregate = "sum"

    def __init__(
        self,
        weighting: str = "log",
        price_bands: int = 5,
        categorical_weight: float = 1.0,
        text_weight: float = 1.0,
        max_text_features: int = 20000,
    ) -> None:
        self.weighting = weighting
        self.price_bands = price_bands
        self.categorical_weight = categorical_weight
        self.text_weight = text_weight
        self.max_text_features = max_text_features

    def fit(  # type: ignore[override]
        self,
        interactions: Iterable[Sequence[Any]],
        item_features: Optional[Mapping[str, Mapping[str, Any]]] = None,
        **kwargs: Any,
    ) -> "ContentBased":
        """Learn from interactions and ``item_features`` ({item_id: {attribute: value}}).

        Items with attributes but no interactions can be recommended too.
        """
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, not {self.weighting!r}")
        if not item_features:
            raise ValueError("ContentBased needs item_features: {item_id: {attribute: value}}")
        features = {str(k): v for k, v in item_features.items()}
        return super().fit(interactions, extra_items=list(features), item_features=features, **kwargs)  # type: ignore[return-value]

    def _fit(self, data: InteractionArrays, item_features: Optional[Mapping[str, Mapping[str, Any]]] = None,
             **kwargs: Any) -> None:
        self.item_vectors_ = item_feature_matrix(
            self.item_index_.ids.tolist(),
            item_features or {},
            self.price_bands,
            self.categorical_weight,
            self.text_weight,
            self.max_text_features,
        )

    def _weights(self, users: np.ndarray) -> sp.csr_matrix:
        """The profile weights of these users' interactions (rows of a users × items matrix)."""
        x = self.matrix_[users]
        if self.weighting == "binary":
            x.data = np.ones_like(x.data)
        elif self.weighting == "log":
            x.data = np.log1p(np.maximum(x.data, 0.0))
        elif self.weighting == "centred":
            x.data = x.data - np.repeat(self.user_means_[users], np.diff(x.indptr))
        return x

    def profiles(self, users: np.ndarray) -> sp.csr_matrix:
        """L2-normalised profile vectors of these user ints (weighted mean of their item vectors)."""
        return normalize(self._weights(users) @ self.item_vectors_)

    def _scores(self, user: int) -> np.ndarray:
        profile = self.profiles(np.array([user]))
        return np.asarray((self.item_vectors_ @ profile.T).todense()).ravel()

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(users, return_inverse=True)
        profiles = self.profiles(unique)[inverse]
        return np.asarray(profiles.multiply(self.item_vectors_[items]).sum(axis=1)).ravel()

    def similar_items(self, item: Any, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` items whose attribute vectors have the highest cosine with ``item``'s."""
        self._check_fitted()
        i = self.item_index_.get(item)
        if i < 0:
            return []
        sims = np.asarray((self.item_vectors_ @ self.item_vectors_[i].T).todense()).ravel()
        sims[sims <= 0] = -np.inf
        best = top_n(sims, n, np.array([i]))
        return list(zip(self.item_index_.decode(best), sims[best].tolist()))

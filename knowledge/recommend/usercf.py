"""User-user collaborative filtering for implicit feedback: cosine (or Pearson) between shoppers' purchase vectors.

Each user is a row of the users × items matrix (binarised by default, optionally BM25-weighted over
items); the similarity of two users is the cosine of their rows (or their Pearson correlation over every
item, items not bought counting 0) and only each user's ``k`` nearest neighbours are kept (sparse). A user's
score for item i is Σ_{v ∈ N_k(u)} sim(u, v) · x_vi.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from knowledge.recommend.base import InteractionArrays, Recommender
from knowledge.recommend.itemcf import bm25_weight, top_k_similarities


class ImplicitUserCF(Recommender):
    """User-user CF on a purchase matrix (binarised or counts, optional BM25), cosine or Pearson, ``k`` neighbours."""

    predicts_ratings = False
    _array_attrs = ("similarities_",)
    _aggregate = "sum"

    def __init__(self, k: int = 100, weighting: str = "none", binarize: bool = True, similarity: str = "cosine") -> None:
        self.k = k
        self.weighting = weighting
        self.binarize = binarize
        self.similarity = similarity

    def _user_items(self) -> sp.csr_matrix:
        x = self.matrix_.copy()
        if self.binarize:
            x.data = np.ones_like(x.data)
        return x

    def _fit(self, data: InteractionArrays, **kwargs: Any) -> None:
        if self.weighting not in {"none", "bm25"}:
            raise ValueError(f"weighting must be none or bm25, not {self.weighting!r}")
        if self.similarity not in {"cosine", "pearson"}:
            raise ValueError(f"similarity must be cosine or pearson, not {self.similarity!r}")
        x = self._user_items()
        if self.weighting == "bm25":
            x = bm25_weight(x)
        if self.similarity == "pearson":
            self.similarities_ = top_k_similarities(x, self.k, pearson=True)
        else:
            self.similarities_ = top_k_similarities(normalize(x), self.k)

    def _scores(self, user: int) -> np.ndarray:
        return np.asarray((self.similarities_[user] @ self._user_items()).todense()).ravel()

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        x = self._user_items().tocsc()
        sims = self.similarities_[users]  # one row per pair
        return np.asarray(sims.multiply(x[:, items].T.tocsr()).sum(axis=1)).ravel()

    def similar_users(self, user: Any, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` nearest neighbours of ``user`` by cosine of their purchases."""
        self._check_fitted()
        u = self.user_index_.get(user)
        if u < 0:
            return []
        row = self.similarities_[u]
        order = np.argsort(-row.data, kind="stable")[:n]
        return list(zip(self.user_index_.decode(row.indices[order]), row.data[order].tolist()))

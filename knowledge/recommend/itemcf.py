"""Item-item collaborative filtering for implicit feedback (purchases, clicks).

Items are the columns of the users × items matrix (binarised, or counts), optionally re-weighted with
BM25 or TF-IDF over users as the ``implicit`` library does; the similarity of two items is the cosine
of their weighted user vectors, and only each item's ``k`` nearest neighbours are kept (sparse). A
user's score for item i is Σ_{j bought} x_uj · sim(j, i).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from knowledge.recommend.base import InteractionArrays, Recommender, row_slice, top_n


def bm25_weight(item_users: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weights of an items × users matrix (users as terms, items as documents), as ``implicit`` does."""
    x = sp.csr_matrix(item_users, dtype=np.float64, copy=True)
    n_items = x.shape[0]
    idf = np.log(n_items) - np.log1p(np.bincount(x.indices, minlength=x.shape[1]))
    lengths = np.asarray(x.sum(axis=1)).ravel()
    length_norm = (1.0 - b) + b * lengths / max(lengths.mean(), 1e-12)
    rows = np.repeat(np.arange(n_items), np.diff(x.indptr))
    x.data = x.data * (k1 + 1.0) / (k1 * length_norm[rows] + x.data) * idf[x.indices]
    return x


def tfidf_weight(item_users: sp.csr_matrix) -> sp.csr_matrix:
    """TF-IDF weights of an items × users matrix (sqrt term frequency), as ``implicit`` does."""
    x = sp.csr_matrix(item_users, dtype=np.float64, copy=True)
    idf = np.log(x.shape[0]) - np.log1p(np.bincount(x.indices, minlength=x.shape[1]))
    x.data = np.sqrt(x.data) * idf[x.indices]
    return x


def top_k_similarities(
    vectors: sp.csr_matrix, k: int, block_cells: int = 4_000_000, pearson: bool = False
) -> sp.csr_matrix:
    """Row × row dot products (or, with ``pearson``, Pearson correlations over every column) keeping each row's
    ``k`` largest positive values (self excluded), as CSR."""
    vectors = sp.csr_matrix(vectors, dtype=np.float64)
    n, columns = vectors.shape
    transposed = vectors.T.tocsr()
    if pearson:  # r = (Σxy − m·x̄·ȳ) / (√(Σx² − m·x̄²) · √(Σy² − m·ȳ²)), m columns, zeros included
        means = np.asarray(vectors.sum(axis=1)).ravel() / max(columns, 1)
        squares = np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel()
        spread = np.sqrt(np.maximum(squares - columns * means**2, 0.0))
    block = max(1, block_cells // max(n, 1))
    rows_out, cols_out, vals_out = [], [], []
    for first in range(0, n, block):  # a block of rows at a time: dense (block × n), bounded memory
        last = min(n, first + block)
        dense = (vectors[first:last] @ transposed).toarray()
        if pearson:
            scale = np.outer(spread[first:last], spread)
            dense = np.divide(dense - columns * np.outer(means[first:last], means), scale,
                              out=np.zeros_like(dense), where=scale > 0)
        dense[np.arange(last - first), np.arange(first, last)] = 0.0
        kk = min(k, n - 1)
        if kk <= 0:
            continue
        idx = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(dense, idx, axis=1)
        keep = vals > 0
        rows_out.append(np.repeat(np.arange(first, last), kk)[keep.ravel()])
        cols_out.append(idx[keep])
        vals_out.append(vals[keep])
    if not rows_out:
        return sp.csr_matrix((n, n))
    sims = sp.csr_matrix(
        (np.concatenate(vals_out), (np.concatenate(rows_out), np.concatenate(cols_out))), shape=(n, n)
    )
    sims.sort_indices()
    return sims


class ImplicitItemCF(Recommender):
    """Item-item CF on a purchase matrix (binarised or weighted, optional BM25/TF-IDF), k neighbours.

    ``similarity`` is ``cosine`` or ``pearson`` (the correlation of two items' buyer vectors over every
    user, non-buyers counting 0: Pearson's formula where every user "rated" every item 0 or 1).
    """

    predicts_ratings = False
    _array_attrs = ("similarities_",)
    _aggregate = "sum"

    def __init__(
        self,
        k: int = 200,
        weighting: str = "bm25",
        binarize: bool = True,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        similarity: str = "cosine",
    ) -> None:
        self.k = k
        self.weighting = weighting
        self.binarize = binarize
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.similarity = similarity

    def _user_weights(self) -> sp.csr_matrix:
        """The users × items matrix the scores are computed from (binarised when asked)."""
        if not self.binarize:
            return self.matrix_
        x = self.matrix_.copy()
        x.data = np.ones_like(x.data)
        return x

    def _fit(self, data: InteractionArrays, **kwargs: Any) -> None:
        if self.weighting not in {"none", "bm25", "tfidf"}:
            raise ValueError(f"weighting must be none, bm25 or tfidf, not {self.weighting!r}")
        if self.similarity not in {"cosine", "pearson"}:
            raise ValueError(f"similarity must be cosine or pearson, not {self.similarity!r}")
        item_users = self._user_weights().T.tocsr()
        if self.weighting == "bm25":
            item_users = bm25_weight(item_users, self.bm25_k1, self.bm25_b)
        elif self.weighting == "tfidf":
            item_users = tfidf_weight(item_users)
        if self.similarity == "pearson":
            self.similarities_ = top_k_similarities(item_users, self.k, pearson=True)
        else:
            self.similarities_ = top_k_similarities(normalize(item_users), self.k)

    def _scores(self, user: int) -> np.ndarray:
        items, values = row_slice(self.matrix_, user)
        if self.binarize:
            values = np.ones_like(values)
        return np.asarray(self.similarities_[items].T @ values).ravel()

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        weights = self._user_weights()[users]  # one row per pair
        sims = self.similarities_[:, items].T.tocsr()  # row p: sim(j, items[p]) for every j
        return np.asarray(weights.multiply(sims).sum(axis=1)).ravel()

    def similar_items(self, item: Any, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` nearest neighbours of ``item`` by cosine of its buyers."""
        self._check_fitted()
        i = self.item_index_.get(item)
        if i < 0:
            return []
        cols, vals = row_slice(self.similarities_, i)
        best = top_n(vals, n)
        return list(zip(self.item_index_.decode(cols[best]), vals[best].tolist()))

"""Neighbourhood collaborative filtering with Pearson similarity, as DESIGN.md writes it.

User-based: sim(u,v) = Σ_{i∈I_uv}(r_ui − r̄_u)(r_vi − r̄_v) / (√Σ_{i∈I_uv}(r_ui − r̄_u)² · √Σ_{i∈I_uv}(r_vi − r̄_v)²)
with I_uv the items both rated and r̄_u the mean of *all* of u's ratings (not only the co-rated ones).
Item-based is the same on the transposed matrix (U_ij users who rated both, r̄_i the item's mean).
Prediction: r̂_ui = r̄_u + Σ_{v∈N_k(u;i)} sim(u,v)·(r_vi − r̄_v) / Σ_{v∈N_k(u;i)} |sim(u,v)| where N_k(u;i)
is the k most similar users who rated i (item-based: r̄_i + Σ_j sim(i,j)(r_uj − r̄_j)/Σ_j |sim(i,j)| over
the k items most similar to i that u rated).

Similarities are kept as a dense matrix: fine up to a few tens of thousands of users (items).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from knowledge.recommend.base import InteractionArrays, Recommender, row_slice, top_n


def centred(matrix: sp.csr_matrix, means: np.ndarray) -> sp.csr_matrix:
    """The stored entries of a CSR matrix minus their row's mean (structure kept, zeros stay stored)."""
    counts = np.diff(matrix.indptr)
    out = sp.csr_matrix((matrix.data - np.repeat(means, counts), matrix.indices, matrix.indptr), shape=matrix.shape)
    return out


def pearson_similarity(
    matrix: sp.csr_matrix, means: Optional[np.ndarray] = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson similarity between the rows of a ratings matrix over their co-rated columns, and the co-rating counts.

    ``means`` are the row means over all of a row's ratings (computed when omitted). Pairs with no
    co-rated column or zero variance over it get 0.
    """
    matrix = sp.csr_matrix(matrix)
    counts = np.diff(matrix.indptr)
    if means is None:
        sums = np.asarray(matrix.sum(axis=1)).ravel()
        means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    c = centred(matrix, means)
    mask = sp.csr_matrix((np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape)
    squares = sp.csr_matrix((c.data**2, c.indices, c.indptr), shape=matrix.shape)
    numerator = (c @ c.T).toarray()
    # spread[u, v] = Σ_{i ∈ I_uv} c_ui²: u's squared deviations over the columns v also rated
    spread = (squares @ mask.T).toarray()
    denominator = np.sqrt(spread * spread.T)
    sims = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=sims, where=denominator > 0)
    np.clip(sims, -1.0, 1.0, out=sims)
    common = (mask @ mask.T).toarray()
    return sims, common


def adjust_similarities(sims: np.ndarray, common: np.ndarray, shrinkage: float, min_support: int) -> np.ndarray:
    """Shrink by n_common/(n_common+shrinkage), zero pairs under ``min_support`` co-ratings and the diagonal."""
    if shrinkage > 0:
        sims = sims * (common / (common + shrinkage))
    if min_support > 1:
        sims = np.where(common >= min_support, sims, 0.0)
    else:
        sims = sims.copy()
    np.fill_diagonal(sims, 0.0)
    return sims


def knn_deviation(
    sims: np.ndarray, deviations: np.ndarray, k: int, positive_only: bool, min_k: int = 1, axis: int = 1
) -> np.ndarray:
    """Σ sim·dev / Σ|sim| over the k largest similarities along ``axis`` (0 where fewer than ``min_k`` neighbours).

    ``sims`` may hold -inf for "not a candidate"; ``deviations`` has the same shape as ``sims``, or is
    1-D along ``axis`` (shared by every row).
    """
    if deviations.ndim == 1:
        deviations = deviations[None, :] if axis == 1 else deviations[:, None]
        deviations = np.broadcast_to(deviations, sims.shape)
    size = sims.shape[axis]
    if size > k:
        idx = np.argpartition(-sims, k - 1, axis=axis)
        idx = idx[:, :k] if axis == 1 else idx[:k]
        sims = np.take_along_axis(sims, idx, axis=axis)
        deviations = np.take_along_axis(deviations, idx, axis=axis)
    sims = np.where(np.isfinite(sims), sims, 0.0)
    if positive_only:
        sims = np.maximum(sims, 0.0)
    numerator = (sims * deviations).sum(axis=axis)
    weights = np.abs(sims).sum(axis=axis)
    out = np.zeros_like(numerator)
    np.divide(numerator, weights, out=out, where=weights > 0)
    if min_k > 1:
        out[(sims != 0).sum(axis=axis) < min_k] = 0.0
    return out


def _group_starts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stable ordering of ``keys`` and the start/end of each run of equal keys in it."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(keys) else np.array([], dtype=np.int64)
    ends = np.r_[starts[1:], len(keys)]
    return order, starts, ends


class _PearsonKNN(Recommender):
    """What user- and item-based Pearson KNN share."""

    _array_attrs = ("similarities_",)
    _aggregate = "mean"

    def __init__(
        self, k: int = 40, min_support: int = 1, shrinkage: float = 0.0, positive_only: bool = True, min_k: int = 1
    ) -> None:
        self.k = k
        self.min_support = min_support
        self.shrinkage = shrinkage
        self.positive_only = positive_only
        self.min_k = min_k

    def _clip(self, values: np.ndarray) -> np.ndarray:
        return np.clip(values, self.value_min_, self.value_max_)

    def _fit(self, data: InteractionArrays, **kwargs: Any) -> None:
        self.similarities_ = self._similarities()
        self.deviations_ = self._make_deviations()

    def _set_state(self, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(header, arrays)
        self.deviations_ = self._make_deviations()  # derived from matrix_, not saved

    def _deviations(self) -> sp.csr_matrix:
        """Users × items, r_ui minus the user's (user-based) or the item's (item-based) mean."""
        return self.deviations_

    def _similarities(self) -> np.ndarray:
        """The shrunk Pearson similarities between users (user-based) or items (item-based)."""
        raise NotImplementedError

    def _make_deviations(self) -> sp.csr_matrix:
        raise NotImplementedError


class UserKNN(_PearsonKNN):
    """User-based CF: Pearson similarity between users, k nearest raters of the item, mean-centred prediction."""

    #: at most this many most-similar users are considered when scoring every item for one user
    max_pool = 2000

    def _similarities(self) -> np.ndarray:
        sims, common = pearson_similarity(self.matrix_, self.user_means_)
        return adjust_similarities(sims, common, self.shrinkage, self.min_support)

    def _make_deviations(self) -> sp.csr_matrix:
        return centred(self.matrix_, self.user_means_)

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        by_item = self._deviations().tocsc()
        out = np.empty(len(users), dtype=np.float64)
        order, starts, ends = _group_starts(items)
        for start, end in zip(starts, ends):  # one vectorised step per distinct item
            rows = order[start:end]
            item = items[rows[0]]
            us = users[rows]
            a, b = by_item.indptr[item], by_item.indptr[item + 1]
            raters, deviations = by_item.indices[a:b], by_item.data[a:b]
            if len(raters) == 0:
                out[rows] = self.user_means_[us]
                continue
            sims = self.similarities_[np.ix_(us, raters)]
            sims = np.where(raters[None, :] == us[:, None], -np.inf, sims)  # never one's own rating
            out[rows] = self.user_means_[us] + knn_deviation(sims, deviations, self.k, self.positive_only, self.min_k)
        return self._clip(out)

    def _scores(self, user: int) -> np.ndarray:
        sims = self.similarities_[user]
        pool = np.flatnonzero(sims > 0) if self.positive_only else np.flatnonzero(np.arange(len(sims)) != user)
        if len(pool) > self.max_pool:
            pool = pool[np.argpartition(-sims[pool], self.max_pool - 1)[: self.max_pool]]
        n_items = self.matrix_.shape[1]
        if len(pool) == 0:
            return np.full(n_items, self.user_means_[user])
        deviations = self._deviations()[pool]
        out = np.empty(n_items, dtype=np.float64)
        block = max(1, 2_000_000 // len(pool))
        for first in range(0, n_items, block):  # dense blocks of (pool × items), bounded memory
            part = deviations[:, first : first + block]
            dense_dev = part.toarray()
            candidate = sp.csr_matrix((np.ones(part.nnz), part.indices, part.indptr), shape=part.shape).toarray() > 0
            w = np.where(candidate, sims[pool][:, None], -np.inf)
            out[first : first + block] = knn_deviation(w, dense_dev, self.k, self.positive_only, self.min_k, axis=0)
        return self._clip(self.user_means_[user] + out)

    def similar_users(self, user: Any, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` users most similar to ``user`` (positive similarity only)."""
        self._check_fitted()
        u = self.user_index_.get(user)
        if u < 0:
            return []
        sims = np.where(self.similarities_[u] > 0, self.similarities_[u], -np.inf)
        best = top_n(sims, n, np.array([u]))
        return list(zip(self.user_index_.decode(best), sims[best].tolist()))


class ItemKNN(_PearsonKNN):
    """Item-based CF: Pearson similarity between items, k nearest items the user rated, mean-centred prediction."""

    def _similarities(self) -> np.ndarray:
        sims, common = pearson_similarity(self.matrix_.T.tocsr(), self.item_means_)
        return adjust_similarities(sims, common, self.shrinkage, self.min_support)

    def _make_deviations(self) -> sp.csr_matrix:
        by_item = centred(self.matrix_.T.tocsr(), self.item_means_)
        return by_item.T.tocsr()

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        deviations = self._deviations()
        out = np.empty(len(users), dtype=np.float64)
        order, starts, ends = _group_starts(users)
        for start, end in zip(starts, ends):  # one vectorised step per distinct user
            rows = order[start:end]
            user = users[rows[0]]
            its = items[rows]
            rated, devs = row_slice(deviations, user)
            if len(rated) == 0:
                out[rows] = self.item_means_[its]
                continue
            sims = self.similarities_[np.ix_(its, rated)]
            sims = np.where(rated[None, :] == its[:, None], -np.inf, sims)
            out[rows] = self.item_means_[its] + knn_deviation(sims, devs, self.k, self.positive_only, self.min_k)
        return self._clip(out)

    def _scores(self, user: int) -> np.ndarray:
        rated, devs = row_slice(self._deviations(), user)
        if len(rated) == 0:
            return self.item_means_.copy()
        sims = self.similarities_[:, rated]
        return self._clip(self.item_means_ + knn_deviation(sims, devs, self.k, self.positive_only, self.min_k))

    def similar_items(self, item: Any, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` items with the highest positive Pearson similarity to ``item``."""
        self._check_fitted()
        i = self.item_index_.get(item)
        if i < 0:
            return []
        sims = np.where(self.similarities_[i] > 0, self.similarities_[i], -np.inf)
        best = top_n(sims, n, np.array([i]))
        return list(zip(self.item_index_.decode(best), sims[best].tolist()))

"""EASE: an item-item linear model learned in closed form (Steck, "Embarrassingly Shallow Autoencoders", 2019).

With X the binarised users × items matrix and G = XᵀX + λI, the item weights are B = I − P·diag(1/diag(P))
with P = G⁻¹ and a zero diagonal; a user's scores are x_u B. One dense inversion of an items × items
matrix: the model is fitted on at most ``max_items`` of the most popular items (the others score -inf,
so in a hybrid the other components rank them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from knowledge.recommend.base import InteractionArrays, Recommender, row_slice


class EASE(Recommender):
    """Closed-form item-item regression on purchases (L2 ``l2``), on the ``max_items`` most popular items."""

    predicts_ratings = False
    _array_attrs = ("weights_", "modelled_items_")
    _aggregate = "sum"

    def __init__(self, l2: float = 100.0, max_items: int = 5000, binarize: bool = True) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.binarize = binarize

    def _user_items(self) -> sp.csr_matrix:
        x = self.matrix_.copy()
        if self.binarize:
            x.data = np.ones_like(x.data)
        return x

    def _fit(self, data: InteractionArrays, **kwargs: Any) -> None:
        if self.l2 <= 0:
            raise ValueError("l2 must be positive")
        n_items = self.matrix_.shape[1]
        keep = np.arange(n_items)
        if n_items > self.max_items:
            keep = np.sort(np.argsort(-self.item_popularity_, kind="stable")[: self.max_items])
        x = self._user_items()[:, keep]
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        self.modelled_items_ = keep
        self.weights_ = weights

    def _scores(self, user: int) -> np.ndarray:
        out = np.full(self.matrix_.shape[1], -np.inf)
        items, values = row_slice(self._user_items(), user)
        local = np.searchsorted(self.modelled_items_, items)
        local = np.minimum(local, len(self.modelled_items_) - 1)
        known = self.modelled_items_[local] == items
        out[self.modelled_items_] = values[known] @ self.weights_[local[known]] if known.any() else 0.0
        return out

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.empty(len(users))
        for user in np.unique(users):
            rows = np.flatnonzero(users == user)
            out[rows] = self._scores(int(user))[items[rows]]
        return out

    def similar_items(self, item: Any, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` items with the largest positive weight from ``item``."""
        self._check_fitted()
        i = self.item_index_.get(item)
        local = np.searchsorted(self.modelled_items_, i)
        if i < 0 or local >= len(self.modelled_items_) or self.modelled_items_[local] != i:
            return []
        row = self.weights_[local]
        order = [j for j in np.argsort(-row, kind="stable")[:n] if row[j] > 0]
        return list(zip(self.item_index_.decode(self.modelled_items_[order]), row[order].tolist()))

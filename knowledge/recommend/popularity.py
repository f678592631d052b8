"""The popularity baseline: the items most users interacted with."""

from __future__ import annotations

import numpy as np

from knowledge.recommend.base import Recommender, top_n


class Popularity(Recommender):
    """Recommends the items with the most distinct users; predicts an item's mean value."""

    predicts_ratings = True
    _aggregate = "mean"

    def __init__(self) -> None:
        self.matrix = None

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.item_means[items]

    def _scores(self, user: int) -> np.ndarray:
        return self.item_popularity.astype(np.float64)

    def most_popular(self, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` most popular items with their user counts."""
        self._check_fitted()
        best = top_n(self.item_popularity, n)
        return list(zip(self.item_index.decode(best), self.item_popularity[best].tolist()))

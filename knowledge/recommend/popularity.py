"""The popularity baseline: the items most users interacted with."""

from __future__ import annotations

from typing import Any

import numpy as np

from knowledge.recommend.base import InteractionArrays, Recommender, interaction_matrix, top_n


class Popularity(Recommender):
    """Recommends the items with the most distinct users; predicts an item's mean value."""

    predicts_ratings = True
    _aggregate = "mean"

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.item_means_[items]

    def _scores(self, user: int) -> np.ndarray:
        return self.item_popularity_.astype(np.float64)

    def most_popular(self, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` most popular items with their user counts."""
        self._check_fitted()
        best = top_n(self.item_popularity_, n)
        return list(zip(self.item_index_.decode(best), self.item_popularity_[best].tolist()))


class TrendingPopularity(Recommender):
    """Recently popular items: each user's latest interaction with an item counts 0.5^(age / half-life).

    Ages count back from the newest interaction of the training data; without timestamps every
    interaction counts 1 (plain popularity by distinct users).
    """

    predicts_ratings = False
    _array_attrs = ("trend_",)
    _scalar_attrs = ("as_of_",)
    _aggregate = "sum"

    def __init__(self, half_life_days: float = 14.0) -> None:
        self.half_life_days = half_life_days

    def _fit(self, data: InteractionArrays, **kwargs: Any) -> None:
        if self.half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        n_items = self.matrix_.shape[1]
        if data.timestamps is None or len(data) == 0:
            self.as_of_ = None
            self.trend_ = self.item_popularity_.copy()
            return
        times = np.asarray(data.timestamps, dtype=np.float64)
        self.as_of_ = float(times.max())
        rows = self.user_index_.encode(data.users)
        cols = self.item_index_.encode(data.items)
        latest = interaction_matrix(rows, cols, times - times.min() + 1.0, self.matrix_.shape, "max")
        ages = (self.as_of_ - (latest.data + times.min() - 1.0)) / 86400.0
        self.trend_ = np.bincount(latest.indices, weights=0.5 ** (ages / self.half_life_days), minlength=n_items)

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.trend_[items]

    def _scores(self, user: int) -> np.ndarray:
        return self.trend_.astype(np.float64)

    def _fallback_scores(self, user: Any) -> np.ndarray:
        return self.trend_.astype(np.float64)

"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) by the ``implicit`` package's ALS.

``implicit`` is an optional dependency (the ``bench`` extra: ``pip install -c constraints.txt
implicit==0.7.3``); without it, fitting raises :class:`MissingDependency` with that hint, and
:func:`als_available` lets callers skip the model with a message instead.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from knowledge.recommend.base import InteractionArrays, Recommender

INSTALL_HINT = "pip install -c constraints.txt implicit==0.7.3 (the project's `bench` extra)"


class MissingDependency(ImportError):
    """An optional package a model needs is not installed."""


def als_available() -> bool:
    """Whether the ``implicit`` package can be imported."""
    try:
        import implicit.als  # noqa: F401 - imported only to see whether the optional package is installed
    except ImportError:
        return False
    return True


class ImplicitALS(Recommender):
    """ALS on the binarised (or count) purchase matrix with confidence 1 + alpha·x, through ``implicit``."""

    predicts_ratings = False
    _array_attrs = ("user_factors_", "item_factors_")
    _aggregate = "sum"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 15,
        binarize: bool = True,
        random_state: Optional[int] = 42,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.binarize = binarize
        self.random_state = random_state

    def _fit(self, data: InteractionArrays, **kwargs: Any) -> None:
        try:
            from implicit.als import AlternatingLeastSquares
            from threadpoolctl import threadpool_limits
        except ImportError as error:
            raise MissingDependency(f"ImplicitALS needs the implicit package: {INSTALL_HINT}") from error
        user_items = self.matrix_.astype(np.float32).tocsr()
        if self.binarize:
            user_items.data[:] = 1.0
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # implicit's notes on BLAS threads and its own CSR conversion
            model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, random_state=self.random_state,
            )
            model.fit(user_items, show_progress=False)
        to_numpy = getattr(model, "to_cpu", lambda: model)()
        self.user_factors_ = np.asarray(to_numpy.user_factors, dtype=np.float64)
        self.item_factors_ = np.asarray(to_numpy.item_factors, dtype=np.float64)

    def _scores(self, user: int) -> np.ndarray:
        return self.item_factors_ @ self.user_factors_[user]

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", self.user_factors_[users], self.item_factors_[items])

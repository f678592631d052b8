"""A weighted hybrid of several recommenders, with a segment/popularity fallback for cold-start users.

For a known user every component scores all items; each score vector is normalised per user (min-max
to [0, 1] by default, or rank percentiles / z-score) and the hybrid score is their weighted sum. A user
with fewer than ``min_interactions`` training interactions (a new shopper) gets the items most popular
in their segment (``user_segments``: {user: segment}, e.g. a K-means cluster or a country), or the
globally most popular items when the segment is unknown. Components that need item attributes
(``ContentBased``) are skipped when no attributes are given, so the hybrid then falls back to CF.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from knowledge.recommend.base import (
    IdIndex,
    InteractionArrays,
    Recommender,
    _str_array,
    as_arrays,
    model_from_state,
    top_n,
)
from knowledge.recommend.content import ContentBased
from knowledge.recommend.itemcf import ImplicitItemCF
from knowledge.recommend.popularity import Popularity

Component = tuple[str, Recommender, float]


def normalise_scores(scores: np.ndarray, method: str = "rank") -> np.ndarray:
    """Scores mapped to a common scale: ``rank`` percentiles in [0, 1], ``minmax`` to [0, 1], or ``zscore``."""
    out = np.zeros(len(scores), dtype=np.float64)
    finite = np.isfinite(scores)
    values = scores[finite]
    if len(values) == 0:
        return out
    if method == "rank":
        out[finite] = (rankdata(values) - 1) / max(len(values) - 1, 1)
    elif method == "minmax":
        span = values.max() - values.min()
        out[finite] = (values - values.min()) / span if span > 0 else 0.0
    elif method == "zscore":
        std = values.std()
        out[finite] = (values - values.mean()) / std if std > 0 else 0.0
    else:
        raise ValueError(f"unknown normalisation {method!r}")
    return out


def default_components() -> list[Component]:
    """Item-item CF, content-based (when attributes are given) and a little popularity."""
    return [
        ("cf", ImplicitItemCF(k=200, weighting="bm25"), 1.0),
        ("content", ContentBased(weighting="log"), 0.2),
        ("popularity", Popularity(), 0.05),
    ]


class Hybrid(Recommender):
    """Weighted blend of normalised component scores, with segment/popularity fallback for cold-start users."""

    predicts_ratings = True
    _array_attrs = ("segment_popularity", "segment_user_ids", "segment_of_user")
    _aggregate = "sum"

    def __init__(
        self,
        components: Optional[Sequence[Component]] = None,
        normalization: str = "minmax",
        min_interactions: int = 1,
        fit_components: bool = True,
    ) -> None:
        self.components = list(default_components() if components is None else components)
        self.normalization = normalization
        self.min_interactions = min_interactions
        self.fit_components = fit_components
        self.matrix = None

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments except the components (saved separately)."""
        return {
            "normalization": self.normalization,
            "min_interactions": self.min_interactions,
            "fit_components": self.fit_components,
        }

    @classmethod
    def _from_params(cls, params: dict[str, Any]) -> "Hybrid":
        return cls(components=[], **params)

    # --- fitting --------------------------------------------------------------------------------

    def fit(  # type: ignore[override]
        self,
        interactions: Union[InteractionArrays, Iterable[Sequence[Any]]],
        item_features: Optional[Mapping[str, Mapping[str, Any]]] = None,
        user_segments: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> "Hybrid":
        """Fit every component (skipping attribute-based ones without ``item_features``) and the segment popularity."""
        data = as_arrays(interactions)
        extra = list(item_features) if item_features else None
        self._fit_base(data, extra_items=extra)
        active: list[Component] = []
        for name, model, weight in self.components:
            if isinstance(model, ContentBased) and not item_features:
                continue  # no attributes: content-based cannot run, the CF components carry the blend
            if self.fit_components:
                if isinstance(model, ContentBased):
                    model.fit(data, item_features=item_features)
                else:
                    model.fit(data)
            elif not model.is_fitted:
                raise ValueError(f"component {name!r} is not fitted (fit_components=False)")
            active.append((name, model, weight))
        if not active:
            raise ValueError("the hybrid has no usable component")
        self.components = active
        self._fit_segments(user_segments)
        self._map_components()
        return self

    def _fit_segments(self, user_segments: Optional[Mapping[str, Any]]) -> None:
        """Per-segment item popularity (distinct users of the segment who interacted with the item)."""
        if not user_segments:
            self.segment_index = IdIndex()
            self.segment_popularity = np.zeros((0, self.matrix.shape[1]))
            self.segment_user_ids = np.array([], dtype="U1")
            self.segment_of_user = np.array([], dtype=np.int64)
            return
        users = _str_array(list(user_segments.keys()))
        segments = _str_array(list(user_segments.values()))
        self.segment_index = IdIndex(segments)
        order = np.argsort(users, kind="stable")
        self.segment_user_ids = users[order]
        self.segment_of_user = self.segment_index.encode(segments[order])
        rows = self.user_index.encode(users)
        known = rows >= 0
        membership = sp.csr_matrix(
            (np.ones(int(known.sum())), (self.segment_index.encode(segments[known]), rows[known])),
            shape=(len(self.segment_index), self.matrix.shape[0]),
        )
        bought = self.matrix.copy()
        bought.data = np.ones_like(bought.data)
        self.segment_popularity = np.asarray((membership @ bought).todense(), dtype=np.float64)

    def _map_components(self) -> None:
        """For each component, the position of every hybrid item in the component's own item index."""
        self._maps = [model.item_index.encode(self.item_index.ids) for _, model, _ in self.components]

    # --- scoring --------------------------------------------------------------------------------

    def segment_of(self, user: Any) -> Optional[str]:
        """The segment the fitted ``user_segments`` gave this user, if any."""
        if len(self.segment_user_ids) == 0:
            return None
        pos = np.searchsorted(self.segment_user_ids, str(user))
        if pos < len(self.segment_user_ids) and self.segment_user_ids[pos] == str(user):
            return str(self.segment_index.ids[self.segment_of_user[pos]])
        return None

    def is_cold(self, user: Any) -> bool:
        """Whether the user has fewer than ``min_interactions`` training interactions."""
        u = self.user_index.get(user)
        return u < 0 or (self.matrix.indptr[u + 1] - self.matrix.indptr[u]) < self.min_interactions

    def fallback_scores(self, user: Any = None, segment: Optional[str] = None) -> np.ndarray:
        """Segment popularity (ties broken by global popularity), or global popularity without a segment."""
        self._check_fitted()
        glob = self.item_popularity.astype(np.float64)
        segment = segment if segment is not None else (self.segment_of(user) if user is not None else None)
        s = self.segment_index.get(segment) if segment is not None else -1
        if s >= 0 and self.segment_popularity[s].any():
            return self.segment_popularity[s] + glob / (glob.max() + 1.0)
        return glob

    def _fallback_scores(self, user: Optional[str]) -> np.ndarray:
        return self.fallback_scores(user)

    def _component_scores(self, user: Any) -> list[np.ndarray]:
        out = []
        for (_, model, _), positions in zip(self.components, self._maps):
            raw = model.scores(user)
            mapped = np.full(len(positions), -np.inf)
            ok = positions >= 0
            mapped[ok] = raw[positions[ok]]
            out.append(mapped)
        return out

    def scores(self, user: Any, segment: Optional[str] = None) -> np.ndarray:  # type: ignore[override]
        """Blended normalised scores of every item, or the cold-start fallback."""
        self._check_fitted()
        if self.is_cold(user):
            return self.fallback_scores(user, segment)
        total = np.zeros(len(self.item_index))
        for (_, _, weight), raw in zip(self.components, self._component_scores(user)):
            total += weight * normalise_scores(raw, self.normalization)
        return total

    def recommend(  # type: ignore[override]
        self, user: Any, n: int = 10, exclude_seen: bool = True, segment: Optional[str] = None
    ) -> list[tuple[str, float]]:
        """The ``n`` best items; a cold-start user gets their (or ``segment``'s) popular items."""
        scores = self.scores(user, segment)
        best = top_n(scores, n, self.seen_items(user) if exclude_seen else None)
        return list(zip(self.item_index.decode(best), scores[best].tolist()))

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raters = [(model, w) for _, model, w in self.components if model.predicts_ratings]
        if raters:  # weighted mean of the rating predictions
            user_ids, item_ids = self.user_index.ids[users], self.item_index.ids[items]
            total = sum(w * model.predict_many(user_ids, item_ids) for model, w in raters)
            return total / sum(w for _, w in raters)
        out = np.empty(len(users))
        for user in np.unique(users):  # blended scores, one vector per distinct user
            rows = np.flatnonzero(users == user)
            out[rows] = self.scores(self.user_index.ids[user])[items[rows]]
        return out

    def similar_items(self, item: Any, n: int = 10) -> list[tuple[str, float]]:
        """Similar items from the first component that has item similarities."""
        for _, model, _ in self.components:
            try:
                return model.similar_items(item, n)
            except NotImplementedError:
                continue
        raise NotImplementedError("no component of this hybrid has item similarities")

    # --- saving ---------------------------------------------------------------------------------

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        header, arrays = super()._get_state()
        header["segment_ids"] = self.segment_index.ids.tolist()
        header["components"] = []
        for number, (name, model, weight) in enumerate(self.components):
            sub_header, sub_arrays = model._get_state()
            header["components"].append({"name": name, "weight": weight, "header": sub_header})
            arrays.update({f"c{number}/{key}": value for key, value in sub_arrays.items()})
        return header, arrays

    def _set_state(self, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(header, arrays)
        self.segment_index = IdIndex(header["segment_ids"])
        self.components = []
        for number, spec in enumerate(header["components"]):
            prefix = f"c{number}/"
            sub = {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
            self.components.append((spec["name"], model_from_state(spec["header"], sub), spec["weight"]))
        self._map_components()

"""A weighted hybrid of several recommenders, with shopper segments inside the blend and a cold-start fallback.

For a known user every component scores all items; each score vector is normalised per user (min-max
to [0, 1] by default, or rank percentiles / z-score) and the hybrid score is their weighted sum. Shopper
segments (``user_segments``: {user: segment}, e.g. a K-means segment) take part twice: the items popular
in the user's segment are one more normalised score, weighted ``segment_weight · s / (s + n_u)`` with
``s = segment_shrinkage`` and ``n_u`` the user's interactions (it matters for light users and fades for
heavy ones); and a user with fewer than ``min_interactions`` interactions (a new shopper) gets the items
most popular in their segment outright, or the globally most popular items when the segment is unknown.
Components that need item attributes (``ContentBased``) are skipped when no attributes are given, and
components of weight 0 are not fitted at all.

The default components and weights were chosen on rolling weekly windows of the Online Retail data
before February 2011 (``shopbot recommend evaluate --dataset online-retail --rolling``), never on the
test month.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.exceptions import NotFittedError

from knowledge.recommend.base import (
    MODEL_CLASSES,
    IdIndex,
    InteractionArrays,
    Recommender,
    _str_array,
    as_arrays,
    clone,
    fit_params,
    model_from_state,
    top_n,
)
from knowledge.recommend.content import ContentBased
from knowledge.recommend.ease import EASE
from knowledge.recommend.itemcf import ImplicitItemCF
from knowledge.recommend.popularity import TrendingPopularity
from knowledge.recommend.usercf import ImplicitUserCF

Component = tuple[str, Recommender, float]
SEGMENT = "segment"


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
    """EASE, item-item CF (BM25), content-based (when attributes are given) and trending items, weighted."""
    return [
        ("ease", EASE(l2=100.0), 1.0),
        ("itemcf", ImplicitItemCF(k=200, weighting="bm25"), 0.5),
        ("usercf", ImplicitUserCF(k=100), 0.0),
        ("content", ContentBased(weighting="log"), 0.4),
        ("trending", TrendingPopularity(half_life_days=14.0), 0.1),
    ]


def segment_factor(segment_weight: float, segment_shrinkage: float, n_interactions: Union[int, np.ndarray]) -> Any:
    """The weight of the segment's popular items for a user with ``n_interactions``: w · s / (s + n)."""
    return segment_weight * segment_shrinkage / (segment_shrinkage + np.asarray(n_interactions, dtype=np.float64))


def blend(parts: Mapping[str, np.ndarray], weights: Mapping[str, float], segment: float = 0.0) -> np.ndarray:
    """Σ weight · normalised scores over the components, plus ``segment`` · the segment's normalised popularity."""
    total: Optional[np.ndarray] = None
    for name, weight in weights.items():
        if weight and name in parts:
            total = weight * parts[name] if total is None else total + weight * parts[name]
    if segment and SEGMENT in parts:
        total = segment * parts[SEGMENT] if total is None else total + segment * parts[SEGMENT]
    if total is None:
        return np.zeros(len(next(iter(parts.values())))) if parts else np.zeros(0)
    return total


class Hybrid(Recommender):
    """Weighted blend of normalised component scores and segment popularity, with a cold-start fallback.

    ``components`` ((name, unfitted model, weight) triples; None: :func:`default_components`) is a
    parameter and stays as given: ``fit`` fits clones of them into ``components_`` (with
    ``fit_components=False`` the given models are already fitted and are used as they are).
    """

    predicts_ratings = True
    _array_attrs = ("segment_popularity_", "segment_user_ids_", "segment_of_user_")
    _aggregate = "sum"

    def __init__(
        self,
        components: Optional[Sequence[Component]] = None,
        normalization: str = "minmax",
        min_interactions: int = 1,
        segment_weight: float = 0.25,
        segment_shrinkage: float = 3.0,
        fit_components: bool = True,
    ) -> None:
        self.components = components
        self.normalization = normalization
        self.min_interactions = min_interactions
        self.segment_weight = segment_weight
        self.segment_shrinkage = segment_shrinkage
        self.fit_components = fit_components

    def _saved_params(self) -> dict[str, Any]:
        """Constructor arguments except the components (saved with their own state)."""
        params = self.get_params(deep=False)
        params.pop("components")
        return params

    @classmethod
    def _params_from_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """The saved constructor arguments, components included (unfitted, with their saved parameters)."""
        components = []
        for number, spec in enumerate(header["components"]):
            sub = spec["header"]
            model_class = MODEL_CLASSES[sub["class"]]
            model = model_class(**model_class._params_from_state(sub, _component_arrays(arrays, number)))
            components.append((spec["name"], model, spec["weight"]))
        return {**header["params"], "components": components}

    @property
    def weights(self) -> dict[str, float]:
        """The fitted components' weights by name."""
        return {name: weight for name, _, weight in self.components_}

    # --- fitting --------------------------------------------------------------------------------

    def fit(  # type: ignore[override]
        self,
        interactions: Union[InteractionArrays, Iterable[Sequence[Any]]],
        item_features: Optional[Mapping[str, Mapping[str, Any]]] = None,
        user_segments: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> "Hybrid":
        """Fit every weighted component (attribute-based ones only with ``item_features``) and the segment popularity."""
        data = as_arrays(interactions)
        extra = list(item_features) if item_features else None
        self._fit_base(data, extra_items=extra)
        fitted: list[Component] = []
        for name, model, weight in default_components() if self.components is None else self.components:
            if not weight or (model.requires_item_features and not item_features):
                continue  # weight 0, or no attributes for content-based: the other components carry the blend
            if self.fit_components:
                model = clone(model)
                model.fit(data, **fit_params(model, item_features=item_features, user_segments=user_segments))
            elif not model.is_fitted:
                raise NotFittedError(f"component {name!r} is not fitted (fit_components=False)")
            fitted.append((name, model, float(weight)))
        if not fitted:
            raise ValueError("the hybrid has no usable component")
        self.components_ = fitted
        self._fit_segments(user_segments)
        self._map_components()
        return self

    def _fit_segments(self, user_segments: Optional[Mapping[str, Any]]) -> None:
        """Per-segment item popularity (distinct users of the segment who interacted with the item)."""
        if not user_segments:
            self.segment_index_ = IdIndex()
            self.segment_popularity_ = np.zeros((0, self.matrix_.shape[1]))
            self.segment_user_ids_ = np.array([], dtype="U1")
            self.segment_of_user_ = np.array([], dtype=np.int64)
            return
        users = _str_array(list(user_segments.keys()))
        segments = _str_array(list(user_segments.values()))
        self.segment_index_ = IdIndex(segments)
        order = np.argsort(users, kind="stable")
        self.segment_user_ids_ = users[order]
        self.segment_of_user_ = self.segment_index_.encode(segments[order])
        rows = self.user_index_.encode(users)
        known = rows >= 0
        membership = sp.csr_matrix(
            (np.ones(int(known.sum())), (self.segment_index_.encode(segments[known]), rows[known])),
            shape=(len(self.segment_index_), self.matrix_.shape[0]),
        )
        bought = self.matrix_.copy()
        bought.data = np.ones_like(bought.data)
        self.segment_popularity_ = np.asarray((membership @ bought).todense(), dtype=np.float64)

    def _map_components(self) -> None:
        """For each component, the position of every hybrid item in the component's own item index."""
        self.item_positions_ = [model.item_index_.encode(self.item_index_.ids) for _, model, _ in self.components_]

    # --- scoring --------------------------------------------------------------------------------

    @property
    def segments(self) -> list[str]:
        """The segments the hybrid knows the popular items of."""
        return self.segment_index_.ids.tolist()

    def segment_of(self, user: Any) -> Optional[str]:
        """The segment the fitted ``user_segments`` gave this user, if any."""
        if len(self.segment_user_ids_) == 0:
            return None
        pos = np.searchsorted(self.segment_user_ids_, str(user))
        if pos < len(self.segment_user_ids_) and self.segment_user_ids_[pos] == str(user):
            return str(self.segment_index_.ids[self.segment_of_user_[pos]])
        return None

    def n_interactions(self, user: Any) -> int:
        """How many items the user interacted with in the training data."""
        u = self.user_index_.get(user)
        return 0 if u < 0 else int(self.matrix_.indptr[u + 1] - self.matrix_.indptr[u])

    def is_cold(self, user: Any) -> bool:
        """Whether the user has fewer than ``min_interactions`` training interactions."""
        return self.n_interactions(user) < max(self.min_interactions, 1)

    def segment_scores(self, segment: Optional[str]) -> Optional[np.ndarray]:
        """How many users of the segment interacted with each item (None for an unknown or empty segment)."""
        s = self.segment_index_.get(segment) if segment is not None else -1
        if s >= 0 and self.segment_popularity_[s].any():
            return self.segment_popularity_[s]
        return None

    def fallback_scores(self, user: Any = None, segment: Optional[str] = None) -> np.ndarray:
        """Segment popularity (ties broken by global popularity), or global popularity without a segment."""
        self._check_fitted()
        glob = self.item_popularity_.astype(np.float64)
        segment = segment if segment is not None else (self.segment_of(user) if user is not None else None)
        popular = self.segment_scores(segment)
        if popular is not None:
            return popular + glob / (glob.max() + 1.0)
        return glob

    def _fallback_scores(self, user: Optional[str]) -> np.ndarray:
        return self.fallback_scores(user)

    def component_scores(self, user: Any, segment: Optional[str] = None) -> dict[str, np.ndarray]:
        """Each fitted component's normalised scores of every item for a known user, and the segment's (``"segment"``)."""
        self._check_fitted()
        parts: dict[str, np.ndarray] = {}
        for (name, model, _), positions in zip(self.components_, self.item_positions_):
            raw = model.scores(user)
            mapped = np.full(len(positions), -np.inf)
            ok = positions >= 0
            mapped[ok] = raw[positions[ok]]
            parts[name] = normalise_scores(mapped, self.normalization)
        popular = self.segment_scores(segment if segment is not None else self.segment_of(user))
        if popular is not None:
            parts[SEGMENT] = normalise_scores(popular, self.normalization)
        return parts

    def scores(self, user: Any, segment: Optional[str] = None) -> np.ndarray:  # type: ignore[override]
        """Blended normalised scores of every item, or the cold-start fallback."""
        self._check_fitted()
        if self.is_cold(user):
            return self.fallback_scores(user, segment)
        factor = segment_factor(self.segment_weight, self.segment_shrinkage, self.n_interactions(user))
        return blend(self.component_scores(user, segment), self.weights, float(factor))

    def recommend(  # type: ignore[override]
        self, user: Any, n: int = 10, exclude_seen: bool = True, segment: Optional[str] = None
    ) -> list[tuple[str, float]]:
        """The ``n`` best items; a cold-start user gets their (or ``segment``'s) popular items."""
        scores = self.scores(user, segment)
        best = top_n(scores, n, self.seen_items(user) if exclude_seen else None)
        return list(zip(self.item_index_.decode(best), scores[best].tolist()))

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raters = [(model, w) for _, model, w in self.components_ if model.predicts_ratings]
        if raters:  # weighted mean of the rating predictions
            user_ids, item_ids = self.user_index_.ids[users], self.item_index_.ids[items]
            total = sum(w * model.predict_many(user_ids, item_ids) for model, w in raters)
            return total / sum(w for _, w in raters)
        out = np.empty(len(users))
        for user in np.unique(users):  # blended scores, one vector per distinct user
            rows = np.flatnonzero(users == user)
            out[rows] = self.scores(self.user_index_.ids[user])[items[rows]]
        return out

    def similar_items(self, item: Any, n: int = 10) -> list[tuple[str, float]]:
        """Similar items from the first component that has item similarities for ``item``."""
        found = False
        for _, model, _ in self.components_:
            try:
                similar = model.similar_items(item, n)
            except NotImplementedError:
                continue
            found = True
            if similar:
                return similar
        if not found:
            raise NotImplementedError("no component of this hybrid has item similarities")
        return []

    # --- saving ---------------------------------------------------------------------------------

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        header, arrays = super()._get_state()
        header["segment_ids"] = self.segment_index_.ids.tolist()
        header["components"] = []
        for number, (name, model, weight) in enumerate(self.components_):
            sub_header, sub_arrays = model._get_state()
            header["components"].append({"name": name, "weight": weight, "header": sub_header})
            arrays.update({f"c{number}/{key}": value for key, value in sub_arrays.items()})
        return header, arrays

    def _set_state(self, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(header, arrays)
        self.segment_index_ = IdIndex(header["segment_ids"])
        self.components_ = [
            (spec["name"], model_from_state(spec["header"], _component_arrays(arrays, number)), spec["weight"])
            for number, spec in enumerate(header["components"])
        ]
        self._map_components()


def _component_arrays(arrays: dict[str, np.ndarray], number: int) -> dict[str, np.ndarray]:
    """The saved arrays of the hybrid's component ``number`` (stored under ``c<number>/``)."""
    prefix = f"c{number}/"
    return {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}

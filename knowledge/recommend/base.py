"""The common recommender interface, id indexing and saving/loading of fitted models.

A recommender is fitted on interactions, a sequence of ``(user_id, item_id, value)`` tuples (ratings
for explicit data, weights such as purchase counts for implicit data) or an :class:`InteractionArrays`
holding the same as three numpy arrays (the fast path used by the evaluation). Ids become contiguous
ints through :class:`IdIndex`; the interactions become a users × items ``scipy.sparse`` CSR matrix.

Every recommender follows scikit-learn's estimator conventions: ``__init__`` only stores its parameters,
``get_params``/``set_params``/``clone`` come from ``sklearn.base.BaseEstimator``, what ``fit`` learns ends
in ``_``, ``fit`` returns ``self`` and never changes a parameter, and a model used before ``fit`` raises
scikit-learn's ``NotFittedError``. ``predict`` answers as Surprise does: a :class:`Prediction` that says
whether the estimate was impossible (an unknown user or item) and so is a baseline.

Models are saved to one ``.npz`` file holding only numpy arrays and a JSON header: loading never
unpickles anything (``allow_pickle=False``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, NamedTuple, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.base import clone as sklearn_clone
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

Interaction = tuple[str, str, float]
PathLike = Union[str, "os.PathLike[str]"]

#: Every concrete recommender class by name, filled by ``Recommender.__init_subclass__`` (for loading).
MODEL_CLASSES: dict[str, type["Recommender"]] = {}

#: 2: fitted attributes end in "_" (scikit-learn convention); models saved as format 1 must be retrained.
_FORMAT_VERSION = 2


UNKNOWN_USER = "unknown user"
UNKNOWN_ITEM = "unknown item"
UNKNOWN_USER_AND_ITEM = "unknown user and item"


class Prediction(NamedTuple):
    """One predicted value, as Surprise gives it: the estimate, and whether (and why) it is only a baseline.

    When ``was_impossible`` the model knew too little to predict (``reason``: an unknown user or item)
    and ``estimate`` is the fallback: the item's mean, the user's mean, or the global mean.
    """

    user: str
    item: str
    estimate: float
    was_impossible: bool = False
    reason: Optional[str] = None

    @property
    def details(self) -> dict[str, Any]:
        """Surprise's ``details`` dictionary: ``was_impossible`` and, when it was, the ``reason``."""
        if self.was_impossible:
            return {"was_impossible": True, "reason": self.reason}
        return {"was_impossible": False}

    def __float__(self) -> float:
        return self.estimate


# --- interactions and ids -------------------------------------------------------------------------


def _str_array(values: Iterable[Any]) -> np.ndarray:
    """Values as a numpy unicode array (ids are always compared as strings)."""
    array = np.asarray(values if isinstance(values, np.ndarray) else list(values))
    if array.dtype.kind != "U":
        array = array.astype(str)
    return array


@dataclass
class InteractionArrays(Sequence[Interaction]):
    """Interactions as parallel arrays: user ids, item ids, values (and optional unix timestamps)."""

    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    timestamps: Optional[np.ndarray] = field(default=None)

    def __post_init__(self) -> None:
        self.users = _str_array(self.users)
        self.items = _str_array(self.items)
        self.values = np.asarray(self.values, dtype=np.float64)
        if not (len(self.users) == len(self.items) == len(self.values)):
            raise ValueError("users, items and values must have the same length")

    @classmethod
    def from_tuples(cls, interactions: Iterable[Sequence[Any]]) -> "InteractionArrays":
        """Arrays from ``(user, item, value)`` tuples; a fourth element on every row is its time (unix seconds or datetime)."""
        rows = list(interactions)
        if not rows:
            return cls(np.array([], dtype="U1"), np.array([], dtype="U1"), np.array([], dtype=np.float64))
        users, items, values = zip(*((row[0], row[1], row[2]) for row in rows))
        timestamps = None
        if all(len(row) > 3 and row[3] is not None for row in rows):
            timestamps = unix_seconds([row[3] for row in rows])
        return cls(_str_array(users), _str_array(items), np.asarray(values, dtype=np.float64), timestamps)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - int or slice/array, as numpy
        if isinstance(index, (int, np.integer)):
            return (str(self.users[index]), str(self.items[index]), float(self.values[index]))
        return self.subset(index)

    def __iter__(self) -> Iterator[Interaction]:
        return iter(zip(self.users.tolist(), self.items.tolist(), self.values.tolist()))

    def subset(self, index: Union[np.ndarray, slice]) -> "InteractionArrays":
        """The interactions at these positions (a boolean mask, an index array or a slice)."""
        ts = None if self.timestamps is None else self.timestamps[index]
        return InteractionArrays(self.users[index], self.items[index], self.values[index], ts)


def unix_seconds(times: Sequence[Any]) -> np.ndarray:
    """Times (datetimes, ``datetime64`` or numbers of seconds) as float unix seconds."""
    array = np.asarray(times)
    if array.dtype.kind in "iuf":
        return array.astype(np.float64)
    return array.astype("datetime64[s]").astype(np.int64).astype(np.float64)


def as_arrays(interactions: Union[InteractionArrays, Iterable[Sequence[Any]]]) -> InteractionArrays:
    """Interactions as :class:`InteractionArrays`, converting tuples once (no copy for arrays)."""
    if isinstance(interactions, InteractionArrays):
        return interactions
    return InteractionArrays.from_tuples(interactions)


class IdIndex:
    """Sorted unique string ids ↔ contiguous ints 0..n-1, vectorised both ways."""

    def __init__(self, ids: Iterable[Any] = ()) -> None:
        self.ids = np.unique(_str_array(ids))
        self._positions: Optional[dict[str, int]] = None

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, key: object) -> bool:
        return self.get(key) >= 0  # type: ignore[arg-type]

    def get(self, key: Any) -> int:
        """The int of one id, or -1 when unknown."""
        if self._positions is None:
            self._positions = {key: pos for pos, key in enumerate(self.ids.tolist())}
        return self._positions.get(str(key), -1)

    def encode(self, keys: Iterable[Any]) -> np.ndarray:
        """The ints of many ids (-1 for unknown ones), by binary search."""
        keys = _str_array(keys)
        if len(self.ids) == 0 or len(keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.searchsorted(self.ids, keys)
        pos = np.minimum(pos, len(self.ids) - 1)
        return np.where(self.ids[pos] == keys, pos, -1).astype(np.int64)

    def decode(self, positions: Iterable[int]) -> list[str]:
        """The ids of these ints."""
        return self.ids[np.asarray(positions, dtype=np.int64)].tolist()


def interaction_matrix(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int], aggregate: str = "sum"
) -> sp.csr_matrix:
    """A CSR matrix from coordinates; repeated (row, col) pairs are summed, averaged or maxed."""
    if aggregate not in {"sum", "mean", "max"}:
        raise ValueError(f"unknown aggregate {aggregate!r}")
    values = np.asarray(values, dtype=np.float64)
    if aggregate == "max" and len(values):
        order = np.lexsort((-values, cols, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, values = rows[first], cols[first], values[first]
    matrix = sp.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float64)
    matrix.sum_duplicates()
    if aggregate == "mean":
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape, dtype=np.float64)
        counts.sum_duplicates()
        matrix.data = matrix.data / counts.data  # same sorted structure: both summed the same coordinates
    matrix.sort_indices()
    return matrix


def top_n(scores: np.ndarray, n: int, exclude: Optional[np.ndarray] = None) -> np.ndarray:
    """Indices of the ``n`` highest finite scores, best first, skipping ``exclude``."""
    scores = np.asarray(scores, dtype=np.float64)
    if exclude is not None and len(exclude):
        scores = scores.copy()
        scores[exclude] = -np.inf
    candidates = np.flatnonzero(np.isfinite(scores))
    if n <= 0 or len(candidates) == 0:
        return np.array([], dtype=np.int64)
    if len(candidates) > n:
        part = np.argpartition(-scores[candidates], n - 1)[:n]
        candidates = candidates[part]
    # stable order: score descending, then index ascending (deterministic ties)
    return candidates[np.lexsort((candidates, -scores[candidates]))]


def row_slice(matrix: sp.csr_matrix, row: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of one CSR row (views, no copy)."""
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:end], matrix.data[start:end]


# --- the interface --------------------------------------------------------------------------------


class Recommender(BaseEstimator):
    """Base class: fit on (user, item, value) interactions, predict, recommend, save and load.

    As in scikit-learn, ``__init__`` only stores its arguments unchanged (``get_params``/``set_params``
    come from ``BaseEstimator``; checks happen in ``fit``) and everything ``fit`` learns ends in ``_``
    (``matrix_``, ``user_index_``, ``item_index_``, ``global_mean_``, ``user_means_``, ``item_means_``,
    ``item_popularity_`` and each model's own). Callers ask what a model can do by its attributes, never
    by its class: ``predicts_ratings``, ``requires_item_features``, and :func:`fit_params` for the extra
    data its ``fit`` takes.
    """

    #: Attribute names of fitted numpy arrays / sparse matrices that ``save`` stores (besides the base ones).
    _array_attrs: ClassVar[tuple[str, ...]] = ()
    #: Attribute names of fitted scalars (JSON) that ``save`` stores.
    _scalar_attrs: ClassVar[tuple[str, ...]] = ()
    #: Whether ``predict`` estimates the interaction value itself (a rating) rather than a ranking score.
    predicts_ratings: ClassVar[bool] = True
    #: Whether ``fit`` cannot work without ``item_features`` (a hybrid leaves such a component out without them).
    requires_item_features: ClassVar[bool] = False
    #: How repeated (user, item) pairs are combined when building the matrix.
    _aggregate: ClassVar[str] = "mean"
    _base_arrays: ClassVar[tuple[str, ...]] = ("matrix_", "user_means_", "item_means_", "item_popularity_")
    _base_scalars: ClassVar[tuple[str, ...]] = ("global_mean_", "value_min_", "value_max_")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        MODEL_CLASSES[cls.__name__] = cls

    @classmethod
    def _params_from_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """The constructor arguments of a saved model."""
        return dict(header["params"])

    # --- fitting --------------------------------------------------------------------------------

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` (or ``load``) has run (what ``sklearn.utils.validation.check_is_fitted`` asks)."""
        return getattr(self, "matrix_", None) is not None

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or ``load``) has run."""
        return self.__sklearn_is_fitted__()

    def _check_fitted(self) -> None:
        check_is_fitted(self, msg="This %(name)s is not fitted yet: call fit() or load() first.")

    def fit(self, interactions: Union[InteractionArrays, Iterable[Sequence[Any]]], **kwargs: Any) -> "Recommender":
        """Learn from (user_id, item_id, value) interactions; returns self."""
        data = as_arrays(interactions)
        self._fit_base(data, extra_items=kwargs.pop("extra_items", None))
        self._fit(data, **kwargs)
        return self

    def _fit_base(self, data: InteractionArrays, extra_items: Optional[Iterable[Any]] = None) -> None:
        """Index the ids, build the users × items matrix and the fallback statistics."""
        if len(data) == 0:
            raise ValueError("cannot fit on no interactions")
        self.user_index_ = IdIndex(data.users)
        items = data.items if extra_items is None else np.concatenate([data.items, _str_array(extra_items)])
        self.item_index_ = IdIndex(items)
        rows = self.user_index_.encode(data.users)
        cols = self.item_index_.encode(data.items)
        shape = (len(self.user_index_), len(self.item_index_))
        self.matrix_ = interaction_matrix(rows, cols, data.values, shape, self._aggregate)
        values = self.matrix_.data
        self.global_mean_ = float(values.mean())
        self.value_min_, self.value_max_ = float(values.min()), float(values.max())
        counts_u = np.diff(self.matrix_.indptr)
        sums_u = np.asarray(self.matrix_.sum(axis=1)).ravel()
        self.user_means_ = np.where(counts_u > 0, sums_u / np.maximum(counts_u, 1), self.global_mean_)
        counts_i = np.bincount(self.matrix_.indices, minlength=shape[1])
        sums_i = np.bincount(self.matrix_.indices, weights=values, minlength=shape[1])
        self.item_means_ = np.where(counts_i > 0, sums_i / np.maximum(counts_i, 1), self.global_mean_)
        self.item_popularity_ = counts_i.astype(np.float64)

    def _fit(self, data: InteractionArrays, **kwargs: Any) -> None:
        """Model-specific fitting, after ``_fit_base``."""

    # --- scores ---------------------------------------------------------------------------------

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predictions for known user and item ints (subclasses override)."""
        return self.item_means_[items]

    def _scores(self, user: int) -> np.ndarray:
        """Ranking scores of every item for a known user int (default: predictions for all items)."""
        items = np.arange(len(self.item_index_))
        return self._predict_known(np.full(len(items), user), items)

    def _fallback_scores(self, user: Optional[str]) -> np.ndarray:
        """Scores for a user the model cannot personalise for: item popularity."""
        return self.item_popularity_.astype(np.float64)

    def predict(self, user: Any, item: Any) -> Prediction:
        """The predicted value of ``item`` for ``user``, flagged impossible (a baseline) for an unknown id."""
        estimate = float(self.predict_many([user], [item])[0])
        reason = self.impossible_reasons([user], [item])[0] or None
        return Prediction(str(user), str(item), estimate, reason is not None, reason)

    def impossible_reasons(self, users: Iterable[Any], items: Iterable[Any]) -> list[str]:
        """For parallel user and item ids, why each prediction is only a baseline ("" where it is not)."""
        self._check_fitted()
        unknown_user = self.user_index_.encode(users) < 0
        unknown_item = self.item_index_.encode(items) < 0
        reasons = np.full(len(unknown_user), "", dtype=object)
        reasons[unknown_user] = UNKNOWN_USER
        reasons[unknown_item] = UNKNOWN_ITEM
        reasons[unknown_user & unknown_item] = UNKNOWN_USER_AND_ITEM
        return reasons.tolist()

    def was_impossible(self, users: Iterable[Any], items: Iterable[Any]) -> np.ndarray:
        """For parallel user and item ids, whether each prediction is only a baseline (an unknown user or item)."""
        self._check_fitted()
        return (self.user_index_.encode(users) < 0) | (self.item_index_.encode(items) < 0)

    def predict_many(self, users: Iterable[Any], items: Iterable[Any]) -> np.ndarray:
        """Predicted values for parallel sequences of user and item ids, vectorised (baselines where impossible)."""
        self._check_fitted()
        u = self.user_index_.encode(users)
        i = self.item_index_.encode(items)
        out = np.full(len(u), self.global_mean_, dtype=np.float64)
        known_u, known_i = u >= 0, i >= 0
        only_i = ~known_u & known_i
        out[only_i] = self.item_means_[i[only_i]]
        only_u = known_u & ~known_i
        out[only_u] = self.user_means_[u[only_u]]
        both = known_u & known_i
        if both.any():
            out[both] = self._predict_known(u[both], i[both])
        return out

    def scores(self, user: Any) -> np.ndarray:
        """Ranking scores of every item (in ``item_index`` order) for a user; popularity if unknown."""
        self._check_fitted()
        u = self.user_index_.get(user)
        return self._scores(u) if u >= 0 else self._fallback_scores(user)

    def seen_items(self, user: Any) -> np.ndarray:
        """Item ints the user interacted with in the training data."""
        u = self.user_index_.get(user)
        return row_slice(self.matrix_, u)[0] if u >= 0 else np.array([], dtype=np.int64)

    def recommend(self, user: Any, n: int = 10, exclude_seen: bool = True) -> list[tuple[str, float]]:
        """The ``n`` best items for ``user`` with their scores, best first."""
        scores = self.scores(user)
        best = top_n(scores, n, self.seen_items(user) if exclude_seen else None)
        return list(zip(self.item_index_.decode(best), scores[best].tolist()))

    def similar_items(self, item: Any, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` items most similar to ``item`` (models without item similarities raise)."""
        raise NotImplementedError(f"{type(self).__name__} has no item similarities")

    # --- saving and loading -----------------------------------------------------------------

    def _saved_params(self) -> dict[str, Any]:
        """The constructor arguments written to a saved model's header (JSON values only)."""
        return self.get_params(deep=False)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able header and named arrays describing the fitted model."""
        self._check_fitted()
        header: dict[str, Any] = {
            "class": type(self).__name__,
            "params": self._saved_params(),
            "scalars": {name: getattr(self, name) for name in self._base_scalars + self._scalar_attrs},
            "sparse": [],
            "none": [],
        }
        arrays: dict[str, np.ndarray] = {"user_ids": self.user_index_.ids, "item_ids": self.item_index_.ids}
        for name in self._base_arrays + self._array_attrs:
            value = getattr(self, name)
            if value is None:
                header["none"].append(name)
            elif sp.issparse(value):
                csr = sp.csr_matrix(value)
                header["sparse"].append(name)
                arrays[f"{name}.data"] = csr.data
                arrays[f"{name}.indices"] = csr.indices
                arrays[f"{name}.indptr"] = csr.indptr
                arrays[f"{name}.shape"] = np.asarray(csr.shape, dtype=np.int64)
            else:
                arrays[name] = np.asarray(value)
        return header, arrays

    def _set_state(self, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_get_state`` described."""
        self.user_index_ = IdIndex(arrays["user_ids"])
        self.item_index_ = IdIndex(arrays["item_ids"])
        for name, value in header["scalars"].items():
            setattr(self, name, value)
        for name in header["none"]:
            setattr(self, name, None)
        for name in header["sparse"]:
            shape = tuple(int(x) for x in arrays[f"{name}.shape"])
            matrix = sp.csr_matrix(
                (arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]), shape=shape
            )
            setattr(self, name, matrix)
        sparse_keys = {f"{n}.{part}" for n in header["sparse"] for part in ("data", "indices", "indptr", "shape")}
        for key, value in arrays.items():
            if key not in sparse_keys and key not in {"user_ids", "item_ids"} and "/" not in key:
                setattr(self, key, value)

    def save(self, path: PathLike) -> Path:
        """Write the fitted model to ``path`` (a ``.npz`` file; the suffix is added if missing).

        The file is written next to its place and then renamed over it, so a reader (an action server
        watching the file) never sees half a model.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        header, arrays = self._get_state()
        header["format"] = _FORMAT_VERSION
        write_npz_atomically(path, header, arrays)
        return path

    @classmethod
    def load(cls, path: PathLike) -> "Recommender":
        """Read a model written by ``save`` (any class when called on ``Recommender``)."""
        model = load_model(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def write_npz_atomically(path: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` of a JSON header and arrays to a temporary file renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez_compressed(out, __header__=np.array(json.dumps(header)), **arrays)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def clone(model: "Recommender") -> "Recommender":
    """An unfitted copy of a model with the same parameters (``sklearn.base.clone`` for recommenders)."""
    return sklearn_clone(model)


def fit_params(model: Recommender, **available: Any) -> dict[str, Any]:
    """The keyword arguments among ``available`` (``item_features``, ``user_segments`` ...) that ``model.fit`` takes."""
    return {name: value for name, value in available.items() if has_fit_parameter(model, name)}


def _read_npz(path: PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = Path(path)
    if not path.exists() and path.with_name(path.name + ".npz").exists():
        path = path.with_name(path.name + ".npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    header = json.loads(str(arrays.pop("__header__")))
    if header.get("format") != _FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported model format {header.get('format')!r}")
    return header, arrays


def read_header(path: PathLike) -> dict[str, Any]:
    """The JSON header of a saved model (ValueError for another format), without loading its arrays."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(str(npz["__header__"]))
    if header.get("format") != _FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported model format {header.get('format')!r}")
    return header


def model_from_state(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Recommender:
    """A fitted model rebuilt from a header and arrays (used by ``load_model`` and composite models)."""
    cls = MODEL_CLASSES.get(header["class"])
    if cls is None:
        raise ValueError(f"unknown model class {header['class']!r}")
    model = cls(**cls._params_from_state(header, arrays))
    model._set_state(header, arrays)
    return model


def load_model(path: PathLike) -> Recommender:
    """Load a model saved with ``Recommender.save``, whatever its class."""
    import knowledge.recommend  # noqa: F401 - registers every model class

    header, arrays = _read_npz(path)
    return model_from_state(header, arrays)


"""Validation that carries forward in time: rolling windows inside the training data, then a later test period.

The hybrid's weights are never tuned on the test period. Inside the training data (purchases before
``cutoff``) the last ``count`` weeks are validation windows: for each window, the models are trained on
everything before it and asked for the new items each returning customer buys in it. The hybrid's
weights for window j are the grid point with the best mean recall@10 over windows 1..j-1 (window 1 uses
the defaults), so every reported window score is out of sample; the test period then uses the weights
that were best over all windows. The simple collaborative filters (user and item cosine, user and item
Pearson, ALS when ``implicit`` is installed), EASE and popularity are scored on the same windows.

    data = load_online_retail(get_settings().datasets_dir / "online-retail")
    rolling = rolling_evaluation(data, cutoff="2011-02-01", test_end="2011-03-01")
    cold = cold_start_evaluation(data, rolling)      # customers with at most 3 purchases before the cutoff
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from knowledge.recommend.als import INSTALL_HINT, ImplicitALS, als_available
from knowledge.recommend.base import Recommender, fit_params
from knowledge.recommend.ease import EASE
from knowledge.recommend.evaluation import RetailData, ranking_metrics, retail_split
from knowledge.recommend.hybrid import SEGMENT, Hybrid, blend, default_components, segment_factor
from knowledge.recommend.itemcf import ImplicitItemCF
from knowledge.recommend.popularity import Popularity, TrendingPopularity
from knowledge.recommend.usercf import ImplicitUserCF

Progress = Optional[Callable[[str], None]]
METRICS = ("recall@10", "ndcg@10", "coverage")
#: Hybrid weights searched on the windows (EASE anchors the scale at 1; the blend is scale-free).
WEIGHT_GRID: dict[str, tuple[float, ...]] = {
    "ease": (1.0,),
    "itemcf": (0.0, 0.5, 1.0),
    "usercf": (0.0, 0.25, 0.5),
    "content": (0.0, 0.2, 0.4, 0.7),
    "trending": (0.0, 0.1, 0.25),
}
SEGMENT_GRID = (0.0, 0.25, 1.0)
#: "Cold-start" customers: at most this many purchases (invoices) before the cutoff.
COLD_MAX_PURCHASES = 3


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


@dataclass(frozen=True)
class Window:
    """A validation or test period: purchases in [start, end)."""

    start: np.datetime64
    end: np.datetime64

    @property
    def label(self) -> str:
        """Its first and last day, such as ``2011-01-04..2011-01-10``."""
        last = (self.end - np.timedelta64(1, "D")).astype("datetime64[D]")
        return f"{self.start.astype('datetime64[D]')}..{last}"


def rolling_windows(cutoff: str, count: int = 4, days: int = 7) -> list[Window]:
    """``count`` back-to-back windows of ``days`` days, oldest first, the last one ending at ``cutoff``."""
    if count < 1 or days < 1:
        raise ValueError("need at least one window of at least one day")
    end = np.datetime64(cutoff, "s")
    step = np.timedelta64(days, "D")
    return [Window(end - step * (count - n), end - step * (count - n - 1)) for n in range(count)]


@dataclass
class Split:
    """One temporal split: training lines before ``window.start``, new items bought in the window."""

    window: Window
    lines: RetailData
    test: dict[str, set[str]]
    train: Any  # InteractionArrays
    item_features: dict[str, dict[str, Any]]
    segments: dict[str, str]
    purchases: dict[str, int]  # invoices per training customer
    catalogue: int

    @property
    def users(self) -> list[str]:
        """The customers asked, sorted."""
        return sorted(self.test)

    def cold_users(self, max_purchases: int = COLD_MAX_PURCHASES) -> list[str]:
        """The test customers with at most ``max_purchases`` invoices before the window."""
        return [user for user in self.users if self.purchases.get(user, 0) <= max_purchases]


def shopper_segments(lines: RetailData) -> dict[str, str]:
    """K-means shopper segments (the project's own, ``knowledge.segments``) of the customers in ``lines``."""
    from knowledge.segments import collect_online_retail, fit_segments

    model = fit_segments(collect_online_retail(lines))
    names = {segment.id: segment.name for segment in model.segments}
    return {customer: names[int(label)] for customer, label in zip(model.customer_ids.tolist(), model.labels.tolist())}


def make_split(data: RetailData, window: Window, with_segments: bool = True) -> Split:
    """Train on the lines before the window, test on the new items of returning customers inside it."""
    lines, test = retail_split(data, str(window.start), str(window.end))
    train = lines.interactions()
    invoices = np.unique(np.stack([lines.customers, lines.invoices], axis=1), axis=0)[:, 0]
    customers, counts = np.unique(invoices, return_counts=True)
    return Split(
        window=window, lines=lines, test=test, train=train, item_features=lines.item_features(),
        segments=shopper_segments(lines) if with_segments else {},
        purchases=dict(zip(customers.tolist(), counts.tolist())), catalogue=len(np.unique(train.items)),
    )


# --- metrics on many users at once ----------------------------------------------------------------


def _truth_matrix(users: Sequence[str], test: Mapping[str, set[str]], item_ids: np.ndarray) -> np.ndarray:
    positions = {item: pos for pos, item in enumerate(item_ids.tolist())}
    truth = np.zeros((len(users), len(item_ids)), dtype=bool)
    for row, user in enumerate(users):
        for item in test[user]:
            if item in positions:
                truth[row, positions[item]] = True
    return truth


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """The column indices of each row's ``k`` highest scores, best first (ties by column)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    return np.take_along_axis(part, order, axis=1)


def list_metrics(top: np.ndarray, truth: np.ndarray, relevant: np.ndarray, catalogue: int, k: int = 10) -> dict[str, float]:
    """Recall@k, NDCG@k and coverage of top-k item indices against a users × items truth matrix."""
    if len(top) == 0:
        return {f"recall@{k}": 0.0, f"ndcg@{k}": 0.0, "coverage": 0.0}
    hits = np.take_along_axis(truth, top, axis=1)
    discounts = 1.0 / np.log2(np.arange(top.shape[1]) + 2.0)
    ideal = np.cumsum(discounts)[np.clip(np.minimum(relevant, k) - 1, 0, None)]
    return {
        f"recall@{k}": float((hits.sum(axis=1) / np.maximum(relevant, 1)).mean()),
        f"ndcg@{k}": float(((hits @ discounts) / ideal).mean()),
        "coverage": len(np.unique(top)) / catalogue if catalogue else 0.0,
    }


def model_metrics(model: Recommender, split: Split, users: Sequence[str], k: int = 10) -> dict[str, float]:
    """The top-k metrics of a fitted model's ``recommend`` for these users of the split."""
    recs = {user: [item for item, _ in model.recommend(user, k)] for user in users}
    return ranking_metrics(recs, {user: split.test[user] for user in users}, split.catalogue, k)


# --- the algorithms ---------------------------------------------------------------------------------


def simple_algorithms() -> tuple[dict[str, Callable[[], Recommender]], dict[str, str]]:
    """The baselines by name, and those skipped with the reason (ALS without the ``implicit`` package)."""
    algorithms: dict[str, Callable[[], Recommender]] = {
        "Popularity": Popularity,
        "UserCF-cosine": lambda: ImplicitUserCF(k=100),
        "UserCF-Pearson": lambda: ImplicitUserCF(k=100, similarity="pearson"),
        "ItemCF-cosine": lambda: ImplicitItemCF(k=200, weighting="none"),
        "ItemCF-bm25": lambda: ImplicitItemCF(k=200, weighting="bm25"),
        "ItemCF-Pearson": lambda: ImplicitItemCF(k=200, weighting="none", similarity="pearson"),
        "EASE": lambda: EASE(l2=100.0),
    }
    skipped: dict[str, str] = {}
    if als_available():
        algorithms["ALS"] = lambda: ImplicitALS(factors=64, regularization=0.01, iterations=15)
    else:
        skipped["ALS"] = f"skipped: the implicit package is not installed ({INSTALL_HINT})"
    return algorithms, skipped


def weight_grid() -> list[dict[str, float]]:
    """Every combination of :data:`WEIGHT_GRID`, the default weights included."""
    names = list(WEIGHT_GRID)
    combos = [dict(zip(names, values)) for values in itertools.product(*(WEIGHT_GRID[n] for n in names))]
    return [c for c in combos if any(c.values())]


def default_weights() -> dict[str, float]:
    """The weights of :func:`~knowledge.recommend.hybrid.default_components`."""
    return {name: weight for name, _, weight in default_components()}


def hybrid_with(weights: Mapping[str, float], segment_weight: float = 0.0) -> Hybrid:
    """The default hybrid's components with these weights."""
    components = [(name, model, float(weights.get(name, 0.0))) for name, model, _ in default_components()]
    return Hybrid(components, segment_weight=segment_weight)


def _fit(model: Recommender, split: Split, segments: bool = True) -> Recommender:
    """Fit on the split's training pairs, with the item features and segments the model's ``fit`` takes."""
    extra = fit_params(model, item_features=split.item_features, user_segments=split.segments if segments else None)
    return model.fit(split.train, **extra)


@dataclass
class GridTable:
    """Metrics of every (weights, segment weight) grid point on one split: all users and the cold ones."""

    combos: list[dict[str, float]]
    segment_weights: tuple[float, ...]
    scores: dict[tuple[int, float], dict[str, float]] = field(default_factory=dict)

    def best(self, tables: Sequence["GridTable"], metric: str = "recall@10", cold: bool = False,
             fixed: Optional[dict[str, float]] = None) -> tuple[dict[str, float], float]:
        """The grid point with the best mean ``metric`` over ``tables`` (ties: the earlier point)."""
        prefix = "cold " if cold else ""
        keys = [(c, s) for c in range(len(self.combos)) for s in self.segment_weights
                if fixed is None or self.combos[c] == fixed]
        best = max(keys, key=lambda key: (np.mean([t.scores[key][prefix + metric] for t in tables]), -key[0], -key[1]))
        return self.combos[best[0]], best[1]

    def lookup(self, weights: Mapping[str, float], segment_weight: float) -> dict[str, float]:
        """The metrics of one grid point."""
        index = next(i for i, combo in enumerate(self.combos) if combo == dict(weights))
        return self.scores[(index, segment_weight)]


def grid_table(split: Split, k: int = 10, progress: Progress = None) -> GridTable:
    """Fit every candidate component once on the split and score every grid point's blend."""
    combos, table = weight_grid(), GridTable(weight_grid(), SEGMENT_GRID)
    candidate = hybrid_with({name: 1.0 for name in WEIGHT_GRID}, segment_weight=1.0)
    _fit(candidate, split)
    users = split.users
    item_ids = candidate.item_index_.ids
    parts: dict[str, np.ndarray] = {}
    for row, user in enumerate(users):
        for name, values in candidate.component_scores(user).items():
            parts.setdefault(name, np.zeros((len(users), len(item_ids)), dtype=np.float32))[row] = values
    seen = np.zeros((len(users), len(item_ids)), dtype=bool)
    for row, user in enumerate(users):
        seen[row, candidate.seen_items(user)] = True
    factors = segment_factor(1.0, candidate.segment_shrinkage, [candidate.n_interactions(u) for u in users])
    truth = _truth_matrix(users, split.test, item_ids)
    relevant = np.array([len(split.test[user]) for user in users])
    cold = np.array([split.purchases.get(user, 0) <= COLD_MAX_PURCHASES for user in users])
    started = time.perf_counter()
    for index, weights in enumerate(combos):
        base = blend(parts, weights)
        for segment_weight in SEGMENT_GRID:
            scores = base + segment_weight * factors[:, None] * parts[SEGMENT] if segment_weight and SEGMENT in parts \
                else base.copy()
            scores[seen] = -np.inf
            top = top_k_rows(scores, k)
            scored = list_metrics(top, truth, relevant, split.catalogue, k)
            scored.update({f"cold {key}": value for key, value in
                           list_metrics(top[cold], truth[cold], relevant[cold], split.catalogue, k).items()})
            table.scores[(index, segment_weight)] = scored
    _say(progress, f"  grid: {len(combos) * len(SEGMENT_GRID)} weightings scored in {time.perf_counter() - started:.1f} s")
    return table


# --- the protocols ----------------------------------------------------------------------------------


def _summary(per_window: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    means = {m: float(np.mean([w[m] for w in per_window])) for m in METRICS}
    spreads = {m: float(statistics.pstdev([w[m] for w in per_window])) if len(per_window) > 1 else 0.0 for m in METRICS}
    return means, spreads


def rolling_evaluation(
    data: RetailData,
    cutoff: str = "2011-02-01",
    test_end: str = "2011-03-01",
    windows: int = 4,
    days: int = 7,
    k: int = 10,
    progress: Progress = None,
) -> dict[str, Any]:
    """Per window and mean ± spread, and on the test period: the hybrid (weights from earlier windows only) vs the baselines."""
    algorithms, skipped = simple_algorithms()
    splits, tables = [], []
    for window in rolling_windows(cutoff, windows, days):
        split = make_split(data, window)
        if not split.test:
            _say(progress, f"window {window.label}: no returning customer bought a new item; left out")
            continue
        _say(progress, f"window {window.label}: train {len(split.train)} customer-item pairs before it, "
                       f"{len(split.test)} customers to predict")
        splits.append(split)
        tables.append(grid_table(split, k, progress))
    if not splits:
        raise ValueError(f"no validation window before {cutoff} has test customers")
    results: dict[str, dict[str, Any]] = {name: {"windows": []} for name in ["Hybrid", *algorithms]}
    chosen: list[dict[str, Any]] = []
    for number, (split, table) in enumerate(zip(splits, tables)):
        if number == 0:
            weights, segment_weight, source = default_weights(), Hybrid().segment_weight, "defaults (no earlier window)"
        else:
            weights, segment_weight = table.best(tables[:number])
            source = f"best mean recall@{k} over windows 1..{number}"
        chosen.append({"window": split.window.label, "weights": weights, "segment_weight": segment_weight,
                       "chosen by": source})
        results["Hybrid"]["windows"].append({m: table.lookup(weights, segment_weight)[m] for m in METRICS})
        for name, make in algorithms.items():
            model = _fit(make(), split)
            results[name]["windows"].append({m: v for m, v in model_metrics(model, split, split.users, k).items()
                                             if m in METRICS})
        _say(progress, f"window {number + 1} ({split.window.label}): hybrid recall@{k} "
                       f"{results['Hybrid']['windows'][-1][f'recall@{k}']:.4f} with {source}")
    final_weights, final_segment = tables[0].best(tables)
    test_split = make_split(data, Window(np.datetime64(cutoff, "s"), np.datetime64(test_end, "s")))
    _say(progress, f"test {test_split.window.label}: train {len(test_split.train)} pairs, "
                   f"{len(test_split.test)} customers; hybrid weights {final_weights}, segment {final_segment}")
    for name in results:
        results[name]["mean"], results[name]["spread"] = _summary(results[name]["windows"])
        results[name]["test"] = None
    if not test_split.test:
        _say(progress, f"test {test_split.window.label}: no returning customer bought a new item in it (the data "
                       f"ends {np.datetime_as_string(data.dates.max(), unit='D')}); the windows alone are reported")
    for name, make in [("Hybrid", lambda: hybrid_with(final_weights, final_segment)), *algorithms.items()]:
        if not test_split.test:
            break
        started = time.perf_counter()
        model = _fit(make(), test_split)
        scored = model_metrics(model, test_split, test_split.users, k)
        results[name]["test"] = {m: scored[m] for m in METRICS}
        _say(progress, f"  {name}: test recall@{k} {scored[f'recall@{k}']:.4f} ({time.perf_counter() - started:.1f} s)")
    return {
        "dataset": "online-retail",
        "protocol": {
            "windows": [s.window.label for s in splits], "window_days": days, "cutoff": cutoff,
            "test": test_split.window.label, "k": k,
            "tuning": f"hybrid weights for window j: the best mean recall@{k} over windows 1..j-1 "
                      f"({len(weight_grid()) * len(SEGMENT_GRID)} grid points); test: the best over every window",
        },
        "algorithms": results,
        "hybrid_weights": chosen,
        "final_weights": {"weights": final_weights, "segment_weight": final_segment},
        "skipped": skipped,
        "_tables": tables,
    }


def cold_start_evaluation(
    data: RetailData,
    rolling: Mapping[str, Any],
    cutoff: str = "2011-02-01",
    test_end: str = "2011-03-01",
    max_purchases: int = COLD_MAX_PURCHASES,
    k: int = 10,
    progress: Progress = None,
) -> dict[str, Any]:
    """Recall@k on customers with at most ``max_purchases`` purchases before the cutoff.

    Compared: the hybrid with and without segments, and popularity.

    The hybrid's weights are the rolling evaluation's final ones; the segment weight of "with segments"
    is the one with the best mean cold-customer recall over the same windows (never the test period).
    """
    weights = dict(rolling["final_weights"]["weights"])
    tables: list[GridTable] = rolling["_tables"]
    _, segment_weight = tables[0].best(tables, cold=True, fixed=weights)
    if segment_weight == 0.0:
        segment_weight = max(SEGMENT_GRID)  # "with segments" must use them: the largest weight searched
    split = make_split(data, Window(np.datetime64(cutoff, "s"), np.datetime64(test_end, "s")))
    users = split.cold_users(max_purchases)
    if not users:
        raise ValueError(f"no customer with at most {max_purchases} purchases before {cutoff} bought a new item after it")
    _say(progress, f"cold start: {len(users)} of {len(split.users)} test customers had at most {max_purchases} "
                   f"purchases before {cutoff}")
    models: dict[str, tuple[Recommender, bool]] = {
        "Popularity": (Popularity(), False),
        "Segment popularity": (Hybrid([("trending", TrendingPopularity(), 1.0)], min_interactions=10**9), True),
        "Hybrid without segments": (hybrid_with(weights, 0.0), False),
        "Hybrid with segments": (hybrid_with(weights, segment_weight), True),
    }
    results = {}
    for name, (model, segments) in models.items():
        _fit(model, split, segments=segments)
        results[name] = {m: v for m, v in model_metrics(model, split, users, k).items() if m in METRICS}
        _say(progress, f"  {name}: recall@{k} {results[name][f'recall@{k}']:.4f}")
    return {
        "protocol": {"train": f"before {cutoff}", "test": split.window.label, "customers": len(users),
                     "max_purchases": max_purchases, "segments": "K-means shopper segments of the training customers",
                     "segment_weight": segment_weight, "weights": weights},
        "algorithms": results,
    }

"""Offline evaluation of the recommenders on public data sets (read from ``../shared/data``, never copied).

* ``ml-100k`` (explicit ratings): k-fold cross-validation, the same folds (fixed seed) for every
  algorithm → RMSE, MAE, the share of impossible predictions (an unknown user or item: the estimate is
  a baseline, counted in RMSE and MAE like the others, as Surprise does), fit and predict seconds.
* ``online-retail`` (implicit purchases): train on purchases before 2011-02-01, test on the February
  purchases of customers present in train, of items they had not bought before → HR@10, NDCG@10,
  precision@10, recall@10, catalogue coverage, fit seconds and the median time of one ``recommend``.

A missing data folder raises :class:`DatasetMissing` (a ``FileNotFoundError``) with a clear message;
the CLI turns it into a message, tests into a skip.
"""

from __future__ import annotations

import csv
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from knowledge.recommend.base import InteractionArrays, Recommender, _str_array, fit_params
from knowledge.recommend.content import ContentBased
from knowledge.recommend.hybrid import Hybrid
from knowledge.recommend.itemcf import ImplicitItemCF
from knowledge.recommend.knn import ItemKNN, UserKNN
from knowledge.recommend.mf import SVD
from knowledge.recommend.popularity import Popularity

DATASETS = ("ml-100k", "online-retail")
Progress = Optional[Callable[[str], None]]


class DatasetMissing(FileNotFoundError):
    """A public data set is not where it was looked for."""


# --- loaders --------------------------------------------------------------------------------------


def load_movielens(path: Union[str, Path]) -> InteractionArrays:
    """MovieLens ratings from ``u.data`` (``user \\t item \\t rating \\t unix time``); ``path`` is the file or its folder."""
    path = Path(path)
    file = path / "u.data" if path.is_dir() else path
    if not file.is_file():
        raise DatasetMissing(
            f"MovieLens 100K not found: no u.data at {path} (put the ml-100k folder in SHOPBOT_DATASETS_DIR; "
            "the README says where to download it)"
        )
    table = np.loadtxt(file, dtype=np.int64, delimiter="\t", ndmin=2)
    if table.shape[1] < 3:
        raise ValueError(f"{file}: expected user, item, rating[, timestamp] columns")
    timestamps = table[:, 3] if table.shape[1] > 3 else None
    return InteractionArrays(table[:, 0].astype(str), table[:, 1].astype(str), table[:, 2].astype(np.float64), timestamps)


@dataclass
class RetailData:
    """Purchase lines of the UCI Online Retail data set, cleaned, as parallel arrays."""

    invoices: np.ndarray
    customers: np.ndarray
    items: np.ndarray
    descriptions: np.ndarray
    quantities: np.ndarray
    prices: np.ndarray
    dates: np.ndarray  # datetime64[s]
    countries: np.ndarray

    def __len__(self) -> int:
        return len(self.invoices)

    def subset(self, mask: np.ndarray) -> "RetailData":
        """The lines selected by a boolean mask or index array."""
        return RetailData(*(getattr(self, name)[mask] for name in self.__dataclass_fields__))

    def interactions(self) -> InteractionArrays:
        """One (customer, item, number of invoices with that item) interaction per pair bought, timed by its last purchase."""
        customer_ids, customers = np.unique(self.customers, return_inverse=True)
        item_ids, items = np.unique(self.items, return_inverse=True)
        invoices = np.unique(self.invoices, return_inverse=True)[1]
        lines = np.unique(np.stack([customers, items, invoices], axis=1), axis=0)  # one row per invoice line
        pairs, counts = np.unique(lines[:, :2], axis=0, return_counts=True)
        seconds = self.dates.astype("datetime64[s]").astype(np.int64)
        pair_of_row = np.searchsorted(
            pairs[:, 0] * len(item_ids) + pairs[:, 1], customers.astype(np.int64) * len(item_ids) + items
        )
        last = np.full(len(pairs), np.iinfo(np.int64).min)
        np.maximum.at(last, pair_of_row, seconds)
        return InteractionArrays(
            customer_ids[pairs[:, 0]], item_ids[pairs[:, 1]], counts.astype(np.float64), last.astype(np.float64)
        )

    def item_features(self) -> dict[str, dict[str, Any]]:
        """Per stock code: its most recent description, median unit price and stock-code family."""
        order = np.lexsort((self.dates, self.items))
        items, descriptions, prices = self.items[order], self.descriptions[order], self.prices[order]
        starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])
        ends = np.r_[starts[1:], len(items)]
        features = {}
        for start, end in zip(starts.tolist(), ends.tolist()):  # one step per item, not per line
            code = str(items[start])
            family = "".join(ch for ch in code if ch.isdigit())[:3] or code
            features[code] = {
                "description": str(descriptions[end - 1]),
                "price": float(np.median(prices[start:end])),
                "category": family,
            }
        return features

    def user_countries(self) -> dict[str, str]:
        """Each customer's country (the one on their last line)."""
        order = np.argsort(self.dates, kind="stable")
        return dict(zip(self.customers[order].tolist(), self.countries[order].tolist()))


def _retail_files(path: Path) -> list[Path]:
    for folder in (path / "by-day", path):
        if folder.is_dir():
            files = sorted(folder.glob("*.csv"))
            if files:
                return files
    raise DatasetMissing(
        f"Online Retail not found: no CSV files in {path}/by-day or {path} "
        "(put the online-retail folder in SHOPBOT_DATASETS_DIR; the README says where to download it)"
    )


def load_online_retail(path: Union[str, Path]) -> RetailData:
    """UCI Online Retail lines from ``by-day/*.csv``, without anonymous lines, cancellations and non-positive values."""
    files = _retail_files(Path(path))
    columns: dict[str, list[str]] = {}
    wanted = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
    for name in wanted:
        columns[name] = []
    for file in files:
        with open(file, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in wanted if name not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{file}: missing columns {missing}")
            for row in reader:
                for name in wanted:
                    columns[name].append(row[name])
    invoices = _str_array(columns["InvoiceNo"])
    customers = np.char.strip(_str_array(columns["CustomerID"]))
    quantities = _floats(columns["Quantity"])
    prices = _floats(columns["UnitPrice"])
    keep = np.flatnonzero(
        (np.char.str_len(customers) > 0)
        & ~np.char.startswith(np.char.upper(invoices), "C")
        & (quantities > 0)
        & (prices > 0)
    )
    return RetailData(
        invoices=invoices[keep],
        customers=_customer_ids(customers[keep]),
        items=np.char.upper(np.char.strip(_str_array(columns["StockCode"])[keep])),
        descriptions=np.char.strip(_str_array(columns["Description"])[keep]),
        quantities=quantities[keep],
        prices=prices[keep],
        dates=np.char.strip(_str_array(columns["InvoiceDate"])[keep]).astype("datetime64[s]"),
        countries=_str_array(columns["Country"])[keep],
    )


def _floats(texts: list[str]) -> np.ndarray:
    """Numbers from strings; unparsable ones become NaN (and are then dropped as non-positive)."""
    try:
        return np.asarray(texts, dtype=np.float64)
    except ValueError:
        out = np.full(len(texts), np.nan)
        for pos, text in enumerate(texts):
            try:
                out[pos] = float(text)
            except ValueError:
                pass
        return out


def _customer_ids(customers: np.ndarray) -> np.ndarray:
    """Customer ids written like "17850.0" as "17850" (other spellings kept)."""
    if len(customers) == 0:
        return customers
    parts = np.char.partition(customers, ".")
    whole = (np.char.str_len(np.char.strip(parts[:, 2], "0")) == 0) & (np.char.str_len(parts[:, 0]) > 0)
    return np.where(whole, parts[:, 0], customers)


def retail_split(
    data: RetailData, cutoff: str = "2011-02-01", end: str = "2011-03-01"
) -> tuple[RetailData, dict[str, set[str]]]:
    """Train lines before ``cutoff``; per train customer, the items first bought in [cutoff, end)."""
    start, stop = np.datetime64(cutoff), np.datetime64(end)
    train = data.subset(data.dates < start)
    later = data.subset((data.dates >= start) & (data.dates < stop))
    bought_before = set(zip(train.customers.tolist(), train.items.tolist()))
    known = set(train.customers.tolist())
    test: dict[str, set[str]] = {}
    for customer, item in set(zip(later.customers.tolist(), later.items.tolist())):
        if customer in known and (customer, item) not in bought_before:
            test.setdefault(customer, set()).add(item)
    return train, test


# --- metrics --------------------------------------------------------------------------------------


def rmse(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Root mean squared error."""
    diff = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def mae(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Mean absolute error."""
    diff = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.mean(np.abs(diff)))


def _hits(recommended: Sequence[Sequence[str]], relevant: Sequence[set[str]], k: int) -> np.ndarray:
    """Users × k boolean matrix: is the j-th recommendation relevant."""
    hits = np.zeros((len(recommended), k), dtype=bool)
    for row, (recs, truth) in enumerate(zip(recommended, relevant)):
        for col, item in enumerate(list(recs)[:k]):
            hits[row, col] = item in truth
    return hits


def hit_rate_at_k(recommended: Sequence[Sequence[str]], relevant: Sequence[set[str]], k: int = 10) -> float:
    """Share of users with at least one relevant item among their top k."""
    return float(_hits(recommended, relevant, k).any(axis=1).mean()) if len(recommended) else 0.0


def precision_at_k(recommended: Sequence[Sequence[str]], relevant: Sequence[set[str]], k: int = 10) -> float:
    """Mean over users of (relevant items in the top k) / k."""
    return float(_hits(recommended, relevant, k).sum(axis=1).mean() / k) if len(recommended) else 0.0


def recall_at_k(recommended: Sequence[Sequence[str]], relevant: Sequence[set[str]], k: int = 10) -> float:
    """Mean over users of (relevant items in the top k) / (number of relevant items)."""
    if not len(recommended):
        return 0.0
    sizes = np.array([max(len(truth), 1) for truth in relevant], dtype=np.float64)
    return float((_hits(recommended, relevant, k).sum(axis=1) / sizes).mean())


def ndcg_at_k(recommended: Sequence[Sequence[str]], relevant: Sequence[set[str]], k: int = 10) -> float:
    """Mean binary-relevance NDCG@k: Σ hit_j / log2(j+2), over the ideal DCG of min(|relevant|, k) hits."""
    if not len(recommended):
        return 0.0
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = _hits(recommended, relevant, k) @ discounts
    ideal_cumulative = np.cumsum(discounts)
    ideal = np.array([ideal_cumulative[min(len(truth), k) - 1] if truth else 1.0 for truth in relevant])
    return float((dcg / ideal).mean())


def catalogue_coverage(recommended: Iterable[Sequence[str]], catalogue_size: int) -> float:
    """Share of the catalogue that appears in at least one recommendation list."""
    shown = {item for recs in recommended for item in recs}
    return len(shown) / catalogue_size if catalogue_size else 0.0


def ranking_metrics(
    recommended: Mapping[str, Sequence[str]], relevant: Mapping[str, set[str]], catalogue_size: int, k: int = 10
) -> dict[str, float]:
    """HR, NDCG, precision, recall @k and coverage of top-k lists for the users of ``relevant``."""
    users = sorted(relevant)
    recs = [list(recommended.get(user, []))[:k] for user in users]
    truth = [relevant[user] for user in users]
    return {
        f"hr@{k}": hit_rate_at_k(recs, truth, k),
        f"ndcg@{k}": ndcg_at_k(recs, truth, k),
        f"precision@{k}": precision_at_k(recs, truth, k),
        f"recall@{k}": recall_at_k(recs, truth, k),
        "coverage": catalogue_coverage(recs, catalogue_size),
    }


# --- protocols ------------------------------------------------------------------------------------


def kfold_indices(n: int, folds: int = 5, seed: int = 42) -> list[np.ndarray]:
    """``folds`` disjoint test index arrays covering 0..n-1, from a seeded permutation."""
    if folds < 2:
        raise ValueError("need at least 2 folds")
    return np.array_split(np.random.default_rng(seed).permutation(n), folds)


def explicit_algorithms() -> dict[str, Callable[[], Recommender]]:
    """The algorithms evaluated on explicit ratings, by name."""
    return {
        "Popularity": Popularity,
        "UserKNN": lambda: UserKNN(k=40),
        "UserKNN-shrink": lambda: UserKNN(k=40, shrinkage=10),
        "ItemKNN": lambda: ItemKNN(k=40),
        "ItemKNN-shrink": lambda: ItemKNN(k=40, shrinkage=50),
        "SVD": SVD,
        "Hybrid": lambda: Hybrid([("svd", SVD(), 0.6), ("itemknn", ItemKNN(k=40, shrinkage=50), 0.4)]),
    }


def implicit_algorithms() -> dict[str, Callable[[], Recommender]]:
    """The algorithms evaluated on purchases, by name."""
    return {
        "Popularity": Popularity,
        "ItemCF-cosine": lambda: ImplicitItemCF(k=200, weighting="none"),
        "ItemCF-bm25": lambda: ImplicitItemCF(k=200, weighting="bm25"),
        "ContentBased": lambda: ContentBased(weighting="log"),
        "Hybrid": Hybrid,
    }


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


def _median_recommend_ms(model: Recommender, users: Sequence[str], n: int = 10, sample: int = 200) -> float:
    """Median wall time of ``recommend(user, n)`` over up to ``sample`` users, in milliseconds."""
    times = []
    for user in list(users)[:sample]:
        started = time.perf_counter()
        model.recommend(user, n)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times) if times else 0.0


def fit_and_predict(model: Recommender, train: InteractionArrays, test: InteractionArrays) -> tuple[np.ndarray, float, float]:
    """Fit on ``train`` and predict ``test``; return the predictions and the fit and predict seconds."""
    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = model.predict_many(test.users, test.items)
    return predicted, fit_seconds, time.perf_counter() - started


def evaluate_explicit(
    ratings: InteractionArrays,
    folds: int = 5,
    seed: int = 42,
    algorithms: Optional[Mapping[str, Callable[[], Recommender]]] = None,
    progress: Progress = None,
) -> dict[str, dict[str, float]]:
    """k-fold CV on ratings → {name: rmse, mae, impossible, fit_seconds, predict_seconds, recommend_ms} (means over folds).

    ``impossible`` is the share of test ratings the model could only give a baseline for (an unknown
    user or item).
    """
    algorithms = dict(algorithms or explicit_algorithms())
    splits = kfold_indices(len(ratings), folds, seed)
    per_algo: dict[str, dict[str, list[float]]] = {name: {} for name in algorithms}
    for number, test_idx in enumerate(splits, 1):
        train_mask = np.ones(len(ratings), dtype=bool)
        train_mask[test_idx] = False
        train, test = ratings.subset(train_mask), ratings.subset(test_idx)
        for name, make in algorithms.items():
            model = make()
            predicted, fit_s, predict_s = fit_and_predict(model, train, test)
            scores = {
                "rmse": rmse(predicted, test.values),
                "mae": mae(predicted, test.values),
                "impossible": float(model.was_impossible(test.users, test.items).mean()),
                "fit_seconds": fit_s,
                "predict_seconds": predict_s,
            }
            if number == 1:
                scores["recommend_ms"] = _median_recommend_ms(model, model.user_index_.ids[:100].tolist())
            for key, value in scores.items():
                per_algo[name].setdefault(key, []).append(value)
            _say(progress, f"fold {number}/{folds} {name}: rmse {scores['rmse']:.4f} mae {scores['mae']:.4f} "
                           f"impossible {scores['impossible']:.2%} fit {fit_s:.2f}s")
    return {name: {key: float(np.mean(values)) for key, values in metrics.items()} for name, metrics in per_algo.items()}


def evaluate_implicit(
    data: RetailData,
    cutoff: str = "2011-02-01",
    end: str = "2011-03-01",
    k: int = 10,
    algorithms: Optional[Mapping[str, Callable[[], Recommender]]] = None,
    progress: Progress = None,
) -> dict[str, dict[str, float]]:
    """Time split on purchases → {name: hr@k, ndcg@k, precision@k, recall@k, coverage, fit_seconds, recommend_ms}."""
    algorithms = dict(algorithms or implicit_algorithms())
    train_lines, test = retail_split(data, cutoff, end)
    train = train_lines.interactions()
    features = train_lines.item_features()
    segments = train_lines.user_countries()
    catalogue = len(np.unique(train.items))
    _say(progress, f"train: {len(train)} customer-item pairs, {len(np.unique(train.users))} customers, "
                   f"{catalogue} items; test: {len(test)} customers, {sum(map(len, test.values()))} new purchases")
    users = sorted(test)
    results = {}
    for name, make in algorithms.items():
        model = make()
        started = time.perf_counter()
        model.fit(train, **fit_params(model, item_features=features, user_segments=segments))
        fit_s = time.perf_counter() - started
        recs = {user: [item for item, _ in model.recommend(user, k)] for user in users}
        scores = ranking_metrics(recs, test, catalogue, k)
        scores["fit_seconds"] = fit_s
        scores["recommend_ms"] = _median_recommend_ms(model, users)
        results[name] = scores
        _say(progress, f"{name}: " + ", ".join(f"{key} {value:.3f}" for key, value in scores.items()))
    return results


def evaluate(
    dataset: str,
    path: Union[str, Path],
    folds: int = 5,
    seed: int = 42,
    algorithms: Optional[Sequence[str]] = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """Evaluate the recommenders on ``ml-100k`` (k-fold RMSE/MAE) or ``online-retail`` (time split, top-10 metrics)."""
    if dataset == "ml-100k":
        registry = explicit_algorithms()
    elif dataset == "online-retail":
        registry = implicit_algorithms()
    else:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if algorithms:
        unknown = [name for name in algorithms if name not in registry]
        if unknown:
            raise ValueError(f"unknown algorithms {unknown}; choose from {', '.join(registry)}")
        registry = {name: registry[name] for name in algorithms}
    started = time.perf_counter()
    if dataset == "ml-100k":
        ratings = load_movielens(path)
        _say(progress, f"ml-100k: {len(ratings)} ratings, {folds}-fold CV (seed {seed})")
        results = evaluate_explicit(ratings, folds, seed, registry, progress)
        protocol = {"folds": folds, "seed": seed}
    else:
        data = load_online_retail(path)
        _say(progress, f"online-retail: {len(data)} purchase lines")
        results = evaluate_implicit(data, algorithms=registry, progress=progress)
        protocol = {"train": "before 2011-02-01", "test": "2011-02 purchases of new items by train customers", "k": 10}
    return {
        "dataset": dataset,
        "path": str(path),
        "protocol": protocol,
        "seconds": time.perf_counter() - started,
        "algorithms": results,
    }

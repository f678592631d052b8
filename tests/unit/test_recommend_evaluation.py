"""Unit tests of knowledge.recommend.evaluation and the ``recommend evaluate`` command: metrics, loaders, protocols."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from bot.cli import main
from bot.cli_recommend import format_table, register
from knowledge.settings import get_settings
from knowledge.recommend import SVD, InteractionArrays, ItemKNN, Popularity
from knowledge.recommend.evaluation import (
    DatasetMissing,
    catalogue_coverage,
    evaluate,
    evaluate_explicit,
    hit_rate_at_k,
    kfold_indices,
    load_movielens,
    load_online_retail,
    mae,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    retail_split,
    rmse,
)

RECS = [["a", "b", "c"], ["d", "e", "f"], ["g", "h", "i"]]
TRUTH = [{"b", "x"}, {"y"}, {"g", "h", "i", "j"}]


# --- metrics --------------------------------------------------------------------------------------


def test_rmse_and_mae() -> None:
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


def test_hit_rate_precision_recall_by_hand() -> None:
    assert hit_rate_at_k(RECS, TRUTH, 3) == pytest.approx(2 / 3)
    assert precision_at_k(RECS, TRUTH, 3) == pytest.approx((1 / 3 + 0 + 3 / 3) / 3)
    assert recall_at_k(RECS, TRUTH, 3) == pytest.approx((1 / 2 + 0 + 3 / 4) / 3)
    assert hit_rate_at_k(RECS, TRUTH, 1) == pytest.approx(1 / 3)  # only "g" at rank 1
    assert precision_at_k([["a"]], [{"a"}], 10) == pytest.approx(0.1)  # short lists still divide by k


def test_ndcg_by_hand() -> None:
    first = (1 / math.log2(3)) / (1 + 1 / math.log2(3))  # hit at rank 2, two relevant items
    third = 1.0  # all three positions relevant: ideal
    assert ndcg_at_k(RECS, TRUTH, 3) == pytest.approx((first + 0 + third) / 3)
    assert ndcg_at_k([["a", "b"]], [{"a"}], 2) == pytest.approx(1.0)
    assert ndcg_at_k([["b", "a"]], [{"a"}], 2) == pytest.approx(1 / math.log2(3))


def test_coverage_and_ranking_metrics() -> None:
    assert catalogue_coverage(RECS, 18) == pytest.approx(0.5)
    metrics = ranking_metrics({"u1": RECS[0], "u2": RECS[1]}, {"u1": TRUTH[0], "u2": TRUTH[1], "u3": {"z"}}, 10, k=3)
    assert metrics["hr@3"] == pytest.approx(1 / 3)  # u3 got nothing: a miss, not dropped
    assert metrics["coverage"] == pytest.approx(0.6)
    assert set(metrics) == {"hr@3", "ndcg@3", "precision@3", "recall@3", "coverage"}


def test_kfold_indices_partition_and_are_reproducible() -> None:
    folds = kfold_indices(103, 5, seed=7)
    assert sorted(np.concatenate(folds).tolist()) == list(range(103))
    assert [len(f) for f in folds] == [21, 21, 21, 20, 20]
    assert all((a == b).all() for a, b in zip(folds, kfold_indices(103, 5, seed=7)))


# --- loaders on tiny fixtures ---------------------------------------------------------------------


def write_movielens(folder: Path, n_users: int = 30, n_items: int = 25, seed: int = 3) -> Path:
    """A small u.data in MovieLens format (synthetic ratings)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for user in range(1, n_users + 1):
        for item in rng.choice(np.arange(1, n_items + 1), size=10, replace=False):
            rating = int(np.clip(round(3 + (user % 3 - 1) * (item % 2 - 0.5) * 2 + rng.normal(0, 0.5)), 1, 5))
            lines.append(f"{user}\t{item}\t{rating}\t{881250949 + user * 100 + int(item)}")
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    return folder


HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
JANUARY = (
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2011-01-10 08:26:00,2.55,17850.0,United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2011-01-10 08:26:00,3.39,17850.0,United Kingdom\n"
    "536366,22633,HAND WARMER UNION JACK,6,2011-01-10 08:28:00,1.85,13047.0,United Kingdom\n"
    "536366,71053,WHITE METAL LANTERN,2,2011-01-10 08:28:00,3.39,13047.0,United Kingdom\n"
    "536367,22633,HAND WARMER UNION JACK,1,2011-01-10 09:00:00,1.85,,United Kingdom\n"
    "C536368,22633,HAND WARMER UNION JACK,-1,2011-01-10 09:01:00,1.85,13047.0,United Kingdom\n"
    "536369,21730,GLASS STAR FROSTED T-LIGHT HOLDER,-3,2011-01-10 09:02:00,4.25,12583.0,France\n"
    "536370,21731,RED TOADSTOOL LED NIGHT LIGHT,2,2011-01-10 09:03:00,0,12583.0,France\n"
    "536371,22633,HAND WARMER UNION JACK,3,2011-01-11 10:00:00,1.85,12583.0,France\n"
)
FEBRUARY = (
    "540001,22633,HAND WARMER UNION JACK,6,2011-02-03 08:26:00,1.85,17850.0,United Kingdom\n"
    "540001,71053,WHITE METAL LANTERN,6,2011-02-03 08:26:00,3.39,17850.0,United Kingdom\n"
    "540002,85123A,WHITE HANGING HEART T-LIGHT HOLDER,1,2011-02-04 09:00:00,2.55,99999.0,Germany\n"
    "540003,85123A,WHITE HANGING HEART T-LIGHT HOLDER,1,2011-02-04 09:30:00,2.55,13047.0,United Kingdom\n"
    "540004,71053,WHITE METAL LANTERN,1,2011-02-05 09:30:00,3.39,12583.0,France\n"
    "545000,22633,HAND WARMER UNION JACK,1,2011-03-02 09:30:00,1.85,13047.0,United Kingdom\n"
)


def write_retail(folder: Path) -> Path:
    """Three days of Online Retail lines in by-day/ CSV files."""
    by_day = folder / "by-day"
    by_day.mkdir(parents=True)
    (by_day / "2011-01-10.csv").write_text(HEADER + JANUARY)
    (by_day / "2011-02-03.csv").write_text(HEADER + FEBRUARY)
    return folder


def test_load_movielens(tmp_path: Path) -> None:
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    ratings = load_movielens(tmp_path)
    assert list(ratings) == [("196", "242", 3.0), ("186", "302", 3.0)]
    assert ratings.timestamps.tolist() == [881250949, 891717742]
    assert len(load_movielens(tmp_path / "u.data")) == 2
    with pytest.raises(DatasetMissing, match="MovieLens"):
        load_movielens(tmp_path / "missing")


def test_load_online_retail_cleans_lines(tmp_path: Path) -> None:
    data = load_online_retail(write_retail(tmp_path))
    # dropped: no customer, cancellation, negative quantity, zero price
    assert len(data) == 5 + 6
    assert set(data.customers.tolist()) == {"17850", "13047", "12583", "99999"}
    assert not any(invoice.startswith("C") for invoice in data.invoices.tolist())
    assert data.dates[0] == np.datetime64("2011-01-10T08:26:00")
    assert (data.quantities > 0).all() and (data.prices > 0).all()
    assert len(load_online_retail(tmp_path / "by-day")) == len(data)  # the by-day folder itself works too
    with pytest.raises(DatasetMissing, match="Online Retail"):
        load_online_retail(tmp_path / "nothing-here")


def test_retail_interactions_and_split(tmp_path: Path) -> None:
    data = load_online_retail(write_retail(tmp_path))
    train, test = retail_split(data)
    assert set(train.customers.tolist()) == {"17850", "13047", "12583"}
    # 17850 had 85123A and 71053: only the hand warmer is new; 99999 is not in train; March is outside
    assert test == {"17850": {"22633"}, "13047": {"85123A"}, "12583": {"71053"}}
    pairs = train.interactions()
    assert ("13047", "71053", 1.0) in list(pairs)
    assert len(pairs) == 5
    features = train.item_features()
    assert features["71053"]["description"] == "WHITE METAL LANTERN"
    assert features["71053"]["price"] == pytest.approx(3.39)
    assert train.user_countries()["12583"] == "France"


# --- protocols ------------------------------------------------------------------------------------


def test_evaluate_explicit_uses_the_same_folds_for_everyone() -> None:
    ratings = load_movielens_from_arrays()
    algorithms = {"Popularity": Popularity, "ItemKNN": lambda: ItemKNN(k=5), "SVD": lambda: SVD(n_factors=4, n_epochs=5)}
    first = evaluate_explicit(ratings, folds=3, seed=1, algorithms=algorithms)
    again = evaluate_explicit(ratings, folds=3, seed=1, algorithms={"Popularity": Popularity})
    assert first["Popularity"]["rmse"] == again["Popularity"]["rmse"]
    for scores in first.values():
        assert {"rmse", "mae", "impossible", "fit_seconds", "predict_seconds", "recommend_ms"} <= set(scores)
        assert 0 < scores["mae"] <= scores["rmse"] < 4


def test_evaluate_explicit_reports_the_share_of_impossible_predictions() -> None:
    base = load_movielens_from_arrays()
    lonely = [(f"lonely-user-{n}", "0", 3.0) for n in range(12)] + [("1", f"lonely-item-{n}", 3.0) for n in range(12)]
    ratings = InteractionArrays.from_tuples(list(base) + lonely)  # rated once: unknown in the fold that tests them
    expected = []
    for test_idx in kfold_indices(len(ratings), 3, 1):
        train = np.ones(len(ratings), dtype=bool)
        train[test_idx] = False
        users, items = set(ratings.users[train].tolist()), set(ratings.items[train].tolist())
        expected.append(np.mean([u not in users or i not in items
                                 for u, i in zip(ratings.users[test_idx].tolist(), ratings.items[test_idx].tolist())]))
    result = evaluate_explicit(ratings, folds=3, seed=1, algorithms={"SVD": lambda: SVD(n_factors=4, n_epochs=5)})
    assert result["SVD"]["impossible"] == pytest.approx(np.mean(expected))
    assert result["SVD"]["impossible"] >= 0.9 * 24 / len(ratings)  # each lonely rating is impossible in its fold


def test_evaluate_explicit_fits_and_tests_every_algorithm_on_the_same_partition() -> None:
    ratings = load_movielens_from_arrays()
    _, first_of_each_pair = np.unique(np.char.add(np.char.add(ratings.users, ":"), ratings.items), return_index=True)
    ratings = ratings.subset(np.sort(first_of_each_pair))  # one rating per (user, item): rows are told apart
    seen: dict[str, list[tuple[frozenset, frozenset]]] = {}

    def recording(name: str, base: type) -> Callable[[], Popularity]:
        """A model that notes the rows it was fitted on and the rows it was asked to predict."""
        class Recording(base):  # type: ignore[misc, valid-type]
            def fit(self, data: InteractionArrays, **kwargs: Any) -> Any:
                self._train = frozenset(zip(data.users.tolist(), data.items.tolist(), data.values.tolist()))
                return super().fit(data, **kwargs)

            def predict_many(self, users, items) -> Any:
                seen.setdefault(name, []).append((self._train, frozenset(zip(users.tolist(), items.tolist()))))
                return super().predict_many(users, items)

        return Recording

    evaluate_explicit(ratings, folds=3, seed=1,
                      algorithms={"a": recording("a", Popularity), "b": recording("b", ItemKNN)})
    everything = set(zip(ratings.users.tolist(), ratings.items.tolist(), ratings.values.tolist()))
    pairs = [(u, i) for u, i, _ in everything]
    assert len(seen["a"]) == len(seen["b"]) == 3
    assert seen["a"] == seen["b"]  # the same train and test rows, fold by fold, for every algorithm
    tests = [test for _, test in seen["a"]]
    assert set().union(*tests) == set(pairs) and sum(len(t) for t in tests) == len(pairs)  # a partition
    assert max(len(t) for t in tests) - min(len(t) for t in tests) <= 1  # of equal folds
    for train, test in seen["a"]:
        assert train | {r for r in everything if (r[0], r[1]) in test} == everything  # train is the rest
        assert not {(u, i) for u, i, _ in train} & test


def load_movielens_from_arrays() -> InteractionArrays:
    """Synthetic explicit ratings with some structure."""
    rng = np.random.default_rng(0)
    u, i = rng.integers(0, 30, 600), rng.integers(0, 20, 600)
    values = np.clip(np.rint(3 + np.sign((u % 2) - 0.5) * np.sign((i % 2) - 0.5) + rng.normal(0, 0.4, 600)), 1, 5)
    return InteractionArrays(u.astype(str), i.astype(str), values)


def test_evaluate_ml100k_structure(tmp_path: Path) -> None:
    folder = write_movielens(tmp_path / "ml")
    result = evaluate("ml-100k", folder, folds=2, algorithms=["Popularity", "ItemKNN"])
    assert result["dataset"] == "ml-100k" and set(result["algorithms"]) == {"Popularity", "ItemKNN"}
    assert {"rmse", "mae", "fit_seconds"} <= set(result["algorithms"]["ItemKNN"])


def test_evaluate_online_retail_structure(tmp_path: Path) -> None:
    result = evaluate("online-retail", write_retail(tmp_path))
    assert result["dataset"] == "online-retail"
    assert {"Popularity", "ItemCF-cosine", "ItemCF-bm25", "ContentBased", "Hybrid"} == set(result["algorithms"])
    for scores in result["algorithms"].values():
        assert {"hr@10", "ndcg@10", "precision@10", "recall@10", "coverage", "fit_seconds"} <= set(scores)
        assert 0 <= scores["recall@10"] <= 1 and 0 <= scores["coverage"] <= 1
    # three items in train, each test customer gets the one item they have not bought: all hit
    assert result["algorithms"]["Popularity"]["hr@10"] == pytest.approx(1.0)


def test_evaluate_rejects_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        evaluate("netflix", tmp_path)
    with pytest.raises(ValueError, match="unknown algorithms"):
        evaluate("ml-100k", write_movielens(tmp_path / "ml"), algorithms=["Nope"])


# --- the command ----------------------------------------------------------------------------------


def test_cli_registers_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["recommend", "evaluate", "--dataset", "ml-100k", "--path", "x"])
    assert args.folds == 5 and args.json is None and callable(args.func)
    folder = write_movielens(tmp_path / "ml")
    out = tmp_path / "out" / "ml.json"
    code = main(["recommend", "evaluate", "--dataset", "ml-100k", "--path", str(folder), "--folds", "2",
                 "--algorithm", "Popularity", "--algorithm", "SVD", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "rmse" in printed and "impossible" in printed and "SVD" in printed
    saved = json.loads(out.read_text())
    assert saved["dataset"] == "ml-100k" and set(saved["algorithms"]) == {"Popularity", "SVD"}
    assert format_table(saved).splitlines()[0].split()[:3] == ["algorithm", "rmse", "mae"]


def test_cli_missing_data_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["recommend", "evaluate", "--dataset", "online-retail", "--path", str(tmp_path / "absent")])
    assert code == 2
    assert "skipped" in capsys.readouterr().out


# --- the real data sets (skipped when ../shared/data is absent) -----------------------------------


def test_real_movielens_when_present() -> None:
    try:
        ratings = load_movielens(get_settings().datasets_dir / "ml-100k")
    except DatasetMissing as error:
        pytest.skip(str(error))
    assert len(ratings) == 100_000
    assert len(np.unique(ratings.users)) == 943 and len(np.unique(ratings.items)) == 1682


def test_real_online_retail_when_present() -> None:
    try:
        data = load_online_retail(get_settings().datasets_dir / "online-retail")
    except DatasetMissing as error:
        pytest.skip(str(error))
    assert data.dates.min() >= np.datetime64("2010-12-01") and data.dates.max() < np.datetime64("2011-03-01")
    train, test = retail_split(data)
    assert len(test) > 100 and all(test.values())

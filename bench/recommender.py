"""Our recommenders against scikit-surprise and implicit, on the same data splits, in one run.

* ml-100k, k-fold CV with the folds of ``knowledge.recommend.evaluation`` (seed 42): our SVD, UserKNN
  and ItemKNN (Pearson as DESIGN.md writes it) against Surprise's SVD and KNNWithMeans (pearson,
  user- and item-based; Surprise centres over co-rated items only). RMSE, MAE, the share of impossible
  predictions (unknown user or item; ours and Surprise's must agree), fit and predict seconds and our/their
  time ratios.
* online-retail, the time split of the evaluation: our popularity, item CF and hybrid against
  implicit's ALS (64 factors, on invoice counts and on the binarised matrix) and its cosine / BM25
  item-item recommenders (binarised, k=200, as ours). HR@10, recall@10, NDCG@10,
  fit seconds, median recommend() milliseconds for one user, and time ratios.

Optional libraries (not project dependencies): ``pip install -c constraints.txt scikit-surprise==1.1.4
implicit==0.7.3``. Each section skips with a message when its library or data set is missing.

    .venv/bin/python bench/recommender.py [--folds 5] [--only ml-100k|online-retail] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge.recommend import SVD, Hybrid, ImplicitItemCF, ItemKNN, Popularity, UserKNN, fit_params  # noqa: E402 - after the sys.path set-up that lets the script run from a checkout
from knowledge.settings import get_settings  # noqa: E402 - after the sys.path set-up that lets the script run from a checkout
from knowledge.recommend.evaluation import (  # noqa: E402 - after the sys.path set-up that lets the script run from a checkout
    DatasetMissing,
    fit_and_predict,
    kfold_indices,
    load_movielens,
    load_online_retail,
    mae,
    ranking_metrics,
    retail_split,
    rmse,
)



def say(message: str) -> None:
    """Print one progress line."""
    print(message, flush=True)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows of figures as a fixed-width text table."""
    widths = {c: max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) if c == columns[0] else c.rjust(widths[c]) for c in columns)]
    for row in rows:
        cells = [_cell(row.get(c)) for c in columns]
        lines.append("  ".join(v.ljust(widths[c]) if c == columns[0] else v.rjust(widths[c]) for c, v in zip(columns, cells)))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


# --- ml-100k --------------------------------------------------------------------------------------


def bench_movielens(path: Path, folds: int, seed: int) -> Optional[list[dict[str, Any]]]:
    """RMSE/MAE/time of ours vs Surprise on the same folds; None when skipped."""
    try:
        import surprise
    except ImportError:
        say("ml-100k: skipped, scikit-surprise is not installed "
            "(.venv/bin/pip install -c constraints.txt scikit-surprise==1.1.4)")
        return None
    try:
        ratings = load_movielens(path)
    except DatasetMissing as error:
        say(f"ml-100k: skipped, {error}")
        return None
    say(f"ml-100k: {len(ratings)} ratings, {folds}-fold CV (seed {seed}), scikit-surprise {surprise.__version__}")
    reader = surprise.Reader(rating_scale=(1, 5))
    ours: dict[str, Callable[[], Any]] = {
        "SVD": SVD,
        "SVD (Surprise's params)": lambda: SVD(n_factors=100, n_epochs=20, lr=0.005, reg=0.02, batch_size=1024),
        "UserKNN pearson": lambda: UserKNN(k=40),
        "ItemKNN pearson": lambda: ItemKNN(k=40),
    }
    theirs: dict[str, Callable[[], Any]] = {
        "SVD": lambda: surprise.SVD(random_state=0),
        "KNNWithMeans user pearson": lambda: surprise.KNNWithMeans(
            k=40, sim_options={"name": "pearson", "user_based": True}, verbose=False
        ),
        "KNNWithMeans item pearson": lambda: surprise.KNNWithMeans(
            k=40, sim_options={"name": "pearson", "user_based": False}, verbose=False
        ),
    }
    counterpart = {
        "SVD": "SVD",
        "SVD (Surprise's params)": "SVD",
        "UserKNN pearson": "KNNWithMeans user pearson",
        "ItemKNN pearson": "KNNWithMeans item pearson",
    }
    figures: dict[tuple[str, str], dict[str, list[float]]] = {}
    for number, test_idx in enumerate(kfold_indices(len(ratings), folds, seed), 1):
        mask = np.ones(len(ratings), dtype=bool)
        mask[test_idx] = False
        train, test = ratings.subset(mask), ratings.subset(test_idx)
        dataset = surprise.Dataset(reader)
        trainset = dataset.construct_trainset([(u, i, r, None) for u, i, r in train])
        testset = dataset.construct_testset([(u, i, r, None) for u, i, r in test])
        truth = np.array([r for _, _, r in testset])
        for name, make in theirs.items():
            algo = make()
            started = time.perf_counter()
            algo.fit(trainset)
            fit_s = time.perf_counter() - started
            started = time.perf_counter()
            predictions = algo.test(testset)
            predict_s = time.perf_counter() - started
            estimates = np.array([p.est for p in predictions])
            impossible = float(np.mean([p.details.get("was_impossible", False) for p in predictions]))
            _record(figures, ("surprise", name), rmse(estimates, truth), mae(estimates, truth), impossible, fit_s,
                    predict_s)
        for name, make in ours.items():
            model = make()
            predicted, fit_s, predict_s = fit_and_predict(model, train, test)
            impossible = float(model.was_impossible(test.users, test.items).mean())
            _record(figures, ("ours", name), rmse(predicted, test.values), mae(predicted, test.values), impossible,
                    fit_s, predict_s)
            other = figures[("surprise", counterpart[name])]
            say(f"  fold {number}/{folds} {name}: ours rmse {figures[('ours', name)]['rmse'][-1]:.4f} "
                f"fit {fit_s:.2f}s | surprise {counterpart[name]} rmse {other['rmse'][-1]:.4f} fit {other['fit'][-1]:.2f}s")
    rows = []
    for name in ours:
        mine, other = figures[("ours", name)], figures[("surprise", counterpart[name])]
        row = {"algorithm": name, "surprise algorithm": counterpart[name]}
        for who, figs in (("ours", mine), ("surprise", other)):
            row[f"{who} rmse"] = float(np.mean(figs["rmse"]))
            row[f"{who} mae"] = float(np.mean(figs["mae"]))
            row[f"{who} impossible"] = float(np.mean(figs["impossible"]))
            row[f"{who} fit s"] = float(np.mean(figs["fit"]))
            row[f"{who} predict s"] = float(np.mean(figs["predict"]))
        row["fit ratio"] = row["ours fit s"] / row["surprise fit s"]
        row["predict ratio"] = row["ours predict s"] / row["surprise predict s"]
        rows.append(row)
    print()
    print(table(rows, ["algorithm", "ours rmse", "surprise rmse", "ours mae", "surprise mae", "ours impossible",
                       "surprise impossible"]))
    print()
    print(table(rows, ["algorithm", "ours fit s", "surprise fit s", "fit ratio", "ours predict s", "surprise predict s",
                       "predict ratio"]))
    print()
    return rows


def _record(figures: dict, key: tuple[str, str], rmse_: float, mae_: float, impossible: float, fit_s: float,
            predict_s: float) -> None:
    entry = figures.setdefault(key, {"rmse": [], "mae": [], "impossible": [], "fit": [], "predict": []})
    entry["rmse"].append(rmse_)
    entry["mae"].append(mae_)
    entry["impossible"].append(impossible)
    entry["fit"].append(fit_s)
    entry["predict"].append(predict_s)


# --- online-retail --------------------------------------------------------------------------------


def bench_retail(path: Path, k: int = 10) -> Optional[list[dict[str, Any]]]:
    """Top-10 metrics and times of ours vs implicit on the February split; None when skipped."""
    try:
        import implicit
        from implicit.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
        from implicit.utils import ParameterWarning
        from threadpoolctl import threadpool_limits
    except ImportError:
        say("online-retail: skipped, implicit is not installed (.venv/bin/pip install -c constraints.txt implicit==0.7.3)")
        return None
    try:
        data = load_online_retail(path)
    except DatasetMissing as error:
        say(f"online-retail: skipped, {error}")
        return None
    train_lines, test = retail_split(data)
    train = train_lines.interactions()
    features, segments = train_lines.item_features(), train_lines.user_countries()
    users = sorted(test)
    say(f"online-retail: {len(train)} train pairs, {len(users)} test customers, implicit {implicit.__version__}")
    catalogue = len(np.unique(train.items))
    rows = []

    def run_ours(name: str, make: Callable[[], Any]) -> None:
        """Fit one of our models and score its top-k lists."""
        model = make()
        started = time.perf_counter()
        model.fit(train, **fit_params(model, item_features=features, user_segments=segments))
        fit_s = time.perf_counter() - started
        times, recs = [], {}
        for user in users:
            started = time.perf_counter()
            recs[user] = [item for item, _ in model.recommend(user, k)]
            times.append(time.perf_counter() - started)
        rows.append({"algorithm": name, "by": "ours", **ranking_metrics(recs, test, catalogue, k),
                     "fit s": fit_s, "recommend ms": 1000 * statistics.median(times)})
        say(f"  {name}: recall@{k} {rows[-1][f'recall@{k}']:.3f}")

    run_ours("Popularity", Popularity)
    run_ours("ItemCF cosine", lambda: ImplicitItemCF(k=200, weighting="none"))
    run_ours("ItemCF bm25", lambda: ImplicitItemCF(k=200, weighting="bm25"))
    run_ours("Hybrid", Hybrid)

    index_model = ImplicitItemCF(k=1).fit(train)  # only for the shared user/item ids and the counts matrix
    counts = index_model.matrix_.tocsr().astype(np.float32)  # invoices per customer and item
    binary = counts.copy()
    binary.data[:] = 1.0
    item_ids = index_model.item_index_.ids

    def run_theirs(name: str, make: Callable[[], Any], user_items: Any) -> None:
        """Fit one of implicit's models (BLAS single-threaded, as it asks) and score its top-k lists."""
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=ParameterWarning)  # its own internal COO → CSR
            model = make()
            started = time.perf_counter()
            model.fit(user_items, show_progress=False)
            fit_s = time.perf_counter() - started
            times, recs = [], {}
            for user in users:
                row = index_model.user_index_.get(user)
                started = time.perf_counter()
                ids, _ = model.recommend(row, user_items[row], N=k, filter_already_liked_items=True)
                times.append(time.perf_counter() - started)
                recs[user] = item_ids[ids].tolist()
        rows.append({"algorithm": name, "by": "implicit", **ranking_metrics(recs, test, catalogue, k),
                     "fit s": fit_s, "recommend ms": 1000 * statistics.median(times)})
        say(f"  {name}: recall@{k} {rows[-1][f'recall@{k}']:.3f}")

    run_theirs("ALS 64 factors", lambda: AlternatingLeastSquares(factors=64, iterations=15, random_state=42), counts)
    run_theirs("ALS 64 f. binary", lambda: AlternatingLeastSquares(factors=64, iterations=15, random_state=42), binary)
    run_theirs("Cosine k=200", lambda: CosineRecommender(K=200), binary)
    run_theirs("BM25 k=200", lambda: BM25Recommender(K=200), binary)

    als = next(r for r in rows if r["algorithm"] == "ALS 64 factors")
    for row in rows:
        row["fit ratio vs ALS"] = row["fit s"] / als["fit s"]
        row["rec ratio vs ALS"] = row["recommend ms"] / als["recommend ms"]
    print()
    print(table(rows, ["algorithm", "by", f"hr@{k}", f"recall@{k}", f"ndcg@{k}", f"precision@{k}", "coverage",
                       "fit s", "recommend ms", "fit ratio vs ALS", "rec ratio vs ALS"]))
    print()
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    """Run the comparisons that can run here."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ml-path", type=Path, default=get_settings().datasets_dir / "ml-100k")
    parser.add_argument("--retail-path", type=Path, default=get_settings().datasets_dir / "online-retail")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=["ml-100k", "online-retail"])
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    if args.only in (None, "ml-100k"):
        results["ml-100k"] = bench_movielens(args.ml_path, args.folds, args.seed)
    if args.only in (None, "online-retail"):
        results["online-retail"] = bench_retail(args.retail_path)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

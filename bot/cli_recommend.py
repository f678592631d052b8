"""``shopbot recommend ...``: offline evaluation of the recommenders (wired into ``bot/cli.py`` by ``register``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.console import say
from knowledge.settings import PROJECT_ROOT

#: Where the public data sets live by default (outside the project, see ../shared/data/README.md).
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

METRIC_COLUMNS = {
    "ml-100k": ("rmse", "mae", "fit_seconds", "predict_seconds", "recommend_ms"),
    "online-retail": ("hr@10", "ndcg@10", "precision@10", "recall@10", "coverage", "fit_seconds", "recommend_ms"),
}


def format_table(result: dict[str, Any]) -> str:
    """The per-algorithm figures of an ``evaluate`` result as a plain-text table."""
    columns = METRIC_COLUMNS.get(result["dataset"]) or sorted(
        {key for scores in result["algorithms"].values() for key in scores}
    )
    names = list(result["algorithms"])
    width = max([len("algorithm")] + [len(name) for name in names])
    lines = ["  ".join([f"{'algorithm':<{width}}"] + [f"{column:>14}" for column in columns])]
    for name in names:
        scores = result["algorithms"][name]
        cells = [f"{scores[column]:>14.4f}" if column in scores else f"{'-':>14}" for column in columns]
        lines.append("  ".join([f"{name:<{width}}"] + cells))
    return "\n".join(lines)


def cmd_recommend_evaluate(args: argparse.Namespace) -> int:
    """Evaluate the recommenders on a public data set; print a table and optionally write JSON."""
    from knowledge.recommend.evaluation import DatasetMissing, evaluate

    path = Path(args.path) if args.path else SHARED_DATA / args.dataset
    try:
        result = evaluate(
            args.dataset, path, folds=args.folds, seed=args.seed, algorithms=args.algorithm, progress=say
        )
    except DatasetMissing as error:
        say(f"skipped: {error}")
        return 2
    except ValueError as error:
        say(f"error: {error}")
        return 2
    print(format_table(result))
    if args.dataset == "online-retail":
        from knowledge.segments import evaluate_online_retail

        result["segments"] = evaluate_online_retail(path, progress=say)
        say(f"shopper segments: k={result['segments']['k']}, silhouette {result['segments']['silhouette']:.3f}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        say(f"wrote {out}")
    return 0


def cmd_recommend_train(args: argparse.Namespace) -> int:
    """Fit the shop's recommender from the interaction log and the live graph, and save it."""
    import time

    from knowledge.recommend.shop import ensure_model
    from knowledge.settings import get_settings
    from knowledge.shop import Shop
    from knowledge.shopdb.engine import connect

    settings = get_settings()
    path = settings.recommender_file
    path.unlink(missing_ok=True)
    started = time.monotonic()
    ensure_model(path, connect(settings.database_url), Shop.from_settings(settings).kg)
    say(f"trained the recommender in {time.monotonic() - started:.1f} s: {path}")
    return 0


def register(subcommands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``recommend train`` and ``recommend evaluate`` to the shopbot command parsers."""
    recommend = subcommands.add_parser("recommend", help="the recommender: train, evaluate").add_subparsers(
        dest="sub", required=True, metavar="SUB"
    )
    evaluate = recommend.add_parser(
        "evaluate",
        help="offline evaluation on a public data set (ml-100k: k-fold RMSE/MAE; online-retail: top-10 metrics)",
    )
    evaluate.add_argument("--dataset", required=True, choices=["ml-100k", "online-retail"], help="which data set")
    evaluate.add_argument(
        "--path", help=f"data set folder (default: {SHARED_DATA}/DATASET)", default=None
    )
    evaluate.add_argument("--folds", type=int, default=5, help="cross-validation folds for ml-100k (default: %(default)s)")
    evaluate.add_argument("--seed", type=int, default=42, help="seed of the fold split (default: %(default)s)")
    evaluate.add_argument(
        "--algorithm", action="append", metavar="NAME", help="evaluate only this algorithm (repeatable)"
    )
    evaluate.add_argument("--json", metavar="OUT", help="also write the results as JSON to this file")
    evaluate.set_defaults(func=cmd_recommend_evaluate)
    recommend.add_parser(
        "train", help="fit the shop's hybrid recommender on the interaction log (DATABASE_URL) and the graph"
    ).set_defaults(func=cmd_recommend_train)

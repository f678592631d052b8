"""``shopbot recommend ...``: offline evaluation of the recommenders (wired into ``bot/cli.py`` by ``register``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.console import say
from knowledge.settings import get_settings


METRIC_COLUMNS = {
    "ml-100k": ("rmse", "mae", "impossible", "fit_seconds", "predict_seconds", "recommend_ms"),
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


def format_rolling(result: dict[str, Any]) -> str:
    """Recall@10 per window, mean ± spread of recall, NDCG and coverage, and the test period, per algorithm."""
    windows = result["protocol"]["windows"]
    names = list(result["algorithms"])
    width = max(len(name) for name in names + ["algorithm"])
    heads = [f"w{n + 1} recall" for n in range(len(windows))] + [
        "recall mean±sd", "ndcg mean±sd", "cover mean±sd", "test recall", "test ndcg", "test cover"]
    lines = ["windows: " + ", ".join(f"w{n + 1} {label}" for n, label in enumerate(windows))
             + f"; test {result['protocol']['test']}",
             "  ".join([f"{'algorithm':<{width}}"] + [f"{h:>15}" for h in heads])]
    for name in names:
        scores = result["algorithms"][name]
        cells = [f"{w['recall@10']:>15.4f}" for w in scores["windows"]]
        cells += [f"{scores['mean'][m]:>8.4f}±{scores['spread'][m]:.4f}".rjust(15) for m in ("recall@10", "ndcg@10", "coverage")]
        cells += [f"{scores['test'][m]:>15.4f}" if scores["test"] else f"{'-':>15}" for m in ("recall@10", "ndcg@10", "coverage")]
        lines.append("  ".join([f"{name:<{width}}"] + cells))
    for name, reason in result.get("skipped", {}).items():
        lines.append(f"{name:<{width}}  {reason}")
    lines.append("hybrid weights (components; segment) per window, each chosen from the earlier windows only:")
    for chosen in result["hybrid_weights"]:
        lines.append(f"  {chosen['window']}: {_weights(chosen['weights'])}; segment {chosen['segment_weight']:g}"
                     f"  ({chosen['chosen by']})")
    final = result["final_weights"]
    lines.append(f"  test: {_weights(final['weights'])}; segment {final['segment_weight']:g}  (best mean over every window)")
    return "\n".join(lines)


def _weights(weights: dict[str, float]) -> str:
    return ", ".join(f"{name} {weight:g}" for name, weight in weights.items())


def format_cold_start(result: dict[str, Any]) -> str:
    """Recall@10, NDCG@10 and coverage per model on the cold-start customers."""
    protocol = result["protocol"]
    width = max(len(name) for name in result["algorithms"])
    lines = [f"cold start: {protocol['customers']} customers with at most {protocol['max_purchases']} purchases "
             f"{protocol['train']}, tested on {protocol['test']}; segment weight {protocol['segment_weight']:g} "
             "(chosen on the rolling windows' cold customers)",
             "  ".join([f"{'algorithm':<{width}}"] + [f"{m:>10}" for m in ("recall@10", "ndcg@10", "coverage")])]
    for name, scores in result["algorithms"].items():
        lines.append("  ".join([f"{name:<{width}}"] + [f"{scores[m]:>10.4f}" for m in ("recall@10", "ndcg@10", "coverage")]))
    return "\n".join(lines)


def evaluate_over_time(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """``--rolling`` and/or ``--cold-start`` on Online Retail: print the tables, return what goes into --json."""
    from knowledge.recommend.evaluation import load_online_retail
    from knowledge.recommend.temporal import cold_start_evaluation, rolling_evaluation

    data = load_online_retail(path)
    say(f"online-retail: {len(data)} purchase lines")
    rolling = rolling_evaluation(data, args.cutoff, args.test_end, args.windows, args.window_days, progress=say)
    out: dict[str, Any] = {"dataset": "online-retail", "path": str(path)}
    if args.rolling:
        print(format_rolling(rolling))
        out["rolling"] = {key: value for key, value in rolling.items() if not key.startswith("_")}
    if args.cold_start:
        cold = cold_start_evaluation(data, rolling, args.cutoff, args.test_end, args.cold_max, progress=say)
        print(format_cold_start(cold))
        out["cold_start"] = cold
    return out


def cmd_recommend_evaluate(args: argparse.Namespace) -> int:
    """Evaluate the recommenders on a public data set; print a table and optionally write JSON."""
    from knowledge.recommend.evaluation import DatasetMissing, evaluate

    path = Path(args.path) if args.path else get_settings().datasets_dir / args.dataset
    if args.rolling or args.cold_start:
        if args.dataset != "online-retail":
            say("error: --rolling and --cold-start need --dataset online-retail (purchases with dates)")
            return 2
        try:
            result = evaluate_over_time(args, path)
        except DatasetMissing as error:
            say(f"skipped: {error}")
            return 2
        except ValueError as error:
            say(f"error: {error}")
            return 2
        return _write_json(args, result)
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
    return _write_json(args, result)


def _write_json(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        say(f"wrote {out}")
    return 0


def cmd_recommend_train(args: argparse.Namespace) -> int:
    """Fit the shop's recommender on the interaction log (history and live behaviour), the graph and the stored segments."""
    import time

    from knowledge.products import all_product_ids, get_products
    from knowledge.recommend.shop import train
    from knowledge.segments import customer_segments
    from knowledge.settings import get_settings
    from knowledge.connections import graph_client, shop_database
    from knowledge.sparql import KnowledgeGraphUnavailable

    settings = get_settings()
    started = time.monotonic()
    db = shop_database(settings)
    try:
        kg = graph_client(settings)
        segments = customer_segments(db)
        model = train(db, get_products(kg, all_product_ids(kg)), settings.recommender_file, segments,
                      settings.recommend_min_history)
    except KnowledgeGraphUnavailable as error:
        say(f"error: the knowledge graph is unreachable ({error})")
        return 2
    except ValueError as error:
        say(f"error: {error}")
        return 2
    finally:
        db.dispose()
    say(f"trained the recommender in {time.monotonic() - started:.1f} s on {model.matrix_.nnz} shopper-product pairs "
        f"of {len(model.user_index_)} shoppers, {len(model.segments)} segments"
        + ("" if segments else " (none stored: run `shopbot segments build`)") + f": {settings.recommender_file}")
    say("a running action server picks the new model up at its next suggestion (no restart)")
    return 0


def cmd_nightly(args: argparse.Namespace) -> int:
    """Shopper segments from the database and the live catalog, then the recommender trained with them."""
    import sys
    import time

    from tqdm import tqdm

    from knowledge.recommend.shop import refresh
    from knowledge.settings import get_settings
    from knowledge.connections import graph_client, shop_database
    from knowledge.sparql import KnowledgeGraphUnavailable

    settings = get_settings()
    started = time.monotonic()
    db = shop_database(settings)
    steps = ["segments", "catalog", "recommender"]
    bar = tqdm(total=len(steps), unit="step", file=sys.stderr, disable=args.quiet,
               bar_format="{desc:<28} {bar} {n_fmt}/{total_fmt} [{elapsed}]")
    done: list[str] = []

    def step(name: str) -> None:
        if done:
            bar.update(1)
        done.append(name)
        bar.set_description(f"nightly: {name}")

    lines: list[str] = []
    try:
        model = refresh(db, graph_client(settings), settings.recommender_file, settings.segments_file,
                        settings.currency, progress=lines.append, step=step)
        bar.update(len(steps) - bar.n)
    except KnowledgeGraphUnavailable as error:
        bar.close()
        say(f"error: the knowledge graph is unreachable ({error})")
        return 2
    except ValueError as error:
        bar.close()
        say(f"error: {error}")
        return 2
    finally:
        db.dispose()
    bar.close()
    for line in lines:
        say(line)
    say(f"nightly done in {time.monotonic() - started:.1f} s: segments {settings.segments_file}, "
        f"recommender {settings.recommender_file} ({len(model.segments)} segments, {model.matrix_.nnz} pairs)")
    return 0


def register(subcommands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``recommend train``, ``recommend evaluate`` and ``nightly`` to the shopbot command parsers."""
    recommend = subcommands.add_parser("recommend", help="the recommender: train, evaluate").add_subparsers(
        dest="sub", required=True, metavar="SUB"
    )
    evaluate = recommend.add_parser(
        "evaluate",
        help="offline evaluation on a public data set (ml-100k: k-fold RMSE/MAE; online-retail: top-10 metrics)",
    )
    evaluate.add_argument("--dataset", required=True, choices=["ml-100k", "online-retail"], help="which data set")
    evaluate.add_argument(
        "--path", help="data set folder (default: SHOPBOT_DATASETS_DIR/DATASET)", default=None
    )
    evaluate.add_argument("--folds", type=int, default=5, help="cross-validation folds for ml-100k (default: %(default)s)")
    evaluate.add_argument("--seed", type=int, default=42, help="seed of the fold split (default: %(default)s)")
    evaluate.add_argument(
        "--algorithm", action="append", metavar="NAME", help="evaluate only this algorithm (repeatable)"
    )
    evaluate.add_argument("--json", metavar="OUT", help="also write the results as JSON to this file")
    over_time = evaluate.add_argument_group("validation over time (online-retail)")
    over_time.add_argument("--rolling", action="store_true",
                           help="weekly validation windows before --cutoff (hybrid weights chosen from earlier windows "
                                "only), then the test period: recall@10, NDCG@10, coverage per window, mean ± spread")
    over_time.add_argument("--cold-start", action="store_true",
                           help="customers with at most --cold-max purchases before --cutoff: hybrid with and "
                                "without shopper segments, segment popularity, popularity")
    over_time.add_argument("--cutoff", default="2011-02-01", help="train before this day (default: %(default)s)")
    over_time.add_argument("--test-end", default="2011-03-01", help="test until this day, exclusive (default: %(default)s)")
    over_time.add_argument("--windows", type=int, default=4, help="validation windows before the cutoff (default: %(default)s)")
    over_time.add_argument("--window-days", type=int, default=7, help="days per validation window (default: %(default)s)")
    over_time.add_argument("--cold-max", type=int, default=3,
                           help="most purchases (invoices) before the cutoff of a cold-start customer (default: %(default)s)")
    evaluate.set_defaults(func=cmd_recommend_evaluate)
    recommend.add_parser(
        "train", help="fit the shop's hybrid recommender on the interaction log (DATABASE_URL: history and live "
                      "behaviour), the graph and the stored segments"
    ).set_defaults(func=cmd_recommend_train)
    nightly = subcommands.add_parser(
        "nightly", help="the nightly job: shopper segments (stored), then the recommender trained with them"
    )
    nightly.add_argument("--quiet", action="store_true", help="no progress bar")
    nightly.set_defaults(func=cmd_nightly)

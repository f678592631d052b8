"""``shopbot segments ...``: build K-means shopper segments, store them, report them (wired in by ``register``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from bot.console import say
from knowledge.settings import get_settings

if TYPE_CHECKING:
    from knowledge.segments.model import SegmentModel

REPORT_FILE = "segments.html"


def _k_range(args: argparse.Namespace) -> range:
    return range(args.k_min, args.k_max + 1)


def print_model(model: "SegmentModel") -> None:
    """k, silhouette, J and the segments with sizes and names."""
    print(f"k = {model.k}  silhouette = {model.silhouette:.3f}  J = {model.inertia:,.1f}")
    print("silhouette by k: " + ", ".join(f"{k}: {v:.3f}" for k, v in sorted(model.silhouettes.items())))
    for segment in model.segments:
        print(f"  {segment.id:>3}  {segment.size:>6}  {segment.name}")
        print(f"       {segment.description}")


def build_and_store(args: argparse.Namespace) -> Optional["SegmentModel"]:
    """Build segments from the shop database at DATABASE_URL and the live graph's catalog; store and save them."""
    from knowledge.segments import build_segments_from_graph, store_segments
    from knowledge.connections import graph_client, shop_database

    settings = get_settings()
    db = shop_database(settings)
    try:
        if db.is_empty():
            say(f"the shop database at {db.url} holds no customers or orders (run `shopbot shop generate`)")
            return None
        say(f"building shopper segments from {db.url} and the catalog at {settings.sparql_query_url}")
        kg = graph_client(settings)
        model = build_segments_from_graph(db, kg, _k_range(args), args.seed, settings.currency, progress=say)
        rows = store_segments(db, model)
    finally:
        db.dispose()
    path = model.save(Path(args.model) if args.model else settings.segments_file)
    say(f"stored {rows} customers' segments in customer_segments; model saved to {path}")
    return model


def cmd_segments_build(args: argparse.Namespace) -> int:
    """Build, store and print the shopper segments of the shop database."""
    from knowledge.sparql import KnowledgeGraphUnavailable

    try:
        model = build_and_store(args)
    except KnowledgeGraphUnavailable as error:
        say(f"error: the knowledge graph is unreachable ({error}); start it with `shopbot kg serve`")
        return 2
    except ValueError as error:
        say(f"error: {error}")
        return 2
    if model is None:
        return 2
    print_model(model)
    return 0


def cmd_segments_report(args: argparse.Namespace) -> int:
    """Write the HTML report of the saved segments (building them first when none are saved or --rebuild)."""
    from knowledge.segments import SegmentModel, report

    settings = get_settings()
    path = Path(args.model) if args.model else settings.segments_file
    if path.exists() and not args.rebuild:
        say(f"loading segments from {path}")
        model: Optional[SegmentModel] = SegmentModel.load(path)
    else:
        from knowledge.sparql import KnowledgeGraphUnavailable

        try:
            model = build_and_store(args)
        except (KnowledgeGraphUnavailable, ValueError) as error:
            say(f"error: {error}")
            return 2
        if model is None:
            return 2
    out = report(model, Path(args.out) if args.out else settings.var_dir / REPORT_FILE)
    say(f"wrote {out.resolve()}")
    return 0


def cmd_segments_evaluate(args: argparse.Namespace) -> int:
    """K-means segments of the Online Retail customers: k, silhouette, J, names and sizes."""
    from knowledge.recommend.evaluation import DatasetMissing
    from knowledge.segments import report
    from knowledge.segments.retail import online_retail_segments, summary

    path = Path(args.path) if args.path else get_settings().datasets_dir / "online-retail"
    try:
        model = online_retail_segments(path, _k_range(args), args.seed, progress=say)
    except DatasetMissing as error:
        say(f"skipped: {error}")
        return 2
    print_model(model)
    if args.report:
        say(f"wrote {report(model, args.report, title='Online Retail shopper segments').resolve()}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary(model), indent=2) + "\n", encoding="utf-8")
        say(f"wrote {out}")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=42, help="K-means and silhouette seed (default: %(default)s)")
    parser.add_argument("--k-min", type=int, default=2, help="smallest k tried (default: %(default)s)")
    parser.add_argument("--k-max", type=int, default=8, help="largest k tried (default: %(default)s)")


def _shop(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model file (default: SHOPBOT_VAR_DIR/models/segments.npz)")


def register(subcommands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``segments build|report|evaluate`` and the segment-targeted ``campaign`` commands to the shopbot parsers."""
    from bot.cli_campaigns import register as register_campaigns

    register_campaigns(subcommands)
    segments = subcommands.add_parser("segments", help="K-means shopper segments").add_subparsers(
        dest="sub", required=True, metavar="SUB"
    )
    build = segments.add_parser(
        "build", help="segment the customers at DATABASE_URL against the live graph's catalog; store each one's segment"
    )
    _common(build)
    _shop(build)
    build.set_defaults(func=cmd_segments_build)
    report = segments.add_parser("report", help="write the HTML report of the segments (builds them if needed)")
    report.add_argument("--out", help=f"HTML file (default: SHOPBOT_VAR_DIR/{REPORT_FILE})")
    report.add_argument("--rebuild", action="store_true", help="build and store again instead of loading the model")
    _common(report)
    _shop(report)
    report.set_defaults(func=cmd_segments_report)
    evaluate = segments.add_parser("evaluate", help="segments of the Online Retail customers: k and silhouette")
    evaluate.add_argument("--path", help="data set folder (default: SHOPBOT_DATASETS_DIR/online-retail)")
    evaluate.add_argument("--report", metavar="OUT", help="also write the HTML report to this file")
    evaluate.add_argument("--json", metavar="OUT", help="also write the figures as JSON to this file")
    _common(evaluate)
    evaluate.set_defaults(func=cmd_segments_evaluate)

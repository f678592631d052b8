"""``shopbot nlu ...``: evaluate the NLU model on data/eval/ and choose its thresholds on data/dev/
(wired into ``bot/cli.py`` by ``register``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional

from bot.console import say
from bot.nlu_evaluation import (
    DEV_DIR,
    EVAL_DIR,
    Prediction,
    Setting,
    errors,
    evaluate,
    format_report,
    load_examples,
    training_domains,
    tune,
)


def serve_catalog_in_process() -> None:
    """Give the catalog matcher the demo store's names from an in-process graph (no SPARQL server needed)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the sentence model comes installed, never fetched
    from knowledge.settings import get_settings
    from knowledge.shop import Shop, set_default_shop
    from knowledge.sparql import OxigraphStoreClient

    graph = OxigraphStoreClient()
    graph.load_turtle(str(get_settings().catalog_file))
    set_default_shop(Shop(graph, vocabulary_max_age=3600))


def load_agent(model: Optional[str]):  # noqa: ANN201 - rasa.core.agent.Agent
    """The trained model (trained first when its inputs changed), its catalog matcher on the demo store."""
    serve_catalog_in_process()
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bot.training import train

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    path = Path(model) if model else train()[0]
    say(f"loading {path}")
    return Agent.load(str(path))


def predict(agent, examples: list) -> list[Prediction]:  # noqa: ANN001 - Agent, list[Example]
    """The model's final intent and the detector's verdict for each example."""
    async def parse_all() -> list[dict[str, Any]]:
        return [await agent.parse_message(example.text) for example in examples]

    parsed = asyncio.run(parse_all())
    return [Prediction(example, result["intent"]["name"], float(result["intent"].get("confidence") or 0.0),
                       result.get("out_of_scope") or {})
            for example, result in zip(examples, parsed)]


def cmd_nlu_eval(args: argparse.Namespace) -> int:
    """Report how the model does on a labelled folder it never trained on (default data/eval/)."""
    folder = Path(args.data)
    examples = load_examples(folder)
    if not examples:
        say(f"no labelled examples in {folder}")
        return 2
    predictions = predict(load_agent(args.model), examples)
    result = evaluate(predictions, training_domains())
    print(format_report(result, f"NLU evaluation on {folder}"))
    if args.errors:
        print("\nwrong predictions (group, true -> predicted, confidence, [detector decision, score]):")
        print("\n".join(errors(predictions)))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        say(f"wrote {out}")
    return 0


def _pipeline_setting(name: str, key: str, default: float) -> float:
    from rasa.shared.utils.io import read_yaml_file

    from bot.training import CONFIG

    for component in read_yaml_file(str(CONFIG)).get("pipeline", []):
        if component.get("name", "").endswith(name):
            return float(component.get(key, default))
    return default


def cmd_nlu_tune(args: argparse.Namespace) -> int:
    """Replay the development split under other thresholds and recommend the best within the budget."""
    examples = load_examples(Path(args.data))
    if not examples:
        say(f"no labelled examples in {args.data}")
        return 2
    predictions = predict(load_agent(args.model), examples)
    common = _pipeline_setting("OutOfScopeDetector", "common_entity_threshold", 0.95)
    ambiguity = _pipeline_setting("FallbackClassifier", "ambiguity_threshold", 0.1)
    grid = [Setting(t / 100, f / 100, c / 100) for t in range(40, 100, 5) for f in range(15, 45, 5)
            for c in (0, 10, 15, 20, 25, 30)]
    rows = tune(predictions, grid, common, ambiguity, args.max_rejection, args.rejection_cost,
                args.clarify_cost, args.wrong_cost)
    print(f"thresholds on {args.data} (in-scope rejection budget {args.max_rejection:.1%}; in missed out-of-scope "
          f"messages, a rejection costs {args.rejection_cost:g}, a clarifying question {args.clarify_cost:g}, a wrong "
          f"intent {args.wrong_cost:g}; current model: "
          f"{sum(p.rejected for p in predictions if p.example.group == 'out_of_scope')} of "
          f"{sum(p.example.group == 'out_of_scope' for p in predictions)} out-of-scope messages rejected)")
    print(f"  {'threshold':>9} {'fallback':>8} {'clarify':>7} {'OOS recall':>10} {'rejected':>8} {'(asked)':>7} "
          f"{'wrong':>6} {'service acc':>11}")
    for row in rows[:args.top]:
        s = row["setting"]
        print(f"  {s.threshold:>9.2f} {s.fallback:>8.2f} {s.clarify_margin:>7.2f} {row['recall']:>10.3f} "
              f"{row['rejection']:>8.1%} {row['clarified']:>7.1%} {row['wrong']:>6.1%} {row['service_accuracy']:>11.3f}")
    best = rows[0]["setting"]
    print(f"\nconfig.yml: OutOfScopeDetector threshold: {best.threshold}, clarify_margin: {best.clarify_margin}; "
          f"FallbackClassifier threshold: {best.fallback}")
    return 0


def cmd_nlu_report(args: argparse.Namespace) -> int:
    """Cross-validate the NLU pipeline on data/nlu with Rasa's own ``rasa test nlu --cross-validation``."""
    serve_catalog_in_process()
    from rasa.__main__ import main as rasa_main

    from knowledge.settings import PROJECT_ROOT

    argv = ["rasa", "test", "nlu", "--config", str(PROJECT_ROOT / "config.yml"), "--nlu", str(PROJECT_ROOT / "data" / "nlu"),
            "--cross-validation", "--folds", str(args.folds), "--out", args.out]
    say(f"{args.folds}-fold cross-validation of the NLU pipeline, reports in {args.out}")
    sys.argv = argv
    try:
        rasa_main()
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``shopbot nlu eval``, ``shopbot nlu tune`` and ``shopbot nlu report``."""
    nlu = commands.add_parser("nlu", help="evaluate and tune the NLU model").add_subparsers(
        dest="sub", required=True, metavar="SUB")
    evaluate_parser = nlu.add_parser("eval", help="service macro-F1, out-of-scope recall, false rejections, "
                                                  "small talk and confusions on data/eval/")
    evaluate_parser.add_argument("--data", default=str(EVAL_DIR), help="labelled folder (default: data/eval)")
    evaluate_parser.add_argument("--model", help="model archive (default: train or reuse the current one)")
    evaluate_parser.add_argument("--json", help="also write the figures to this JSON file")
    evaluate_parser.add_argument("--errors", action="store_true", help="list every wrong prediction")
    evaluate_parser.set_defaults(func=cmd_nlu_eval)
    tune_parser = nlu.add_parser("tune", help="choose the out-of-scope, fallback and clarifying thresholds "
                                              "on the development split (data/dev)")
    tune_parser.add_argument("--data", default=str(DEV_DIR), help="labelled folder (default: data/dev)")
    tune_parser.add_argument("--model", help="model archive (default: train or reuse the current one)")
    tune_parser.add_argument("--max-rejection", type=float, default=0.015,
                             help="share of in-scope messages that may be rejected (default: %(default)s)")
    tune_parser.add_argument("--rejection-cost", type=float, default=2.5,
                             help="how many unrecognised out-of-scope messages one rejected customer is worth "
                                  "(default: %(default)s, the ratio of the 5 %% and 2 %% error allowances)")
    tune_parser.add_argument("--clarify-cost", type=float, default=1.0,
                             help="the same for a clarifying question (default: %(default)s)")
    tune_parser.add_argument("--wrong-cost", type=float, default=2.5,
                             help="the same for answering the wrong intent (default: %(default)s)")
    tune_parser.add_argument("--top", type=int, default=12, help="settings to list (default: %(default)s)")
    tune_parser.set_defaults(func=cmd_nlu_tune)
    report_parser = nlu.add_parser("report", help="k-fold cross-validation of the NLU pipeline on data/nlu "
                                                  "(Rasa's report files, with the catalog's names)")
    report_parser.add_argument("--folds", type=int, default=5, help="folds (default: %(default)s)")
    report_parser.add_argument("--out", default="results/nlu", help="report folder (default: %(default)s)")
    report_parser.set_defaults(func=cmd_nlu_report)

"""How well the NLU model understands messages it never trained on: data/eval/ to report, data/dev/ to tune.

A labelled folder holds Rasa NLU files named for their group: `service.yml` (customer service),
`smalltalk.yml`, `products.yml` (shopping; intent `in_scope` for follow-ups any shopping intent may take)
and `out_of_scope.yml` (intent `out_of_scope`, its `domain` as intent metadata). A message is *rejected*
when it ends as `out_of_scope` or `nlu_fallback`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from knowledge.settings import PROJECT_ROOT

EVAL_DIR = PROJECT_ROOT / "data" / "eval"
DEV_DIR = PROJECT_ROOT / "data" / "dev"
TRAINING_DIR = PROJECT_ROOT / "data" / "nlu"
OUT_OF_SCOPE, FALLBACK, ANY_IN_SCOPE = "out_of_scope", "nlu_fallback", "in_scope"
CLARIFY = "clarify"  # what `replay` returns for a clarifying question (the intent is nlu_fallback)
GROUPS = ("service", "smalltalk", "products", "out_of_scope")
IN_SCOPE_GROUPS = ("service", "smalltalk", "products")
_ANNOTATION = re.compile(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Example:
    """One labelled message."""

    text: str
    intent: str
    group: str
    domain: Optional[str] = None


@dataclass
class Prediction:
    """What the model made of one example: final intent and confidence, and the detector's verdict."""

    example: Example
    intent: str
    confidence: float
    verdict: dict = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        """Whether the message was turned away (out of scope, or not understood)."""
        return self.intent in (OUT_OF_SCOPE, FALLBACK)

    @property
    def correct(self) -> bool:
        """Whether the final intent is the labelled one (any accepted intent for a shopping follow-up)."""
        if self.example.intent == ANY_IN_SCOPE:
            return not self.rejected
        if self.example.intent == OUT_OF_SCOPE:
            return self.rejected
        return self.intent == self.example.intent


def normalise(text: str) -> str:
    """A message without entity annotations, case, punctuation and extra spaces, to compare sets."""
    text = _ANNOTATION.sub(r"\1", text)
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def load_examples(folder: Path, groups: Iterable[str] = GROUPS) -> list[Example]:
    """The labelled examples of a folder's group files (see the module docstring)."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for group in groups:
        path = folder / f"{group}.yml"
        if not path.exists():
            continue
        for message in load_data(str(path)).intent_examples:
            metadata = (message.get("metadata") or {}).get("intent") or {}
            examples.append(Example(message.get("text"), message.get("intent"), group, metadata.get("domain")))
    return examples


def training_texts(folder: Path = TRAINING_DIR) -> dict[str, str]:
    """Every training example, normalised, with its intent."""
    from rasa.shared.nlu.training_data.loading import load_data

    return {normalise(m.get("text")): m.get("intent") for m in load_data(str(folder)).intent_examples}


def training_domains(folder: Path = TRAINING_DIR) -> set[str]:
    """The out-of-scope domains that have training examples."""
    from rasa.shared.nlu.training_data.loading import load_data

    return {((m.get("metadata") or {}).get("intent") or {}).get("domain")
            for m in load_data(str(folder)).intent_examples if m.get("intent") == OUT_OF_SCOPE} - {None}


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def cause(prediction: Prediction) -> str:
    """Why an in-scope message was rejected: the detector, the classifier, a clarifying question, or doubt."""
    decision = prediction.verdict.get("decision")
    if prediction.intent == OUT_OF_SCOPE:
        return "detector" if decision == "out_of_scope" else "classifier"
    return "clarifying question" if decision == "clarify" else "fallback (unsure)"


def evaluate(predictions: list[Prediction], trained_domains: Optional[set[str]] = None) -> dict[str, Any]:
    """Service macro-F1, out-of-scope recall, in-scope false rejections, small-talk accuracy, confusions."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    by_group = defaultdict(list)
    for prediction in predictions:
        by_group[prediction.example.group].append(prediction)
    result: dict[str, Any] = {"counts": {group: len(items) for group, items in by_group.items()}}

    service = by_group["service"]
    if service:
        labels = sorted({p.example.intent for p in service})
        truth, predicted = [p.example.intent for p in service], [p.intent for p in service]
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, predicted, labels=labels, zero_division=0)
        result["service"] = {
            "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
            "accuracy": _share(sum(p.correct for p in service), len(service)),
            "intents": {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                        for label, p, r, f, s in zip(labels, precision, recall, f1, support)},
        }

    outside = by_group["out_of_scope"]
    if outside:
        domains = defaultdict(list)
        for prediction in outside:
            domains[prediction.example.domain or "-"].append(prediction.rejected)
        unseen = [p for p in outside if trained_domains is not None and p.example.domain not in trained_domains]
        result["out_of_scope"] = {
            "recall": _share(sum(p.rejected for p in outside), len(outside)),
            "domains": {d: {"recall": _share(sum(r), len(r)), "count": len(r), "unseen": d not in (trained_domains or {d})}
                        for d, r in sorted(domains.items())},
            "unseen_domains_recall": _share(sum(p.rejected for p in unseen), len(unseen)) if unseen else None,
            "as_fallback": _share(sum(p.intent == FALLBACK for p in outside), len(outside)),
        }

    inside = [p for group in IN_SCOPE_GROUPS for p in by_group[group]]
    if inside:
        rejected = [p for p in inside if p.rejected]
        follow_ups = [p for p in inside if p.example.intent == ANY_IN_SCOPE]
        result["false_rejection"] = {
            "rate": _share(len(rejected), len(inside)),
            "count": len(rejected),
            "by_group": {group: _share(sum(p.rejected for p in by_group[group]), len(by_group[group]))
                         for group in IN_SCOPE_GROUPS if by_group[group]},
            "by_cause": dict(Counter(cause(p) for p in rejected)),
            "by_detector": _share(sum(cause(p) == "detector" for p in inside), len(inside)),
            "follow_ups": {"count": len(follow_ups), "rejected": sum(p.rejected for p in follow_ups),
                           "by_detector": sum(cause(p) == "detector" for p in follow_ups if p.rejected)},
        }

    small_talk = by_group["smalltalk"]
    if small_talk:
        result["smalltalk"] = {"accuracy": _share(sum(p.correct for p in small_talk), len(small_talk))}

    confusions = Counter((p.example.intent, p.intent) for p in inside if not p.correct)
    result["confusions"] = [{"true": t, "predicted": f, "count": n} for (t, f), n in confusions.most_common(15)]
    return result


def format_report(result: dict[str, Any], title: str = "NLU evaluation") -> str:
    """The evaluation as a plain-text report."""
    lines = [title, "=" * len(title), "messages: " + ", ".join(f"{g} {n}" for g, n in result["counts"].items())]
    if "service" in result:
        service = result["service"]
        lines += ["", f"service intents: macro-F1 {service['macro_f1']:.3f}, accuracy {service['accuracy']:.3f}",
                  f"  {'intent':<22}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>5}"]
        lines += [f"  {name:<22}{s['precision']:>10.3f}{s['recall']:>8.3f}{s['f1']:>7.3f}{s['support']:>5}"
                  for name, s in service["intents"].items()]
    if "out_of_scope" in result:
        outside = result["out_of_scope"]
        lines += ["", f"out-of-scope recall {outside['recall']:.3f} ({len(outside['domains'])} domains; "
                      f"{outside['as_fallback']:.1%} as nlu_fallback, the rest as out_of_scope)"]
        if outside["unseen_domains_recall"] is not None:
            unseen = [d for d, s in outside["domains"].items() if s["unseen"]]
            lines.append(f"  domains with no training example ({', '.join(unseen)}): "
                         f"recall {outside['unseen_domains_recall']:.3f}")
        lines.append("  by domain: " + ", ".join(
            f"{d}{'*' if s['unseen'] else ''} {s['recall']:.2f}" for d, s in outside["domains"].items()))
    if "false_rejection" in result:
        rejection = result["false_rejection"]
        follow = rejection["follow_ups"]
        lines += ["", f"in-scope messages rejected {rejection['rate']:.1%} ({rejection['count']}); by the "
                      f"out-of-scope detector {rejection['by_detector']:.1%}",
                  "  by group: " + ", ".join(f"{g} {r:.1%}" for g, r in rejection["by_group"].items()),
                  "  by cause: " + (", ".join(f"{c} {n}" for c, n in sorted(rejection["by_cause"].items())) or "-")]
        if follow["count"]:
            lines.append(f"  shopping follow-ups: {follow['rejected']} of {follow['count']} rejected, "
                         f"{follow['by_detector']} of them by the detector")
    if "smalltalk" in result:
        lines += ["", f"small talk accuracy {result['smalltalk']['accuracy']:.3f}"]
    if result["confusions"]:
        lines += ["", "confusions (in-scope messages, true -> predicted):"]
        lines += [f"  {c['count']:>3}  {c['true']} -> {c['predicted']}" for c in result["confusions"]]
    return "\n".join(lines)


def errors(predictions: list[Prediction]) -> list[str]:
    """One line per wrong prediction, for a closer look."""
    return [f"{p.example.group:<12} {p.example.intent:<20} -> {p.intent:<20} {p.confidence:.2f} "
            f"[{p.verdict.get('decision', '-')} {p.verdict.get('score', '-')}] {p.example.text}"
            for p in predictions if not p.correct]


# --- choosing the thresholds on the development split ----------------------------------------------

@dataclass(frozen=True)
class Setting:
    """The thresholds `tune` chooses among."""

    threshold: float
    fallback: float
    clarify_margin: float


def replay(prediction: Prediction, setting: Setting, common_threshold: float, ambiguity: float) -> str:
    """The final intent a message would get under other thresholds, from the detector's verdict (CLARIFY for a
    clarifying question)."""
    verdict = prediction.verdict
    intents = verdict.get("intents") or []
    if not intents:
        return prediction.intent
    if verdict.get("decision") == "classifier":
        return OUT_OF_SCOPE
    if verdict.get("decision") == "named_product":
        return prediction.intent
    limit = common_threshold if verdict.get("common_entity") else setting.threshold
    if not verdict.get("guard") and verdict["score"] >= limit:
        return OUT_OF_SCOPE
    if verdict.get("confusable") is not None and verdict["confusable"] < setting.clarify_margin:
        return CLARIFY
    first, p1 = intents[0]
    p2 = intents[1][1] if len(intents) > 1 else 0.0
    if p1 < setting.fallback or p1 - p2 < ambiguity:
        return FALLBACK
    return first


def tune(predictions: list[Prediction], settings: Iterable[Setting], common_threshold: float, ambiguity: float,
         max_rejection: float, rejection_cost: float, clarify_cost: float = 1.0,
         wrong_cost: float = 2.5) -> list[dict[str, Any]]:
    """Each setting's out-of-scope recall, in-scope rejection (clarifying questions included) and service
    accuracy, the best first: within the rejection budget, the highest out-of-scope recall minus the costs, in
    missed out-of-scope messages, of turning a customer away, of asking a clarifying question and of answering
    the wrong intent, chosen by the one-standard-error rule (see `choose`)."""
    rows = []
    for setting in settings:
        outcome = [(p, replay(p, setting, common_threshold, ambiguity)) for p in predictions]
        outside = [intent in (OUT_OF_SCOPE, FALLBACK, CLARIFY) for p, intent in outcome
                   if p.example.group == "out_of_scope"]
        inside = [(p, intent) for p, intent in outcome if p.example.group != "out_of_scope"]
        turned_away = _share(sum(intent in (OUT_OF_SCOPE, FALLBACK) for _, intent in inside), len(inside))
        clarified = _share(sum(intent == CLARIFY for _, intent in inside), len(inside))
        wrong = _share(sum(intent not in (OUT_OF_SCOPE, FALLBACK, CLARIFY) and p.example.intent != ANY_IN_SCOPE
                           and intent != p.example.intent for p, intent in inside), len(inside))
        service = [intent == p.example.intent for p, intent in inside if p.example.group == "service"]
        recall = _share(sum(outside), len(outside))
        rows.append({"setting": setting, "recall": recall, "rejection": turned_away + clarified,
                     "clarified": clarified, "wrong": wrong, "service_accuracy": _share(sum(service), len(service)),
                     "utility": recall - rejection_cost * turned_away - clarify_cost * clarified - wrong_cost * wrong})
    return choose(rows, max_rejection, sum(p.example.group == "out_of_scope" for p in predictions))


def choose(rows: list[dict[str, Any]], max_rejection: float, out_of_scope_count: int) -> list[dict[str, Any]]:
    """The rows best first by the one-standard-error rule: of the settings within the rejection budget whose
    utility is within one standard error of the best (the standard error of its out-of-scope recall), the most
    cautious detector first, then the highest utility and the widest clarifying margin; then all the others."""
    by_utility = sorted(rows, key=lambda r: (r["rejection"] > max_rejection, -round(r["utility"], 9),
                                             -r["setting"].threshold, -r["setting"].clarify_margin))
    best = by_utility[0]
    error = (best["recall"] * (1 - best["recall"]) / max(out_of_scope_count, 1)) ** 0.5
    near = [r for r in by_utility if r["rejection"] <= max_rejection and r["utility"] >= best["utility"] - error]
    near.sort(key=lambda r: (-r["setting"].threshold, -round(r["utility"], 9), -r["setting"].clarify_margin,
                             -r["setting"].fallback))
    return near + [r for r in by_utility if r not in near]

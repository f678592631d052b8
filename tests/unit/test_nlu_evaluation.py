"""The figures `shopbot nlu eval` reports and the thresholds `shopbot nlu tune` chooses (bot/nlu_evaluation.py)."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from bot.nlu_evaluation import (
    Example,
    Prediction,
    Setting,
    evaluate,
    format_report,
    replay,
    tune,
)


def predicted(text: str, intent: str, group: str, got: str, domain: Optional[str] = None,
              **verdict: Any) -> Prediction:
    return Prediction(Example(text, intent, group, domain), got, 0.9, verdict)


@pytest.fixture
def predictions() -> list[Prediction]:
    return [
        predicted("where is my parcel", "track_order", "service", "track_order"),
        predicted("parcel status", "track_order", "service", "track_order"),
        predicted("refund please", "request_refund", "service", "ask_return_policy"),
        predicted("money back", "request_refund", "service", "request_refund"),
        predicted("refund rules", "ask_return_policy", "service", "nlu_fallback", decision="clarify"),
        predicted("hello", "greet", "smalltalk", "greet"),
        predicted("bye", "goodbye", "smalltalk", "out_of_scope", decision="out_of_scope"),
        predicted("the second one", "in_scope", "products", "ask_product_info"),
        predicted("next page", "in_scope", "products", "nlu_fallback", decision="keep"),
        predicted("change my pin", "out_of_scope", "out_of_scope", "out_of_scope", "banking"),
        predicted("loan rates", "out_of_scope", "out_of_scope", "payment_issue", "banking"),
        predicted("prune roses", "out_of_scope", "out_of_scope", "nlu_fallback", "gardening"),
    ]


def test_evaluate_reports_every_figure(predictions: list[Prediction]) -> None:
    result = evaluate(predictions, trained_domains={"banking"})
    service = result["service"]
    # track_order F1 1.0; request_refund P 1/1 R 1/2 -> 0.667; ask_return_policy P 0/1 R 0/1 -> 0
    assert service["macro_f1"] == pytest.approx((1.0 + 2 / 3 + 0.0) / 3)
    assert service["accuracy"] == pytest.approx(3 / 5)
    assert result["out_of_scope"]["recall"] == pytest.approx(2 / 3)
    assert result["out_of_scope"]["domains"]["banking"] == {"recall": 0.5, "count": 2, "unseen": False}
    assert result["out_of_scope"]["domains"]["gardening"]["unseen"] is True
    assert result["out_of_scope"]["unseen_domains_recall"] == 1.0
    assert result["out_of_scope"]["as_fallback"] == pytest.approx(1 / 3)
    rejection = result["false_rejection"]
    assert rejection["count"] == 3 and rejection["rate"] == pytest.approx(3 / 9)
    assert rejection["by_cause"] == {"clarifying question": 1, "detector": 1, "fallback (unsure)": 1}
    assert rejection["by_detector"] == pytest.approx(1 / 9)
    assert rejection["follow_ups"] == {"count": 2, "rejected": 1, "by_detector": 0}
    assert result["smalltalk"]["accuracy"] == 0.5
    assert {"true": "request_refund", "predicted": "ask_return_policy", "count": 1} in result["confusions"]


def test_report_names_the_figures(predictions: list[Prediction]) -> None:
    report = format_report(evaluate(predictions, {"banking"}))
    for words in ("macro-F1", "out-of-scope recall 0.667", "in-scope messages rejected 33.3%",
                  "domains with no training example (gardening)", "small talk accuracy 0.500", "gardening* 1.00"):
        assert words in report


def verdict(score: float, intents: list, **more: Any) -> Prediction:
    return predicted("x", intents[0][0], "service", intents[0][0],
                     score=score, intents=intents, decision=more.pop("decision", "keep"), **more)


@pytest.mark.parametrize("prediction, setting, expected", [
    (verdict(0.7, [["track_order", 0.9], ["ask_shipping", 0.05]]), Setting(0.6, 0.2, 0.1), "out_of_scope"),
    (verdict(0.7, [["track_order", 0.9], ["ask_shipping", 0.05]]), Setting(0.8, 0.2, 0.1), "track_order"),
    (verdict(0.7, [["track_order", 0.9], ["ask_shipping", 0.05]], guard=True), Setting(0.6, 0.2, 0.1), "track_order"),
    (verdict(0.7, [["track_order", 0.9], ["x", 0.05]], common_entity=True), Setting(0.6, 0.2, 0.1), "track_order"),
    (verdict(0.1, [["out_of_scope", 0.6], ["greet", 0.3]], decision="classifier"), Setting(0.9, 0.2, 0), "out_of_scope"),
    (verdict(0.1, [["track_order", 0.5], ["ask_shipping", 0.4]], confusable=0.1), Setting(0.6, 0.2, 0.15),
     "clarify"),
    (verdict(0.1, [["track_order", 0.5], ["ask_shipping", 0.4]], confusable=0.1), Setting(0.6, 0.2, 0.05),
     "track_order"),
    (verdict(0.1, [["track_order", 0.3], ["greet", 0.1]]), Setting(0.6, 0.35, 0), "nlu_fallback"),
    (verdict(0.1, [["track_order", 0.42], ["greet", 0.40]]), Setting(0.6, 0.2, 0), "nlu_fallback"),
])
def test_replay_applies_other_thresholds(prediction: Prediction, setting: Setting, expected: str) -> None:
    assert replay(prediction, setting, common_threshold=0.95, ambiguity=0.05) == expected


def test_tune_prefers_fewer_rejections_when_recall_is_equal() -> None:
    outside = [predicted("a", "out_of_scope", "out_of_scope", "out_of_scope", "x", score=0.9,
                         intents=[["track_order", 0.9], ["greet", 0.1]], decision="out_of_scope")]
    inside = [predicted("b", "track_order", "service", "track_order", score=0.5,
                        intents=[["track_order", 0.9], ["greet", 0.1]], decision="keep")]
    rows = tune(outside + inside, [Setting(0.4, 0.2, 0), Setting(0.6, 0.2, 0)], 0.95, 0.05, max_rejection=1.0,
                rejection_cost=2.5)
    assert rows[0]["setting"] == Setting(0.6, 0.2, 0)
    assert rows[0]["recall"] == 1.0 and rows[0]["rejection"] == 0.0
    assert rows[1]["rejection"] == 1.0


def test_tune_asks_when_the_question_saves_wrong_answers() -> None:
    torn = [predicted(str(i), "ask_shipping", "service", "track_order", score=0.0, decision="keep", confusable=0.15,
                      intents=[["track_order", 0.55], ["ask_shipping", 0.4]]) for i in range(3)]
    sure = [predicted(str(i), "track_order", "service", "track_order", score=0.0, decision="keep",
                      intents=[["track_order", 0.9], ["greet", 0.1]]) for i in range(97)]
    rows = tune(torn + sure, [Setting(0.6, 0.2, 0), Setting(0.6, 0.2, 0.2)], 0.95, 0.05, max_rejection=0.05,
                rejection_cost=2.5, clarify_cost=1.0, wrong_cost=2.5)
    assert rows[0]["setting"].clarify_margin == 0.2
    assert rows[0]["clarified"] == pytest.approx(0.03) and rows[0]["wrong"] == 0.0
    assert rows[1]["wrong"] == pytest.approx(0.03)


def test_tune_keeps_within_the_rejection_budget() -> None:
    outside = [predicted("a", "out_of_scope", "out_of_scope", "x", "d", score=0.5,
                         intents=[["track_order", 0.9], ["greet", 0.1]], decision="keep")]
    inside = [predicted(str(i), "track_order", "service", "track_order", score=0.45,
                        intents=[["track_order", 0.9], ["greet", 0.1]], decision="keep") for i in range(10)]
    rows = tune(outside + inside, [Setting(0.4, 0.2, 0), Setting(0.5, 0.2, 0)], 0.95, 0.05, max_rejection=0.05,
                rejection_cost=0.01)
    # 0.4 catches the out-of-scope message but rejects every in-scope one: over the budget, however cheap
    assert rows[0]["setting"].threshold == 0.5

"""Unit tests of knowledge.recommend.temporal and ``recommend evaluate --rolling/--cold-start`` on a small
synthetic purchase log (Online Retail's format): windows, out-of-sample weight choice, the cold-start table."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from knowledge.recommend.evaluation import load_online_retail
from knowledge.recommend.temporal import (
    SEGMENT_GRID,
    GridTable,
    cold_start_evaluation,
    list_metrics,
    rolling_evaluation,
    rolling_windows,
    top_k_rows,
    weight_grid,
)

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
GROUPS = {"MUG": "RED ENAMEL MUG", "LAMP": "GLASS STAR LAMP", "BAG": "JUTE SHOPPING BAG"}


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dec 2010 - Feb 2011: 60 customers of three tastes buying 2-3 items of theirs every week or so."""
    rng = np.random.default_rng(4)
    folder = tmp_path_factory.mktemp("retail") / "by-day"
    folder.mkdir()
    lines: dict[str, list[str]] = {}
    invoice = 550000
    for customer in range(60):
        group = list(GROUPS)[customer % 3]
        day = datetime(2010, 12, 1) + timedelta(days=int(rng.integers(0, 10)))
        purchases = 1 if customer % 10 == 0 else 6  # every tenth customer buys once before February: cold
        for number in range(purchases + 3):
            invoice += 1
            items = rng.choice(12, size=int(rng.integers(2, 4)), replace=False)
            for item in items:
                code = f"{group}{item:02d}"
                lines.setdefault(day.strftime("%Y-%m-%d"), []).append(
                    f"{invoice},{code},{GROUPS[group]} {item},2,{day:%Y-%m-%d %H:%M:%S},{1.5 + item / 4:.2f},"
                    f"{17000 + customer}.0,United Kingdom")
            step = 12 if number < purchases else 9
            day += timedelta(days=int(step + rng.integers(0, 4)))
            if purchases == 1 and number == 0:
                day = max(day, datetime(2011, 2, 2))
    for name, rows in lines.items():
        if name < "2011-03-01":
            (folder / f"{name}.csv").write_text(HEADER + "\n".join(rows) + "\n")
    return folder.parent


def test_windows_end_at_the_cutoff_back_to_back() -> None:
    windows = rolling_windows("2011-02-01", count=3, days=7)
    assert [w.label for w in windows] == ["2011-01-11..2011-01-17", "2011-01-18..2011-01-24", "2011-01-25..2011-01-31"]
    assert all(a.end == b.start for a, b in zip(windows, windows[1:]))
    with pytest.raises(ValueError):
        rolling_windows("2011-02-01", count=0)


def test_top_k_rows_and_list_metrics_by_hand() -> None:
    scores = np.array([[0.1, 0.9, 0.5, -np.inf], [0.3, 0.3, 0.0, 0.2]])
    top = top_k_rows(scores, 2)
    assert top.tolist() == [[1, 2], [0, 1]]
    truth = np.array([[False, False, True, False], [False, True, False, True]])
    scored = list_metrics(top, truth, truth.sum(axis=1), catalogue=4, k=2)
    assert scored["recall@2"] == pytest.approx((1 / 1 + 1 / 2) / 2)
    assert scored["ndcg@2"] == pytest.approx(((1 / np.log2(3)) / 1 + (1 / np.log2(3)) / (1 + 1 / np.log2(3))) / 2)
    assert scored["coverage"] == pytest.approx(3 / 4)


def test_weights_are_chosen_from_the_given_windows_only() -> None:
    combos = weight_grid()[:2]
    first, second = GridTable(combos, SEGMENT_GRID), GridTable(combos, SEGMENT_GRID)
    for index in range(2):
        for segment in SEGMENT_GRID:
            first.scores[(index, segment)] = {"recall@10": 0.5 if (index, segment) == (0, 0.0) else 0.1}
            second.scores[(index, segment)] = {"recall@10": 0.9 if (index, segment) == (1, 1.0) else 0.0}
    assert first.best([first]) == (combos[0], 0.0)
    assert first.best([first, second]) == (combos[1], 1.0)  # 0.5 vs mean (0.1 + 0.9) / 2


@pytest.fixture(scope="module")
def rolling(retail: Path) -> dict:
    return rolling_evaluation(load_online_retail(retail), windows=3, days=7)


def test_rolling_reports_every_algorithm_per_window_with_the_spread(rolling: dict) -> None:
    assert rolling["protocol"]["windows"] and rolling["protocol"]["test"] == "2011-02-01..2011-02-28"
    windows = len(rolling["protocol"]["windows"])
    names = set(rolling["algorithms"])
    assert {"Hybrid", "Popularity", "UserCF-cosine", "UserCF-Pearson", "ItemCF-cosine", "ItemCF-Pearson"} <= names
    assert ("ALS" in names) != ("ALS" in rolling["skipped"])
    for scores in rolling["algorithms"].values():
        assert len(scores["windows"]) == windows
        for metric in ("recall@10", "ndcg@10", "coverage"):
            per_window = [w[metric] for w in scores["windows"]]
            assert scores["mean"][metric] == pytest.approx(np.mean(per_window))
            assert scores["spread"][metric] == pytest.approx(np.std(per_window))
            assert 0 <= scores["test"][metric] <= 1
    chosen = rolling["hybrid_weights"]
    assert chosen[0]["chosen by"].startswith("defaults") and chosen[-1]["chosen by"].endswith(f"1..{windows - 1}")
    # the taste groups are plain: collaborative filtering finds them, popularity does not
    assert rolling["algorithms"]["Hybrid"]["test"]["recall@10"] > rolling["algorithms"]["Popularity"]["test"]["recall@10"]


def test_a_test_period_after_the_data_is_reported_as_missing_not_as_zero(retail: Path) -> None:
    from bot.cli_recommend import format_rolling

    late = rolling_evaluation(load_online_retail(retail), cutoff="2011-03-01", test_end="2011-06-01", windows=1, days=7)
    assert all(scores["test"] is None and len(scores["windows"]) == 1 for scores in late["algorithms"].values())
    table = format_rolling(late).splitlines()
    hybrid = next(line for line in table if line.startswith("Hybrid"))
    assert hybrid.split()[-3:] == ["-", "-", "-"]


def test_cold_start_compares_the_hybrid_with_and_without_segments(retail: Path, rolling: dict) -> None:
    cold = cold_start_evaluation(load_online_retail(retail), rolling)
    assert cold["protocol"]["customers"] > 0 and cold["protocol"]["segment_weight"] > 0
    assert set(cold["algorithms"]) == {"Popularity", "Segment popularity", "Hybrid without segments",
                                       "Hybrid with segments"}
    assert all(0 <= scores["recall@10"] <= 1 for scores in cold["algorithms"].values())


def test_cli_rolling_and_cold_start(retail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "over-time.json"
    code = main(["recommend", "evaluate", "--dataset", "online-retail", "--path", str(retail), "--rolling",
                 "--cold-start", "--windows", "2", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "w1 recall" in printed and "recall mean±sd" in printed and "cold start:" in printed
    assert "Hybrid with segments" in printed and "best mean over every window" in printed
    saved = json.loads(out.read_text())
    assert set(saved) >= {"rolling", "cold_start"} and "_tables" not in saved["rolling"]
    assert main(["recommend", "evaluate", "--dataset", "ml-100k", "--rolling"]) == 2
    assert main(["recommend", "evaluate", "--dataset", "online-retail", "--path", str(tmp_path / "absent"),
                 "--rolling"]) == 2

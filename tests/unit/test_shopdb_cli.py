"""Unit tests of ``shopbot shop generate|stats`` (bot/cli_shop.py) on a real SQLite file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli_shop import register
from knowledge.shopdb import connect, lookup_order, row_counts


def main(argv: list[str]) -> int:
    """Run ``shop ...`` through a parser holding only what ``register`` adds."""
    parser = argparse.ArgumentParser(prog="shopbot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "var" / "shop.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    return path


def test_register_adds_shop_commands() -> None:
    parser = argparse.ArgumentParser(prog="shopbot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["shop", "generate", "--force", "--customers", "50", "--orders", "200",
                              "--today", "2025-01-31"])
    assert (args.force, args.customers, args.orders, str(args.today)) == (True, 50, 200, "2025-01-31")
    assert parser.parse_args(["shop", "stats"]).func.__name__ == "cmd_shop_stats"
    with pytest.raises(SystemExit):
        parser.parse_args(["shop", "generate", "--today", "yesterday"])


def test_generate_refuse_force_and_stats(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shop", "generate", "--customers", "30", "--orders", "120"]) == 0
    out = capsys.readouterr().out
    assert database.exists()
    assert "customers" in out and "30" in out and " s:" in out
    db = connect(f"sqlite:///{database}")
    try:
        assert row_counts(db.engine)["orders"] == 120
        assert lookup_order(db, "SB-100001", email="alex@example.com").status == "processing"
    finally:
        db.dispose()

    assert main(["shop", "generate", "--customers", "40", "--orders", "150"]) == 0
    assert "--force" in capsys.readouterr().out
    db = connect(f"sqlite:///{database}")
    try:
        assert row_counts(db.engine)["orders"] == 120  # untouched
    finally:
        db.dispose()

    assert main(["shop", "generate", "--force", "--customers", "40", "--orders", "150"]) == 0
    capsys.readouterr()
    assert main(["shop", "stats"]) == 0
    stats = capsys.readouterr().out
    assert "orders" in stats and "150" in stats and "processing" in stats and "order_lines" in stats


def test_generate_rejects_bad_sizes(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shop", "generate", "--customers", "1"]) == 2
    assert "error" in capsys.readouterr().out


def test_stats_on_a_new_database(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shop", "stats"]) == 0
    out = capsys.readouterr().out
    assert "customers" in out and "handoff_requests" in out and "orders by status" not in out

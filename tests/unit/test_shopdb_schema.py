"""Unit tests of knowledge.shopdb's schema and connections, on real SQLite files."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, insert, select
from sqlalchemy.exc import IntegrityError

from knowledge.settings import PROJECT_ROOT
from knowledge.shopdb import ShopDB, connect, ensure_schema, make_engine, row_counts
from knowledge.shopdb.models import TABLES, Customer, Order

TABLE_NAMES = {
    "customers", "orders", "order_lines", "shipments", "returns", "complaints", "handoff_requests", "interactions",
}


def _customer(db: ShopDB, cid: str = "C9001") -> None:
    with db.engine.begin() as connection:
        connection.execute(insert(Customer.__table__), [{
            "id": cid, "name": "Test Person", "email": f"{cid.lower()}@example.com",
            "created_at": datetime(2026, 1, 1), "address": "1 Test Road",
        }])


def _order(**values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "SB-900001", "customer_id": "C9001", "placed_at": datetime(2026, 2, 1, 12, 0), "status": "processing",
        "shipping_address": "1 Test Road", "shipping_option": "standard", "shipping_cost": Decimal("4.95"),
        "total": Decimal("1234.57"), "currency": "USD",
    }
    row.update(values)
    return row


def test_schema_created_on_first_use_with_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "shop.db"
    db = connect(f"sqlite:///{path}")
    try:
        assert path.exists()
        assert TABLE_NAMES <= set(inspect(db.engine).get_table_names())
        assert {table.name for table in TABLES} == TABLE_NAMES
        assert db.is_empty()
        _customer(db)
    finally:
        db.dispose()
    again = connect(f"sqlite:///{path}")  # second use: schema exists, rows kept
    try:
        ensure_schema(again.engine)
        assert row_counts(again.engine)["customers"] == 1
        assert not again.is_empty()
    finally:
        again.dispose()


def test_default_url_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SHOPBOT_VAR_DIR", str(tmp_path / "var"))
    db = connect()
    try:
        assert (tmp_path / "var" / "shop.db").exists()
        assert db.url.endswith("shop.db")
    finally:
        db.dispose()


def test_row_counts_before_schema_exists(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    try:
        assert row_counts(engine) == {name: 0 for name in row_counts(engine)}
        assert set(row_counts(engine)) == TABLE_NAMES
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced_on_sqlite(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        with pytest.raises(IntegrityError):
            with db.engine.begin() as connection:
                connection.execute(insert(Order.__table__), [_order(customer_id="C4040")])
    finally:
        db.dispose()


def test_status_and_option_are_checked(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        _customer(db)
        for bad in ({"status": "lost"}, {"shipping_option": "teleport"}):
            with pytest.raises(IntegrityError):
                with db.engine.begin() as connection:
                    connection.execute(insert(Order.__table__), [_order(**bad)])
    finally:
        db.dispose()


def test_money_round_trips_as_decimal_without_warnings(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        _customer(db)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with db.engine.begin() as connection:
                connection.execute(insert(Order.__table__), [_order(total=Decimal("1234.567"))])
            with db.session() as session:
                order = session.get(Order, "SB-900001")
                assert order is not None
                assert order.total == Decimal("1234.57") and isinstance(order.total, Decimal)
                assert str(order.shipping_cost) == "4.95"
                assert order.placed_at == datetime(2026, 2, 1, 12, 0) and order.placed_at.tzinfo is None
            with db.engine.connect() as connection:
                assert connection.execute(select(Order.total)).scalar_one() == Decimal("1234.57")
    finally:
        db.dispose()


def test_shopdb_never_imports_rasa() -> None:
    for path in (PROJECT_ROOT / "knowledge" / "shopdb").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            assert not any(n.split(".")[0] in ("rasa", "rasa_sdk") for n in names), f"{path.name} imports {names}"


def test_importing_opens_no_database(tmp_path: Path) -> None:
    code = (
        "import knowledge.shopdb, knowledge.shopdb.generate, knowledge.shopdb.orders, knowledge.shopdb.support, "
        "bot.cli_shop; import sys; sys.exit(1 if 'rasa' in sys.modules else 0)"
    )
    env = {"SHOPBOT_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


SHOPDB_MODULES = ("engine", "models", "upgrades", "orders", "customers", "support", "behaviour", "handoff", "staff",
                  "generate")


@pytest.mark.parametrize("module", SHOPDB_MODULES)
def test_every_table_is_in_the_schema_whichever_module_is_imported_first(module: str, tmp_path: Path) -> None:
    """No table joins the schema as the side effect of an import: the engine alone creates every one of them."""
    script = (f"import sys, knowledge.shopdb.{module}\n"
              "from knowledge.shopdb.engine import connect\n"
              "from sqlalchemy import inspect\n"
              f"db = connect('sqlite:///{tmp_path / 'shop.db'}')\n"
              "print(' '.join(sorted(inspect(db.engine).get_table_names())))\n"
              "print(' '.join(sorted(m for m in sys.modules if m.startswith('knowledge.shopdb.'))))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=str(PROJECT_ROOT), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    tables, modules = result.stdout.splitlines()
    users = {"knowledge.shopdb.staff", "knowledge.shopdb.handoff", "knowledge.shopdb.behaviour"}
    if module in ("engine", "models", "upgrades"):  # the modules that use the tables are not needed to make them
        assert not users & set(modules.split())
    assert set(tables.split()) == TABLE_NAMES | {
        "behaviour_events", "agent_presence", "support_messages", "handoff_outbox",
        "staff", "staff_tokens", "staff_sessions", "kg_changes", "kg_write_lock",
    }

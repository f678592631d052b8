"""``shopbot kg add|remove|set|import|export|history|revert`` and ``shopbot staff ...``.

The main flow runs ``.venv/bin/shopbot`` as real processes; the many error cases run the same command
line in process (``bot.cli.main``), which is much faster. Both talk to the real Oxigraph test server (the
demo catalog is restored afterwards) and a temp SQLite file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli import main
from knowledge.products import get_product
from knowledge.settings import PROJECT_ROOT
from knowledge.shopdb import connect
from knowledge.shopdb.staff import add_staff
from knowledge.sparql import HttpSparqlClient
from tests.conftest import SparqlServer

SHOPBOT = PROJECT_ROOT / ".venv" / "bin" / "shopbot"
if not SHOPBOT.exists():
    SHOPBOT = Path(sys.executable).with_name("shopbot")


@pytest.fixture
def env(fresh_kg: HttpSparqlClient, sparql_server: SparqlServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment pointing shopbot at the test server and a temp database holding the editor alice."""
    values = {
        "SPARQL_QUERY_URL": sparql_server.query_url, "SPARQL_UPDATE_URL": sparql_server.update_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}", "SHOPBOT_VAR_DIR": str(tmp_path / "var"),
    }
    if sparql_server.client.auth:
        values["SPARQL_USER"], values["SPARQL_PASSWORD"] = sparql_server.client.auth
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SHOPBOT_STAFF_USER", raising=False)
    db = connect(values["DATABASE_URL"])
    add_staff(db, "alice", "alice-password", role="editor")
    db.dispose()
    return values


def shopbot(env: dict[str, str], *args: str, stdin: str = "", code: int = 0) -> str:
    """Run ``.venv/bin/shopbot ARGS`` as a process; its output."""
    full = {key: value for key, value in os.environ.items() if key != "SHOPBOT_STAFF_USER"}
    full.update(env)
    done = subprocess.run([str(SHOPBOT), *args], input=stdin, capture_output=True, text=True, env=full,
                          timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == code, f"shopbot {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


@pytest.fixture
def run(env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - a fixture returning the command runner
    """Run the shopbot command line in process; its output."""

    def call(*args: str, stdin: str = "", code: int = 0) -> str:
        import io

        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            status = main(list(args))
        except SystemExit as stop:
            status = stop.code
        output = "".join(capsys.readouterr())
        assert status == code, f"shopbot {' '.join(args)} exited {status}:\n{output}"
        return output

    return call


def change_id(output: str) -> str:
    found = re.search(r"change (\d+) by", output)
    assert found, output
    return found.group(1)


def test_set_price_then_revert(env: dict[str, str], fresh_kg: HttpSparqlClient) -> None:
    out = shopbot(env, "kg", "set", "P0001", "schema:price", "99.00", "--user", "alice")
    first = change_id(out)
    assert "- prod:P0001-offer schema:price 129.0" in out and "+ prod:P0001-offer schema:price 99.00" in out
    assert "1 triple added, 1 removed" in out
    assert get_product(fresh_kg, "P0001").price == Decimal("99.00")

    history = shopbot(env, "kg", "history", "--subject", "P0001")
    assert re.search(rf"^\s+{first} .* alice .*\+1 -1\s+set prod:P0001-offer schema:price to 99.00", history, re.M)

    out = shopbot({**env, "SHOPBOT_STAFF_USER": "alice"}, "kg", "revert", first)
    assert "+ prod:P0001-offer schema:price 129.0" in out and "- prod:P0001-offer schema:price 99.0" in out
    assert get_product(fresh_kg, "P0001").price == Decimal("129")


def test_history_shows_reverts(run, fresh_kg: HttpSparqlClient) -> None:
    first = change_id(run("kg", "set", "P0001", "shop:stockLevel", "7", "--user", "alice"))
    second = change_id(run("kg", "revert", first, "--user", "alice"))
    history = run("kg", "history", "-v")
    assert f"reverted by {second}" in history and f"reverts {first}" in history
    assert "- prod:P0001 shop:stockLevel 42" in history
    assert get_product(fresh_kg, "P0001").stock == 42


def test_refusals_exit_2_with_a_clear_message(run, fresh_kg: HttpSparqlClient) -> None:
    out = run("kg", "set", "P0001", "schema:price", "cheap", "--user", "alice", code=2)
    assert 'prod:P0001-offer schema:price: "cheap" is not a decimal' in out and "nothing was written" in out
    assert get_product(fresh_kg, "P0001").price == Decimal("129")
    assert "stock level" in run("kg", "set", "P0001", "shop:stockLevel", "-2", "--user", "alice", code=2)
    assert "--user NAME" in run("kg", "add", "P0001", "schema:color", "navy", code=2)
    assert "no staff account 'mallory'" in run("kg", "add", "P0001", "schema:color", "navy", "--user", "mallory",
                                              code=2)
    assert "unknown prefix 'foo:'" in run("kg", "add", "P0001", "foo:bar", "navy", "--user", "alice", code=2)
    assert "already there" in run("kg", "add", "P0001", "schema:color", "red", "--user", "alice", code=2)
    assert "no change 42" in run("kg", "revert", "42", "--user", "alice", code=2)
    assert "no product prod:P0999" in run("kg", "delete", "P0999", "--user", "alice", code=2)
    assert "holds nothing about prod:P0999" in run("kg", "show", "P0999", code=2)
    assert "already exists" in run("staff", "add", "alice", "--password-stdin", stdin="other-password\n", code=2)
    assert "at least 8" in run("staff", "add", "bob", "--password-stdin", stdin="short\n", code=2)
    assert "no changes" in run("kg", "history")


def test_add_remove_delete_import_export(run, fresh_kg: HttpSparqlClient, tmp_path: Path) -> None:
    assert '+ prod:P0001 schema:color "dark blue"' in run("kg", "add", "P0001", "schema:color", "dark blue",
                                                          "--user", "alice")
    assert '- prod:P0001 schema:color "black"' in run("kg", "remove", "P0001", "schema:color", '"black"',
                                                      "--user", "alice")
    assert set(get_product(fresh_kg, "P0001").colors) == {"dark blue", "red"}

    csv_file = tmp_path / "products.csv"
    csv_file.write_text("id,name,price,stock,brand,category,color\n"
                        "P0002,,150.00,3,,,\n"
                        "P0995,CLI Runner,20,5,stridewell,running-shoes,green|red\n", encoding="utf-8")
    out = run("kg", "import", str(csv_file), "--user", "alice")
    assert "products.csv: import 2 products (CSV: 1 new, 1 updated)" in out
    assert get_product(fresh_kg, "P0002").price == Decimal("150") and get_product(fresh_kg, "P0995").stock == 5

    ttl_file = tmp_path / "fix.ttl"
    ttl_file.write_text('prod:P0995 schema:name "CLI Runner 2" .\n', encoding="utf-8")
    assert '+ prod:P0995 schema:name "CLI Runner 2"' in run("kg", "import", str(ttl_file), "--user", "alice")
    assert "cannot tell the format" in run("kg", "import", str(tmp_path / "x.json"), "--user", "alice", code=2)
    assert "no such file" in run("kg", "import", str(tmp_path / "missing.csv"), "--user", "alice", code=2)

    show = run("kg", "show", "P0995")
    assert "version" in show and "prod:P0995-offer schema:price 20.0" in show

    export = tmp_path / "out" / "graph.ttl"
    assert "lines of Turtle" in run("kg", "export", str(export))
    text = export.read_text(encoding="utf-8")
    assert "@prefix prod: <https://shop.example/product/> ." in text and '"CLI Runner 2"' in text

    out = run("kg", "delete", "P0995", "--user", "alice")
    assert "delete product prod:P0995 CLI Runner 2" in out and get_product(fresh_kg, "P0995") is None


def test_staff_commands(run, env: dict[str, str]) -> None:
    assert "added staff account vera (viewer)" in run("staff", "add", "vera", "--role", "viewer", "--password-stdin",
                                                      stdin="vera-password\n")
    listing = run("staff", "list")
    assert re.search(r"^alice\s+editor\s+active", listing, re.M) and re.search(r"^vera\s+viewer", listing, re.M)
    assert "may not edit" in run("kg", "add", "P0001", "schema:color", "navy", "--user", "vera", code=2)
    token = run("staff", "token", "alice").strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    assert "no active staff account" in run("staff", "token", "nobody", code=2)
    assert "new password set" in run("staff", "password", "vera", "--password-stdin", stdin="vera-password-2\n")
    assert "vera is now disabled" in run("staff", "disable", "vera")
    assert re.search(r"^vera\s+viewer\s+disabled", run("staff", "list"), re.M)
    assert "no terminal" in run("staff", "add", "walt", code=2)  # stdin is no terminal: asks for --password-stdin


def test_every_command_has_help(run) -> None:
    for command in (["kg", "add"], ["kg", "remove"], ["kg", "set"], ["kg", "import"], ["kg", "export"],
                    ["kg", "history"], ["kg", "revert"], ["kg", "show"], ["kg", "delete"], ["staff", "add"],
                    ["staff", "list"], ["staff", "token"], ["staff", "password"]):
        assert "usage: shopbot" in run(*command, "--help")

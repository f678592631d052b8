"""Time from a staff edit of the knowledge graph to the assistant's first answer with the new fact.

Each round changes a product's price (and, in the second series, adds a new alternative name) through the
same editor the CLI and admin page use, then asks over the REST channel every 100 ms until the answer has
the new fact, then reverts. Uses a running assistant (`make run`) or a private one with --start; with
--catalog FILE the private one's store holds that catalog (loaded first with `shopbot kg load`), e.g. the
100,000-product one bench/kg.py caches: --start --catalog var/bench/kg/catalog-100000-20261129.nt
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import requests

from benchlib import assistant, conversation, percentile
from knowledge.editing import Editor, add, set_value
from knowledge.products import get_product
from knowledge.shopdb.engine import connect
from knowledge.shopdb.staff import add_staff, get_staff

BENCH_USER = "bench-editor"
POLL_SECONDS = 0.1


def ask(url: str, sender: str, text: str) -> str:
    """Everything the assistant answers to one message."""
    answer = requests.post(url, json={"sender": sender, "message": text}, timeout=30).json()
    return "\n".join(m.get("text", "") for m in answer)


def seconds_until_said(url: str, question: str, expected: str, settings, timeout: float = 30) -> float:  # noqa: ANN001 - a Settings; kept untyped like the other bench helpers
    """Seconds until the answer to ``question`` contains ``expected`` (a new conversation each time)."""
    started = time.monotonic()
    rasa_url = url.split("/webhooks/")[0]
    while expected not in ask(url, conversation(rasa_url, settings)[0], question):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{expected!r} not said within {timeout} s")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--rounds", type=int, default=10, help="edits per series (default: %(default)s)")
    parser.add_argument("--product", default="P0001", help="the product to edit (default: %(default)s)")
    parser.add_argument("--start", action="store_true", help="start a private assistant on free ports first")
    parser.add_argument("--catalog", type=Path, help="with --start: the catalog file its store holds (default: the demo)")
    args = parser.parse_args()
    with assistant(args.start, args.catalog) as settings:
        editor = Editor.from_settings(settings)
        db = connect(settings.database_url)
        if get_staff(db, BENCH_USER) is None:
            add_staff(db, BENCH_USER, "bench-password-not-for-people", "editor")
        url = f"http://127.0.0.1:{settings.rasa_port}/webhooks/rest/webhook"
        product = get_product(editor.kg, args.product)
        series: dict[str, list[float]] = {"new price": [], "new alternative name": []}
        for round_number in range(args.rounds):
            price = product.price + Decimal(round_number + 1)
            edit = editor.apply(set_value(editor.kg, args.product, "schema:price", str(price)), BENCH_USER)
            series["new price"].append(seconds_until_said(url, f"how much is the {product.name}?", f"{price:,.2f}", settings))
            editor.revert(edit.record.id, BENCH_USER)

            alias = f"benchmark runner {round_number + 1}"
            edit = editor.apply(add(args.product, "schema:alternateName", f'"{alias}"'), BENCH_USER)
            series["new alternative name"].append(
                seconds_until_said(url, f"how much is the {alias}?", f"{product.price:,.2f}", settings))
            editor.revert(edit.record.id, BENCH_USER)
            print(f"  round {round_number + 1}/{args.rounds}: price {series['new price'][-1]:.2f} s, "
                  f"name {series['new alternative name'][-1]:.2f} s", file=sys.stderr)
        editor.close()
        db.dispose()
    print(f"edit -> first answer with the new fact (KG_CACHE_SECONDS={settings.catalog_cache_seconds:g}, "
          f"polling every {POLL_SECONDS * 1000:.0f} ms):")
    for name, seconds in series.items():
        print(f"  {name:<22} n={len(seconds)} median={statistics.median(seconds):.2f} s "
              f"p95={percentile(seconds, 0.95):.2f} s max={max(seconds):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Seconds to generate the full demo shop database (SQLite), best and median of a few runs.

The generation's correctness is tested in tests/unit/test_shopdb_generate.py; its speed is measured here:
``python bench/shop_generation.py [--runs 3] [--url sqlite:///...]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from knowledge.demo_store import generate_products
from knowledge.shopdb.generate import generate_shop


def main() -> int:
    """Generate the demo shop ``--runs`` times into fresh files; print the seconds and the rows."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="how many generations to time")
    args = parser.parse_args()
    products = generate_products()
    seconds, counts = [], {}
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="shopbot-bench-") as folder:
            started = time.monotonic()
            counts = generate_shop(f"sqlite:///{Path(folder) / 'shop.db'}", products)
            seconds.append(time.monotonic() - started)
            print(f"run {run + 1}: {seconds[-1]:.2f} s")
    print(f"demo shop generation: best {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s; rows {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

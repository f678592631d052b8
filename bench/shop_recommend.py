"""Speed of the shop's recommender: median `recommend()` and a full in-stock pick for one demo customer.

Generates the demo shop into a temp folder, trains the hybrid on its interaction log and the demo
graph (in-process pyoxigraph), then times `recommend()` and `ShopRecommender.for_customer()`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from knowledge.demo_store import generate_products
from knowledge.recommend.shop import ShopRecommender, ensure_model
from knowledge.settings import get_settings
from knowledge.shopdb.engine import connect
from knowledge.shopdb.generate import generate_shop
from knowledge.sparql import OxigraphStoreClient


def timed(call, repeat: int) -> float:  # noqa: ANN001 - any callable
    """Median milliseconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customer", default="C0001", help="the customer to recommend for (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=200, help="timed calls (default: %(default)s)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    db = connect(f"sqlite:///{folder / 'shop.db'}")
    counts = generate_shop(db, generate_products(), today=date.today())
    kg = OxigraphStoreClient()
    kg.load_turtle(str(get_settings().catalog_file))
    started = time.perf_counter()
    engine = ShopRecommender.load(ensure_model(folder / "rec.npz", db, kg), kg, db)
    fit = time.perf_counter() - started
    print(f"demo shop: {counts['customers']} customers, {counts['interactions']} interactions; hybrid fit {fit:.2f} s")
    median = timed(lambda: engine.model.recommend(args.customer, n=10), args.repeat)
    print(f"recommend() for {args.customer}: median {median:.2f} ms")
    print(f"for_customer() incl. stock check in the graph: median "
          f"{timed(lambda: engine.for_customer(args.customer, n=3), max(1, args.repeat // 10)):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

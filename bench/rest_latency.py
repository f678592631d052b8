"""Per-message latency of graph-backed questions through the REST channel of a running assistant.

Start the assistant first (`make run`), or pass --start to run one on free ports for the benchmark.
Prints median, p95 and max over N price questions about products named as shoppers would.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

import requests

from benchlib import assistant, conversation, percentile
from knowledge.products import get_products
from knowledge.shop import Shop


def measure(rasa_url: str, shop: Shop, count: int, settings, seed: int = 7) -> list[float]:  # noqa: ANN001 - a Settings; kept untyped like the other bench helpers
    """Seconds per answered price question, for ``count`` questions about random products (in 20 conversations)."""
    rng = random.Random(seed)
    ids = [f"P{n:04d}" for n in range(1, 322)]
    products = get_products(shop.kg, ids)
    session = requests.Session()
    senders = [conversation(rasa_url, settings)[0] for _ in range(20)]
    latencies = []
    for index in range(count):
        product = rng.choice(products)
        message = {"sender": senders[index % 20], "message": f"how much is the {product.name}?"}
        started = time.perf_counter()
        response = session.post(f"{rasa_url}/webhooks/rest/webhook", json=message, timeout=30)
        latencies.append(time.perf_counter() - started)
        said = " ".join(m.get("text", "") for m in response.json())
        if f"{product.price:,.2f}" not in said:
            print(f"  warning: unexpected answer for {product.name!r}: {said[:120]!r}", file=sys.stderr)
    return latencies


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=200, help="questions to ask (default: %(default)s)")
    parser.add_argument("--start", action="store_true", help="start a private stack on free ports first")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured questions first (default: %(default)s)")
    args = parser.parse_args()

    with assistant(args.start) as settings:
        url = f"http://127.0.0.1:{settings.rasa_port}"
        try:
            requests.get(url, timeout=5)
        except requests.ConnectionError:
            print(f"no assistant at {url}: start it with `make run`, or pass --start", file=sys.stderr)
            return 2
        shop = Shop.from_settings(settings)
        measure(url, shop, args.warmup, settings, seed=1)
        latencies = measure(url, shop, args.count, settings)
    ms = [1000 * s for s in latencies]
    print(f"REST price questions: n={len(ms)} median={statistics.median(ms):.1f} ms "
          f"p95={percentile(ms, 0.95):.1f} ms max={max(ms):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

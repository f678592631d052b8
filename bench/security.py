"""What the security checks cost, and how fast hostile requests are turned away (figures, never pass/fail).

    .venv/bin/python bench/security.py --start      # a private stack on free ports
    .venv/bin/python bench/security.py              # the running assistant (`make run`)

Prints: shopper-token verification per message (in process), one scrypt hash at today's parameters, the
time to answer a 100 kB socket.io message, long price-like messages at the length cap over REST and socket.io,
and the staff SPARQL console on a cross product (cut at its row cap), a cross-product ORDER BY (stopped by
its memory cap) and a cross-product COUNT (stopped at its deadline).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import assistant, conversation
from bot.identity import Gate, issue_shopper_token
from knowledge.shopdb.engine import connect
from knowledge.shopdb.staff import add_staff, get_staff, hash_password, issue_token
from tests.security.shoppers import SocketShopper

PRICE_LIKE = {"digits": "1" * 4_990, "under": "under " + "9" * 4_990, "dollars": "$1 " * 1_660,
              "ranges": "between 1 and " + "1-" * 2_490}
CROSS = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def socket_answer_seconds(rasa_url: str, text: str) -> float:
    async def exchange() -> float:
        shopper = SocketShopper(rasa_url)
        await shopper.connect()
        try:
            await shopper.request_session()
            started = time.monotonic()
            await shopper.client.emit("user_uttered", {"message": text, "session_id": shopper.session_id})
            await shopper.next_event(120)
            return time.monotonic() - started
        finally:
            await shopper.close()

    return asyncio.run(exchange())


def main() -> int:
    """Run the measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", action="store_true", help="start a private stack on free ports first")
    parser.add_argument("-n", "--repeat", type=int, default=5, help="repetitions of each message (default: %(default)s)")
    args = parser.parse_args()

    with assistant(args.start) as settings:
        gate, token = Gate.from_settings(settings), issue_shopper_token("C0001", settings)
        sender = gate.new_conversation("C0001")
        started = time.perf_counter()
        for _ in range(2000):
            gate.admit(sender, token, {"customer_id": "C0002"})
        print(f"shopper token + conversation id check per message: {(time.perf_counter() - started) / 2000 * 1e6:.0f} µs")
        started = time.perf_counter()
        hash_password("a password of reasonable length")
        print(f"scrypt N=2^17 r=8 p=1, one hash (each staff sign-in): {ms(time.perf_counter() - started)}")

        rasa = f"http://127.0.0.1:{settings.rasa_port}"
        try:
            requests.get(rasa, timeout=5)
        except requests.ConnectionError:
            print(f"no assistant at {rasa}: start it with `make run`, or pass --start", file=sys.stderr)
            return 2
        big = [socket_answer_seconds(rasa, "1" * 100_000) for _ in range(args.repeat)]
        print(f"100 kB message over socket.io, answered 'too long': median {ms(statistics.median(big))}, "
              f"max {ms(max(big))} (n={len(big)})")
        for name, text in PRICE_LIKE.items():
            rest_times = []
            for _ in range(args.repeat):
                sender, headers = conversation(rasa, settings)
                begun = time.monotonic()
                requests.post(f"{rasa}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)
                rest_times.append(time.monotonic() - begun)
            socket_times = [socket_answer_seconds(rasa, text) for _ in range(args.repeat)]
            print(f"{len(text):,}-character price-like message ({name}): REST median {ms(statistics.median(rest_times))}"
                  f", socket.io median {ms(statistics.median(socket_times))} (first answer)")

        db = connect(settings.database_url)
        if get_staff(db, "bench-viewer") is None:
            add_staff(db, "bench-viewer", "bench-password-not-for-people", "viewer")
        headers = {"Authorization": f"Bearer {issue_token(db, 'bench-viewer')}"}
        db.dispose()
        web = f"http://127.0.0.1:{settings.web_port}/api/kg/sparql"
        for name, query in (("cross product", CROSS), ("cross product ORDER BY", CROSS + " ORDER BY ?c ?f ?i"),
                            ("cross product COUNT", "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"),
                            ("one product's name", 'SELECT ?n WHERE { ?p <https://schema.org/productID> "P0001" ; '
                                                   '<https://schema.org/name> ?n }')):
            begun = time.monotonic()
            answer = requests.post(web, data={"query": query}, headers=headers, timeout=300)
            detail = f"{len(answer.json().get('rows', []))} rows" if answer.status_code == 200 else answer.json()["error"]
            print(f"staff SPARQL, {name}: HTTP {answer.status_code} in {ms(time.monotonic() - begun)} ({detail[:70]})")
        print(f"(limits: {settings.staff_sparql_rows} rows, {settings.staff_sparql_bytes:,} bytes, "
              f"{settings.staff_sparql_seconds:g} s, {settings.staff_sparql_memory_mb} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

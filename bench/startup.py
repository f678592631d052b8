"""Wall time from `make run` to the first answer, with a trained model present; then Ctrl-C stops it all.

Runs `make run` as a shopper would, asks a price question until it is answered, prints the seconds,
sends SIGINT and checks that every process it started is gone.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import requests

from knowledge.settings import PROJECT_ROOT, get_settings


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    args = parser.parse_args()
    port = get_settings().rasa_port
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    started = time.monotonic()
    process = subprocess.Popen(["make", "run"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True, text=True)
    answer = ""
    try:
        while time.monotonic() - started < args.timeout:
            if process.poll() is not None:
                print(process.stdout.read(), file=sys.stderr)
                return 1
            try:
                sender = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/conversation", timeout=30).json()["sender"]
                reply = requests.post(url, json={"sender": sender, "message": "how much is the trailblazer 2?"},
                                      timeout=30).json()
                answer = " ".join(m.get("text", "") for m in reply)
                if "$" in answer:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        elapsed = time.monotonic() - started
        print(f"make run -> first answer: {elapsed:.1f} s ({answer[:60]!r})")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    leftovers = subprocess.run(["pgrep", "-f", "oxigraph serve|rasa_sdk --actions|rasa run --enable-api"],
                               capture_output=True, text=True).stdout.split()
    print(f"after Ctrl-C: make exited with {process.returncode}, {len(leftovers)} shopbot processes left")
    return 0 if not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())

"""Time from the shopper pressing Enter in the chat widget to the answer rendered, in a real browser.

Drives Debian's chromium with Playwright on the store page of a running assistant (`make run`), or of a
private one on free ports with --start. Prints the median, p95 and max over N product questions.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys

from benchlib import assistant, percentile
from knowledge.products import get_products
from knowledge.shop import Shop

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
QUESTIONS = ("how much is the {name}?", "is the {name} in stock?", "what colours does the {name} come in?")

# Sets window.answerTime: a promise of the milliseconds from the next Enter key in the message box to the
# next bot message rendered in the log (both taken in the page, so Playwright's own overhead is not counted).
ARM_TIMER = """() => {
  const log = document.querySelector('.sb-log');
  const input = document.querySelector('#sb-input');
  const before = log.querySelectorAll('.sb-bot').length;
  window.answerTime = new Promise((resolve) => {
    let started = null;
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') started = performance.now();
    }, {capture: true, once: true});
    const observer = new MutationObserver(() => {
      if (started !== null && log.querySelectorAll('.sb-bot').length > before) {
        observer.disconnect();
        requestAnimationFrame(() => resolve(performance.now() - started));
      }
    });
    observer.observe(log, {childList: true});
  });
}"""


def measure(store_url: str, questions: list[str]) -> list[float]:
    """Milliseconds from Enter to the rendered answer, per question."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 860}, bypass_csp=True)  # lets Playwright evaluate
        page.goto(store_url)
        page.click(".sb-launcher")
        page.wait_for_function("window.shopbotChat && window.shopbotChat.confirmed", timeout=60_000)
        timings = []
        for index, question in enumerate(questions, 1):
            page.fill("#sb-input", question)
            page.evaluate(ARM_TIMER)
            page.press("#sb-input", "Enter")
            timings.append(page.evaluate("window.answerTime"))
            page.wait_for_timeout(400)  # let the rest of a multi-part answer arrive before the next question
            print(f"  {index:3d}/{len(questions)} {timings[-1]:7.1f} ms  {question}", file=sys.stderr)
        browser.close()
    return timings


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=20, help="questions to time (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed questions first (default: %(default)s)")
    parser.add_argument("--start", action="store_true", help="start a private assistant on free ports first")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"no chromium at {CHROMIUM}: run `make browser` or set CHROMIUM_PATH", file=sys.stderr)
        return 2
    with assistant(args.start) as settings:
        products = get_products(Shop.from_settings(settings).kg, [f"P{n:04d}" for n in range(1, 322)])
        rng = random.Random(11)
        questions = [rng.choice(QUESTIONS).format(name=rng.choice(products).name)
                     for _ in range(args.warmup + args.count)]
        timings = measure(f"http://127.0.0.1:{settings.web_port}/", questions)[args.warmup:]
    print(f"widget Enter -> answer rendered: n={len(timings)} median={statistics.median(timings):.0f} ms "
          f"p95={percentile(timings, 0.95):.0f} ms max={max(timings):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

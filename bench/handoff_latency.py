"""Time from an agent pressing Send in the inbox to the reply's text in the shopper's widget, in a real browser.

Two browser contexts of Debian's chromium (Playwright): a shopper on the store page who asks for a person, and
an agent (a staff account of role ``agent`` made for the run) on that conversation's page in ``/admin/inbox``.
Each timed reply goes inbox → web app → the Rasa server's hand-over relay (tracker store, socket.io room) →
the widget. Both ends take ``Date.now()`` in their page (the same machine's clock), so Playwright's own overhead
is not counted. Prints the median, p95 and max over N replies.

The store must be open to hand over: the run takes the opening hours out of the graph and puts them back at
the end. ``--screenshots`` also writes the inbox and the widget of the run to ``docs/handoff-inbox.png`` and
``docs/handoff-widget.png``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
from pathlib import Path

from benchlib import assistant, percentile
from knowledge.settings import Settings
from knowledge.shop import Shop

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DOCS = Path(__file__).resolve().parent.parent / "docs"
STORE = "https://shop.example/ns#store"
HOURS = "https://schema.org/openingHoursSpecification"

# In the agent's page: window.sentAt becomes Date.now() when the reply form is submitted.
ARM_SEND = """() => {
  document.getElementById('reply').addEventListener('submit', () => { window.sentAt = Date.now(); },
                                                    {capture: true, once: true});
}"""
# In the shopper's page: window.shownAt resolves to Date.now() when a reply with this text is in the log.
ARM_SHOWN = """(text) => {
  const log = document.querySelector('.sb-log');
  window.shownAt = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const replies = log.querySelectorAll('.sb-agent .sb-bubble');
      if (replies.length && replies[replies.length - 1].textContent === text) {
        observer.disconnect();
        resolve(Date.now());
      }
    });
    observer.observe(log, {childList: true, subtree: true});
  });
}"""


def agent_account(settings: Settings) -> tuple[str, str]:
    """A fresh agent account for this run: (username, password)."""
    from knowledge.shopdb import connect
    from knowledge.shopdb.staff import add_staff

    username, password = f"bench-agent-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    db = connect(settings.database_url)
    try:
        add_staff(db, username, password, role="agent", display_name="Sam")
    finally:
        db.dispose()
    return username, password


def hand_over(agent, shopper, base: str, request: str) -> str:  # noqa: ANN001 - playwright Pages
    """The shopper asks a price, then for a person; the agent opens the conversation. Its hand-over id."""
    shopper.goto(base + "/")
    shopper.click(".sb-launcher")
    for question in ("how much is the trailblazer 2?", request):
        before = shopper.locator(".sb-bot").count()
        shopper.fill("#sb-input", question)
        shopper.press("#sb-input", "Enter")
        shopper.locator(".sb-bot").nth(before).wait_for()
    shopper.wait_for_selector(".sb-handoff:not([hidden])")
    agent.goto(base + "/admin/inbox")
    row = agent.locator("[data-queue='waiting'] tr[data-handoff]", has_text=request).last
    row.wait_for()
    handoff_id = row.get_attribute("data-handoff")
    agent.goto(f"{base}/admin/inbox/{handoff_id}")
    agent.wait_for_selector("#transcript li.line-shopper")
    return handoff_id


def scene(browser, agent, base: str) -> None:  # noqa: ANN001 - playwright Browser, Page
    """A short hand-over for the screenshots: docs/handoff-inbox.png and docs/handoff-widget.png."""
    shopper = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True).new_page()
    shopper.set_default_timeout(60_000)
    hand_over(agent, shopper, base, "can I talk to someone about sizes?")
    agent.fill("#reply-text", "Hi, I'm Sam from the shop. The Trailblazer 2 runs a little small: most people "
                              "take half a size up. Which size do you usually wear?")
    agent.press("#reply-text", "Enter")
    shopper.wait_for_selector(".sb-agent")
    shopper.fill("#sb-input", "Usually a 42. Is there a wide version?")
    shopper.press("#sb-input", "Enter")
    agent.wait_for_selector("#transcript li.line-shopper:has-text('wide version')")
    agent.wait_for_timeout(500)
    agent.screenshot(path=str(DOCS / "handoff-inbox.png"), full_page=True)
    shopper.screenshot(path=str(DOCS / "handoff-widget.png"))
    agent.click("#handback button")
    shopper.wait_for_selector(".sb-handoff[hidden]", state="attached")


def measure(base: str, username: str, password: str, count: int, warmup: int, screenshots: bool) -> list[float]:
    """Milliseconds from Send to the reply's text in the widget, per reply."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        agent = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
        shopper = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True).new_page()
        for page in (agent, shopper):
            page.set_default_timeout(60_000)
        agent.goto(base + "/admin/inbox")
        agent.fill('input[name="username"]', username)
        agent.fill('input[name="password"]', password)
        agent.click('button:has-text("Sign in")')
        agent.wait_for_url("**/admin/inbox")

        handoff_id = hand_over(agent, shopper, base, "i want to talk to a person")
        timings = []
        for index in range(warmup + count):
            text = f"Reply {index + 1} from our team ({secrets.token_hex(2)})."
            shopper.evaluate(ARM_SHOWN, text)
            agent.evaluate(ARM_SEND)
            agent.fill("#reply-text", text)
            agent.press("#reply-text", "Enter")
            shown = shopper.evaluate("window.shownAt")
            elapsed = shown - agent.evaluate("window.sentAt")
            if index >= warmup:
                timings.append(float(elapsed))
            print(f"  {index + 1:3d}/{warmup + count} {elapsed:7.1f} ms{'  (warm-up)' if index < warmup else ''}",
                  file=sys.stderr)
            agent.wait_for_selector(f"#transcript li.line-agent:has-text('{text}')")

        agent.click("#handback button")
        shopper.wait_for_selector(".sb-handoff[hidden]", state="attached")
        if screenshots:
            scene(browser, agent, base)
        browser.close()
    print(f"  (hand-over {handoff_id})", file=sys.stderr)
    return timings


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=20, help="replies to time (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed replies first (default: %(default)s)")
    parser.add_argument("--start", action="store_true", help="start a private assistant on free ports first")
    parser.add_argument("--screenshots", action="store_true", help="write docs/handoff-inbox.png and -widget.png")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"no chromium at {CHROMIUM}: run `make browser` or set CHROMIUM_PATH", file=sys.stderr)
        return 2
    with assistant(args.start) as settings:
        kg = Shop.from_settings(settings).kg
        hours = [row["h"] for row in kg.select(f"SELECT ?h WHERE {{ <{STORE}> <{HOURS}> ?h }}")]
        kg.update(f"DELETE WHERE {{ <{STORE}> <{HOURS}> ?h }}")  # a store without hours counts as open
        try:
            username, password = agent_account(settings)
            timings = measure(f"http://127.0.0.1:{settings.web_port}", username, password, args.count, args.warmup,
                              args.screenshots)
        finally:
            for node in hours:
                kg.update(f"INSERT DATA {{ <{STORE}> <{HOURS}> {node.n3()} }}")
    print(f"agent Send -> reply in the shopper's widget: n={len(timings)} median={statistics.median(timings):.0f} ms "
          f"p95={percentile(timings, 0.95):.0f} ms max={max(timings):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

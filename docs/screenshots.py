"""Take the README's screenshots of the store page with an open chat, at desktop and phone width.

Needs a running assistant (`make run`) and Debian's chromium. Writes docs/store-chat-desktop.png and
docs/store-chat-phone.png.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from knowledge.settings import get_settings

DOCS = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SIZES = {"desktop": ({"width": 1280, "height": 860}, False), "phone": ({"width": 390, "height": 844}, True)}


def screenshot(browser, url: str, name: str) -> Path:  # noqa: ANN001 - playwright Browser
    """One screenshot of the store page after a greeting and a price question."""
    viewport, phone = SIZES[name]
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.click(".sb-launcher")
    page.wait_for_function("window.shopbotChat && window.shopbotChat.confirmed")
    for question in ("hi", "how much is the trailblazer 2?"):
        before = page.locator(".sb-bot").count()
        page.fill("#sb-input", question)
        page.press("#sb-input", "Enter")
        page.wait_for_function(f"document.querySelectorAll('.sb-bot').length > {before}")
        page.wait_for_timeout(800)
    path = DOCS / f"store-chat-{name}.png"
    page.screenshot(path=str(path))
    context.close()
    return path


def main() -> int:
    """Take both screenshots."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=f"http://127.0.0.1:{get_settings().web_port}/", help="the store page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for name in SIZES:
            print(screenshot(browser, args.url, name))
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Segment-targeted campaigns against the running stack: staff create them on the admin page and with the CLI
(validated, audited, revertable), the widget's greeting shows one to its segment but not to the control
group, clicks are counted, and the campaign page shows the figures per segment with a chart."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from datetime import date, timedelta
from typing import Iterator

import pytest
import requests

from bot.stack import Stack
from bot.services import child_env
from bot.web.shopper import SIGNIN_COOKIE, signin_cookie
from knowledge.campaigns import create_campaign, delete_campaign, get_campaign, in_control, list_campaigns
from knowledge.editing import Editor
from knowledge.products import count_triples, get_products
from knowledge.segments import customer_segments
from knowledge.settings import PROJECT_ROOT
from knowledge.shop import Shop
from knowledge.shopdb import connect
from knowledge.shopdb.behaviour import events
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.staff import add_staff

pytestmark = [pytest.mark.stack, pytest.mark.slow]

PASSWORD = "correct horse battery staple"
TODAY = date.today()


@pytest.fixture(scope="module")
def db(stack: Stack) -> Iterator[ShopDB]:
    shop = connect(stack.settings.database_url)
    for name, role in (("cara", "editor"), ("vince", "viewer")):
        add_staff(shop, name, PASSWORD, role)
    yield shop
    shop.dispose()


@pytest.fixture(autouse=True)
def no_campaigns_left(stack: Stack, db: ShopDB) -> Iterator[None]:
    """Other tests share the stack: every campaign made here is deleted afterwards."""
    yield
    editor = Editor(Shop.from_settings(stack.settings).kg, db)
    for campaign in list_campaigns(editor.kg):
        editor.apply(delete_campaign(editor.kg, campaign.id), "cara")


def base(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.web_port}"


def signed_in(stack: Stack, username: str) -> requests.Session:
    """An admin page session, signed in like a browser, with the page's CSRF token as ``session.csrf``."""
    session = requests.Session()
    form = session.get(base(stack) + "/admin/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    page = session.post(base(stack) + "/admin/login", timeout=30,
                        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/admin/"})
    assert page.status_code == 200, page.text
    session.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[attr-defined]
    return session


def shopbot(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=str(PROJECT_ROOT), env=child_env(stack.settings.service_env()))


#: Two products in stock in the demo store (the campaign shows only those in stock).
OFFERED = ("P0002", "P0004")


def fields(segment: str, **extra: str) -> dict[str, str]:
    return {"id": "autumn-offer", "name": "Autumn offer", "segment": segment, "message": "Autumn offer: 20% off these",
            "products": ", ".join(OFFERED), "start": str(TODAY - timedelta(days=1)), "end": str(TODAY + timedelta(days=14)),
            "holdout": "0.5", **extra}


def test_staff_create_a_campaign_on_the_admin_page_refusals_write_nothing(stack: Stack, db: ShopDB) -> None:
    segment = customer_segments(db)["C0001"]
    kg = Shop.from_settings(stack.settings).kg
    editor = signed_in(stack, "cara")
    listing = editor.get(base(stack) + "/admin/campaigns", timeout=30)
    assert listing.status_code == 200 and html.escape(segment) in listing.text  # the stored segments are offered
    before = count_triples(kg)
    bad_date = editor.post(base(stack) + "/admin/campaigns", timeout=30,
                           data={**fields(segment, end="next week"), "csrf_token": editor.csrf})
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.text
    unknown = editor.post(base(stack) + "/admin/campaigns", timeout=30,
                          data={**fields(segment, products="P0002, P9999"), "csrf_token": editor.csrf})
    assert unknown.status_code == 422 and "prod:P9999" in unknown.text and "Nothing was written" in unknown.text
    too_big = editor.post(base(stack) + "/admin/campaigns", timeout=30,
                          data={**fields(segment, holdout="0.95"), "csrf_token": editor.csrf})
    assert too_big.status_code == 422 and "holdoutShare" in too_big.text
    assert count_triples(kg) == before

    viewer = signed_in(stack, "vince")
    refused = viewer.post(base(stack) + "/admin/campaigns", timeout=30, allow_redirects=False,
                          data={**fields(segment), "csrf_token": viewer.csrf})
    assert refused.status_code == 403 and get_campaign(kg, "autumn-offer") is None
    anonymous = requests.post(base(stack) + "/admin/campaigns", data=fields(segment), timeout=30, allow_redirects=False)
    assert anonymous.status_code == 401

    created = editor.post(base(stack) + "/admin/campaigns", timeout=30,
                          data={**fields(segment), "csrf_token": editor.csrf})
    assert created.status_code == 200 and "Saved as change" in created.text
    campaign = get_campaign(kg, "autumn-offer")
    assert campaign is not None and campaign.segment == segment and campaign.products == OFFERED
    assert "Clicks and purchases per segment" in created.text and 'src="data:image/png;base64,' in created.text
    for arm in ("shown", "control (hold-out)", "not targeted"):
        assert arm in created.text

    edited = editor.post(base(stack) + "/admin/campaigns/autumn-offer", timeout=30, data={
        **{k: v for k, v in fields(segment, message="Autumn offer: 25% off").items() if k != "id"},
        **{f"was_{k}": v for k, v in fields(segment).items() if k != "id"}, "csrf_token": editor.csrf})
    assert edited.status_code == 200 and "25% off" in edited.text
    assert get_campaign(kg, "autumn-offer").message == "Autumn offer: 25% off"


def test_the_cli_adds_shows_changes_and_reverts_a_campaign(stack: Stack, db: ShopDB) -> None:
    segment = customer_segments(db)["C0001"]
    kg = Shop.from_settings(stack.settings).kg
    f = fields(segment)
    added = shopbot(stack, "campaign", "add", "autumn-offer", "--name", f["name"], "--segment", segment,
                    "--message", f["message"], "--products", f["products"], "--start", f["start"], "--end", f["end"],
                    "--user", "cara")
    assert added.returncode == 0, added.stdout + added.stderr
    backwards = shopbot(stack, "campaign", "set", "autumn-offer", "--start", f["end"], "--end", f["start"], "--user", "cara")
    assert backwards.returncode == 2 and "starts" in backwards.stdout and "after it ends" in backwards.stdout
    changed = shopbot(stack, "campaign", "set", "autumn-offer", "--holdout", "0.2", "--user", "cara")
    assert changed.returncode == 0, changed.stdout
    change_id = re.search(r"change (\d+) by cara", changed.stdout).group(1)
    assert float(get_campaign(kg, "autumn-offer").holdout) == 0.2
    shown = shopbot(stack, "campaign", "show", "autumn-offer")
    assert shown.returncode == 0 and "20% held out" in shown.stdout and "not targeted" in shown.stdout
    history = shopbot(stack, "kg", "history", "--subject", "campaign:autumn-offer").stdout
    assert "update campaign autumn-offer: holdout" in history and "create campaign autumn-offer" in history
    assert shopbot(stack, "kg", "revert", change_id, "--user", "cara").returncode == 0
    assert get_campaign(kg, "autumn-offer").holdout is None  # back to the default share
    assert "autumn-offer" in shopbot(stack, "campaign", "list").stdout


def greeting(stack: Stack, customer: str, session: str) -> dict:
    """The greeting the store page gives a shopper signed in as ``customer`` (no one: a guest)."""
    cookies = {SIGNIN_COOKIE: signin_cookie(customer, stack.settings)} if customer else {}
    reply = requests.get(base(stack) + "/shopper/greeting", params={"session": session}, cookies=cookies, timeout=30)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    return reply.json()


def test_the_greeting_offers_the_campaign_to_its_segment_but_not_to_the_control_group(stack: Stack, db: ShopDB) -> None:
    stored = customer_segments(db)
    segment = stored["C0001"]
    members = sorted(c for c, s in stored.items() if s == segment)
    shown = next(c for c in members if not in_control("autumn-offer", c, 0.5))
    held = next(c for c in members if in_control("autumn-offer", c, 0.5))
    outsider = next(c for c, s in sorted(stored.items()) if s != segment)
    Editor(Shop.from_settings(stack.settings).kg, db).apply(create_campaign(fields(segment)), "cara")

    kg = Shop.from_settings(stack.settings).kg
    assert all(p.in_stock for p in get_products(kg, list(OFFERED)))
    offer = greeting(stack, shown, "greet-1")["campaign"]
    assert offer["message"] == "Autumn offer: 20% off these" and [c["id"] for c in offer["cards"]] == list(OFFERED)
    assert all('"campaign": "autumn-offer"' in b["payload"] for c in offer["cards"] for b in c["buttons"]
               if b["title"] == "Tell me more")
    assert greeting(stack, held, "greet-2") == {"campaign": None}
    assert greeting(stack, outsider, "greet-3") == {"campaign": None}
    assert greeting(stack, "", "greet-4") == {"campaign": None}
    again = greeting(stack, shown, "greet-1")["campaign"]  # the same conversation: shown again, logged once
    assert again is not None and [c["id"] for c in again["cards"]] == list(OFFERED)
    logged = [(e["kind"], e["customer_id"], e["session_id"], e["source"]) for e in events(db, campaign_id="autumn-offer")]
    assert logged.count(("campaign_shown", shown, "greet-1", "store")) == 2  # one row per product shown
    assert ("campaign_held_out", held, "greet-2", "store") in logged
    assert not [row for row in logged if row[1] == outsider]


@pytest.mark.browser
def test_the_widget_greets_a_signed_in_shopper_with_their_segments_campaign(stack: Stack, db: ShopDB, browser) -> None:
    segment = customer_segments(db)["C0001"]
    Editor(Shop.from_settings(stack.settings).kg, db).apply(create_campaign(fields(segment, holdout="0")), "cara")
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # under the page's CSP
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(base(stack) + "/")
        page.select_option("#customer-picker", "C0001")
        page.click(".sb-launcher")
        offer = page.locator(".sb-offer")
        offer.wait_for()
        assert "Autumn offer: 20% off these" in offer.inner_text()
        assert offer.locator(".sb-card").count() == 2
        answers = page.locator(".sb-bot").count()
        offer.locator('.sb-card[data-product-id="P0002"] .sb-button', has_text="Tell me more").click()
        page.locator(".sb-bot").nth(answers).wait_for()  # the answer about the product
        page.reload()  # the greeting is part of the kept transcript and is not offered twice
        page.locator(".sb-offer").first.wait_for()
        page.wait_for_timeout(1500)
        assert page.locator(".sb-offer").count() == 1
        assert not errors, errors
    finally:
        context.close()
    kinds = [(e["kind"], e["customer_id"], e["product_id"]) for e in events(db, campaign_id="autumn-offer")]
    assert ("campaign_shown", "C0001", "P0002") in kinds and ("campaign_click", "C0001", "P0002") in kinds

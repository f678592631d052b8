"""The hand-over to a person, end to end: a shopper's widget and an agent's inbox in two browser contexts.

Real parts only: the Rasa server with the trained model, the action server, Oxigraph, the web app and its SQL
database, Debian's chromium. The store's opening hours are taken out of the graph for this module (a store
without hours counts as open), so the test does not depend on the clock; the out-of-hours path is in
``tests/conversations/handoff.yml``.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
import requests

from actions.render import money
from bot.stack import Stack
from bot.handoff.webhook import HEADER, verify
from bot.services import free_port, web_service
from knowledge.products import get_product
from knowledge.shop import Shop
from knowledge.shopdb import connect
from knowledge.shopdb import handoff as handoffs
from knowledge.shopdb.staff import add_staff, issue_token, open_session
from tests.integration.rest import chat

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.browser]

PASSWORD = "correct horse battery staple"
AGENT, AGENT_NAME = "agnes", "Agnes"
ANSWER_TIMEOUT_MS = 60_000
LIVE_WITHIN_MS = 2_000  # the issue's promise: a hand-over shows in the inbox within 2 s
QUIET_MS = 4_000  # how long the assistant must stay silent after a shopper's message to a person
STORE = "https://shop.example/ns#store"
HOURS = "https://schema.org/openingHoursSpecification"


@pytest.fixture(scope="module")
def always_open(stack: Stack, shop: Shop) -> Iterator[None]:
    """The store without opening hours for this module (then only whether an agent is on duty decides)."""
    hours = [row["h"] for row in shop.kg.select(f"SELECT ?h WHERE {{ <{STORE}> <{HOURS}> ?h }}")]
    shop.kg.update(f"DELETE WHERE {{ <{STORE}> <{HOURS}> ?h }}")
    try:
        yield
    finally:
        for node in hours:
            shop.kg.update(f"INSERT DATA {{ <{STORE}> <{HOURS}> {node.n3()} }}")


@pytest.fixture(scope="module")
def agent_token(stack: Stack) -> str:
    """An agent account (shown to shoppers as Agnes) and an API token for it."""
    db = connect(stack.settings.database_url)
    try:
        add_staff(db, AGENT, PASSWORD, role="agent", display_name=AGENT_NAME)
        add_staff(db, "vera", PASSWORD, role="viewer")
        return issue_token(db, AGENT)
    finally:
        db.dispose()


def base(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.web_port}"


def sign_in(page, stack: Stack, path: str) -> None:  # playwright Page
    page.goto(base(stack) + path)
    page.fill('input[name="username"]', AGENT)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Sign in")')
    page.wait_for_url("**" + path)


def say(page, text: str) -> None:
    page.fill("#sb-input", text)
    page.press("#sb-input", "Enter")


def assistant_answers(page):  # noqa: ANN201 - playwright Locator
    """The assistant's own messages in the widget (not a person's)."""
    return page.locator(".sb-bot:not(.sb-agent)")


def restart_rasa(stack: Stack) -> None:
    rasa = next(s for s in stack.services if s.name == "rasa server")
    rasa.stop()
    rasa.start()
    rasa.wait_ready(300)


def test_a_shopper_is_handed_to_a_person_and_back(stack: Stack, shop: Shop, always_open, agent_token, browser) -> None:
    agent_context = browser.new_context(viewport={"width": 1280, "height": 900})
    shopper_context = browser.new_context(viewport={"width": 1280, "height": 860})
    errors: list[str] = []
    agent, shopper = agent_context.new_page(), shopper_context.new_page()
    for page in (agent, shopper):
        page.set_default_timeout(ANSWER_TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        # The agent signs in and keeps the inbox open: that puts them on duty.
        sign_in(agent, stack, "/admin/inbox")
        agent.wait_for_selector("#queues .on-duty strong:has-text('agnes')")

        # The shopper asks about a product, then for a person.
        shopper.goto(base(stack) + "/")
        shopper.click(".sb-launcher")
        say(shopper, "how much is the trailblazer 2?")
        shopper.wait_for_selector('.sb-card[data-product-id="P0001"]')
        say(shopper, "i want to talk to a human")
        shopper.wait_for_selector(".sb-bot:has-text('passing our conversation to a person')")
        assert "Waiting for a person" in shopper.locator(".sb-handoff").inner_text()

        # Within 2 s the inbox lists it, without a reload, with the question that led there.
        row = agent.locator("[data-queue='waiting'] tr[data-handoff]")
        row.first.wait_for(timeout=LIVE_WITHIN_MS)
        handoff_id = row.first.get_attribute("data-handoff")
        assert "i want to talk to a human" in row.first.inner_text()
        agent.click(f"a[href='/admin/inbox/{handoff_id}']")
        agent.wait_for_selector("#transcript li.line-shopper:has-text('how much is the trailblazer 2?')")
        trailblazer = get_product(shop.kg, "P0001")
        card = agent.locator("#transcript .products li").first
        assert trailblazer.name in card.inner_text() and money(trailblazer.price, trailblazer.currency) in card.inner_text()

        # The agent's reply shows in the shopper's widget under the agent's name.
        assistant_count = assistant_answers(shopper).count()
        agent.fill("#reply-text", "Hello, this is Agnes. How can I help with the Trailblazer?")
        agent.click("#reply button[type='submit']")
        reply = shopper.locator(".sb-agent").last
        reply.wait_for(timeout=5_000)
        assert "Hello, this is Agnes" in reply.inner_text() and AGENT_NAME in reply.inner_text()
        assert "chatting with Agnes" in shopper.locator(".sb-handoff").inner_text()
        agent.wait_for_selector("h1 .state[data-state='open']")  # answering took the conversation
        assert agent.locator("#take").is_hidden()

        # The shopper's answer shows on the agent's page live; the assistant says nothing.
        say(shopper, "does it come in a wider fit?")
        agent.wait_for_selector("#transcript li.line-shopper:has-text('does it come in a wider fit?')", timeout=5_000)
        shopper.wait_for_timeout(QUIET_MS)
        assert assistant_answers(shopper).count() == assistant_count

        # The Rasa server restarts: the conversation is still with the person, and the reply survives a reload.
        restart_rasa(stack)
        shopper.reload()
        shopper.wait_for_selector(".sb-agent:has-text('Hello, this is Agnes')")
        say(shopper, "how much is the trailblazer 2?")
        agent.locator("#transcript li.line-shopper", has_text="how much is the trailblazer 2?").nth(1).wait_for(
            timeout=30_000)  # the socket reconnects after the restart first
        shopper.wait_for_timeout(QUIET_MS)
        assert assistant_answers(shopper).count() == assistant_count
        assert handoffs.get_handoff(connect(stack.settings.database_url), handoff_id).state == "open"

        # "Hand back": the shopper is told, and the assistant answers again from the graph.
        agent.click("#handback button")
        shopper.wait_for_selector(".sb-bot:has-text(\"You're back with the shop assistant\")", timeout=5_000)
        assert shopper.locator(".sb-handoff").is_hidden()
        agent.wait_for_selector("h1 .state[data-state='closed']")
        assert agent.locator("#reply").is_hidden() and agent.locator("#handback").is_hidden()
        other = get_product(shop.kg, "P0002")
        say(shopper, f"how much is the {other.name}?")
        shopper.wait_for_selector('.sb-card[data-product-id="P0002"]')
        price = shopper.locator('.sb-card[data-product-id="P0002"] .sb-card-price').last.inner_text()
        assert price == money(other.price, other.currency)

        # The containment page counts the hand-over and the wait for Agnes's first answer.
        agent.goto(base(stack) + "/admin/containment?days=7")
        assert int(agent.locator("[data-figure='handed_over']").inner_text().split()[0]) >= 1
        assert re.fullmatch(r"\d+ s \(\d+ answered\)", agent.locator("[data-figure='median_wait']").inner_text())
        assert agent.locator("figure img").get_attribute("src").startswith("data:image/")
    finally:
        agent_context.close()
        shopper_context.close()
    assert not errors, f"errors in the pages: {errors}"


CLOSED_ALL_WEEK = """
    <https://shop.example/ns#store> <https://schema.org/openingHoursSpecification> <https://shop.example/policy/test-closed> .
    <https://shop.example/policy/test-closed> a <https://schema.org/OpeningHoursSpecification> ;
        <https://schema.org/dayOfWeek> <https://schema.org/Monday>, <https://schema.org/Tuesday>,
            <https://schema.org/Wednesday>, <https://schema.org/Thursday>, <https://schema.org/Friday>,
            <https://schema.org/Saturday>, <https://schema.org/Sunday> ;
        <https://schema.org/opens> "00:00:00"^^<http://www.w3.org/2001/XMLSchema#time> ;
        <https://schema.org/closes> "00:00:00"^^<http://www.w3.org/2001/XMLSchema#time> .
"""


def test_out_of_hours_a_message_is_left_and_waits_in_the_inbox(stack: Stack, shop: Shop, always_open, agent_token) -> None:
    shop.kg.update(f"INSERT DATA {{ {CLOSED_ALL_WEEK} }}")  # opens = closes: closed every day, agents or not
    try:
        shopper = chat(stack, "left-message")
        offer = shopper.text("can I speak to someone from your team?")
        assert "outside our opening hours" in offer and "What would you like to tell our team?" in offer
        shopper.text("my parcel never arrived, please write to me")
        stored = shopper.text("it's kim.lee@example.com")
        reference = re.search(r"reference (MS-[0-9A-F]+)", stored).group(1)
    finally:
        shop.kg.update(f"DELETE DATA {{ {CLOSED_ALL_WEEK} }}")
    db = connect(stack.settings.database_url)
    try:
        session = open_session(db, AGENT)
    finally:
        db.dispose()
    inbox = requests.get(base(stack) + "/admin/inbox", cookies={"shopbot_staff": session.cookie}, timeout=30)
    assert inbox.status_code == 200
    row = re.search(rf'<tr data-message="{reference}">.*?</tr>', inbox.text, re.S).group(0)
    assert "kim.lee@example.com" in row and "my parcel never arrived, please write to me" in row


def test_the_helpdesk_api_refuses_bad_tokens_and_other_roles(stack: Stack, agent_token: str) -> None:
    url = base(stack) + "/api/handoff"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=30).status_code == 401
    bad = requests.post(url + "/HO-000000000000/reply", json={"text": "hi"},
                        headers={"Authorization": "Bearer forged"}, timeout=30)
    assert bad.status_code == 401
    db = connect(stack.settings.database_url)
    try:
        viewer = issue_token(db, "vera")
    finally:
        db.dispose()
    refused = requests.post(url + "/HO-000000000000/reply", json={"text": "hi"},
                            headers={"Authorization": f"Bearer {viewer}"}, timeout=30)
    assert refused.status_code == 403
    unknown = requests.post(url + "/HO-000000000000/reply", json={"text": "hi"},
                            headers={"Authorization": f"Bearer {agent_token}"}, timeout=30)
    assert unknown.status_code == 404
    assert re.search("no hand-over", unknown.json()["error"])


def test_the_relay_on_the_rasa_server_needs_its_token(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.settings.rasa_port}/internal/handoff/someone/message"
    assert requests.post(url, json={"text": "hi"}, timeout=30).status_code == 401
    assert requests.post(url, json={"text": "hi"}, headers={"Authorization": "Bearer wrong"},
                         timeout=30).status_code == 401


class Helpdesk:
    """A helpdesk's webhook receiver on this machine: every delivery with its headers, in a queue."""

    def __init__(self) -> None:
        self.received: queue.Queue = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/shopbot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, kind: str, timeout: float = 30) -> tuple[dict[str, str], bytes]:
        """The next delivery of this kind (earlier deliveries of other kinds are skipped)."""
        while True:
            headers, body = self.received.get(timeout=timeout)
            if headers.get("X-Shopbot-Event") == kind:
                return headers, body


@pytest.fixture(scope="module")
def helpdesk(stack: Stack) -> Iterator[tuple[Helpdesk, str, str]]:
    """A second web app on the stack's database and Rasa server, with the helpdesk webhook configured."""
    desk = Helpdesk()
    secret = "a webhook secret for the tests"
    settings = dataclasses.replace(stack.settings, web_port=free_port(), handoff_webhook_url=desk.url,
                                   handoff_webhook_secret=secret)
    env = {**settings.service_env(), **settings.secret_env("shopper-token", "handoff-relay", "handoff-webhook")}
    web = web_service(settings.web_port, settings.var_dir / "logs" / "helpdesk-web", env)
    web.start()
    try:
        web.wait_ready(60)
        yield desk, f"http://127.0.0.1:{settings.web_port}", secret
    finally:
        web.stop()
        desk.server.shutdown()


def test_a_helpdesk_hears_of_a_hand_over_signed_and_answers_through_the_api(
    stack: Stack, shop: Shop, always_open, agent_token: str, helpdesk
) -> None:
    desk, web, secret = helpdesk
    auth = {"Authorization": f"Bearer {agent_token}"}
    assert requests.post(web + "/api/handoff/presence", headers=auth, timeout=30).json()["on_duty"]
    shopper = chat(stack, "helpdesk")
    shopper.text("how much is the trailblazer 2?")
    assert "passing our conversation to a person" in shopper.text("can I talk to a person please")

    headers, body = desk.next("handoff.created")
    assert verify(body, headers[HEADER], secret)
    assert not verify(body + b" ", headers[HEADER], secret) and not verify(body, headers[HEADER], "another secret")
    created = json.loads(body)
    handoff_id = created["handoff"]["id"]
    assert created["handoff"]["conversation_id"] == shopper.sender
    assert any("trailblazer 2" in line["text"] for line in created["transcript"] if line["who"] == "shopper")
    assert created["links"]["reply"].endswith(f"/api/handoff/{handoff_id}/reply")

    assert shopper.say("hello? anyone there?") == []  # the assistant stays silent
    headers, body = desk.next("handoff.message")
    assert verify(body, headers[HEADER], secret)
    assert json.loads(body)["message"]["text"] == "hello? anyone there?"

    sent = requests.post(f"{web}/api/handoff/{handoff_id}/reply", json={"text": "Hi, Ola here.", "agent_name": "Ola"},
                         headers=auth, timeout=30)
    assert sent.status_code == 200 and sent.json()["handoff"]["state"] == "open"
    shown = requests.get(f"{web}/api/handoff/{handoff_id}", headers=auth, timeout=30).json()
    assert {"who": "agent", "name": "Ola", "text": "Hi, Ola here."}.items() <= shown["transcript"][-1].items()

    back = requests.post(f"{web}/api/handoff/{handoff_id}/handback", json={}, headers=auth, timeout=30)
    assert back.status_code == 200 and back.json()["handoff"]["state"] == "closed"
    headers, body = desk.next("handoff.handed_back")
    assert verify(body, headers[HEADER], secret)
    trailblazer = get_product(shop.kg, "P0001")
    answer = shopper.text("how much is the trailblazer 2?")  # the assistant answers again, from the graph
    assert money(trailblazer.price, trailblazer.currency) in answer
    again = requests.post(f"{web}/api/handoff/{handoff_id}/reply", json={"text": "too late"}, headers=auth, timeout=30)
    assert again.status_code == 409

"""A Rasa replica dies mid-conversation: the widget reconnects through nginx to another replica and the
conversation goes on with its history. It kills a replica, so it runs last in this folder."""

from __future__ import annotations

import pytest

from bot.cluster import Cluster
from tests.cluster.conftest import listed_names
from tests.cluster.test_socketio import replica_of

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.browser]

ANSWER_TIMEOUT_MS = 60_000


def ask(page, text: str) -> str:
    """Type a message into the chat and wait for the next answer; the answer's text."""
    answers = page.locator(".sb-bot").count()
    page.fill("#sb-input", text)
    page.press("#sb-input", "Enter")
    page.wait_for_function(f"document.querySelectorAll('.sb-bot').length > {answers}")
    page.wait_for_timeout(500)  # the rest of a multi-part answer
    return "\n".join(page.locator(".sb-bot").nth(index).inner_text()
                     for index in range(answers, page.locator(".sb-bot").count()))


def test_the_widget_reconnects_to_another_replica_and_the_conversation_goes_on(browser, cluster: Cluster) -> None:
    route = next(f"shopper-{number}" for number in range(50) if replica_of(cluster, f"shopper-{number}") == 0)
    store = f"http://localhost:{cluster.public_port}/"
    context = browser.new_context(bypass_csp=True)
    context.add_cookies([{"name": "shopbot_route", "value": route, "url": store}])
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(store)
        page.click(".sb-launcher")
        page.wait_for_function("window.shopbotChat && window.shopbotChat.confirmed")
        conversation = page.evaluate("window.shopbotChat.state.sessionId")
        shown = listed_names(ask(page, "show me running shoes"))
        assert len(shown) >= 2, shown

        cluster.kill_replica(0)  # the replica holding the widget's socket
        page.wait_for_function("!window.shopbotChat.confirmed || !window.shopbotChat.socket.connected")
        page.wait_for_function("window.shopbotChat.confirmed && window.shopbotChat.socket.connected",
                               timeout=ANSWER_TIMEOUT_MS)
        assert page.evaluate("window.shopbotChat.state.sessionId") == conversation

        answer = ask(page, "tell me more about the second one")
        assert shown[1] in answer, answer
        history = page.locator(".sb-log").inner_text()
        assert "show me running shoes" in history and shown[0] in history
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"

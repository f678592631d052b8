"""The store page and its chat widget in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import re
from typing import Iterator

import pytest
import requests

from actions.render import money
from bot.stack import Stack
from knowledge.products import get_product
from knowledge.settings import PROJECT_ROOT
from knowledge.shop import Shop

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.browser]

OUTPUT = PROJECT_ROOT / "test-output"
ANSWER_TIMEOUT_MS = 60_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture
def page(browser, stack: Stack) -> Iterator:  # playwright Browser
    """A fresh browser profile (empty localStorage) on the store page at desktop width.

    The page's Content-Security-Policy forbids eval, which Playwright's wait_for_function needs, so these
    contexts bypass it; test_widget_works_under_the_content_security_policy runs without the bypass.
    """
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(store_url(stack))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def store_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.web_port}/"


def ask(page, text: str) -> None:  # playwright Page
    """Type a message into the open chat, press Enter, and wait for the next answer."""
    answers = page.locator(".sb-bot").count()
    page.fill("#sb-input", text)
    page.press("#sb-input", "Enter")
    page.wait_for_function(f"document.querySelectorAll('.sb-bot').length > {answers}")
    page.wait_for_timeout(300)  # the rest of a multi-part answer


def open_chat(page) -> None:
    page.click(".sb-launcher")
    page.wait_for_function("window.shopbotChat && window.shopbotChat.confirmed")


def test_store_page_lists_products_with_the_graphs_prices(stack: Stack, shop: Shop) -> None:
    html = requests.get(store_url(stack), timeout=30)
    assert html.status_code == 200
    assert "default-src 'self'" in html.headers["Content-Security-Policy"]
    product = get_product(shop.kg, "P0001")
    assert product.name in html.text and money(product.price, product.currency) in html.text
    assert requests.get(store_url(stack) + "static/products/P0001.svg", timeout=30).status_code == 200
    assert requests.get(store_url(stack) + "?page=not-a-number", timeout=30).status_code == 200
    assert requests.get(store_url(stack) + "no/such/page", timeout=30).status_code == 404


def test_widget_works_under_the_content_security_policy(browser, stack: Stack) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    page.goto(store_url(stack))
    page.click(".sb-launcher")
    page.fill("#sb-input", "how much is the trailblazer 2?")
    page.press("#sb-input", "Enter")
    page.wait_for_selector('.sb-card[data-product-id="P0001"]', timeout=ANSWER_TIMEOUT_MS)
    context.close()
    assert not violations


def test_price_question_shows_a_card_with_the_graphs_price(page, shop: Shop) -> None:
    product = get_product(shop.kg, "P0001")
    open_chat(page)
    ask(page, "how much is the trailblazer 2?")
    card = page.locator('.sb-card[data-product-id="P0001"]').last
    assert card.locator(".sb-card-price").inner_text() == money(product.price, product.currency)
    assert money(product.price, product.currency) in page.locator(".sb-bot .sb-bubble").last.inner_text()
    assert card.locator("img").get_attribute("src").endswith("/static/products/P0001.svg")


def test_tell_me_more_answers_about_that_product_and_history_survives_a_reload(page, shop: Shop) -> None:
    product = get_product(shop.kg, "P0002")
    open_chat(page)
    ask(page, f"how much is the {product.name}?")
    answers = page.locator(".sb-bot").count()
    page.locator('.sb-card[data-product-id="P0002"] .sb-button', has_text="Tell me more").last.click()
    page.wait_for_function(f"document.querySelectorAll('.sb-bot').length > {answers}")
    page.wait_for_timeout(300)
    assert page.locator(".sb-user .sb-bubble").last.inner_text() == "Tell me more"
    assert product.name in page.locator(".sb-bot").last.inner_text() or product.name in page.locator(
        ".sb-bot").nth(answers).inner_text()
    transcript = page.locator(".sb-log").inner_text()

    page.reload()
    assert page.locator("#sb-panel").is_visible()  # it stays open
    assert page.locator(".sb-log").inner_text() == transcript
    page.wait_for_function("window.shopbotChat && window.shopbotChat.confirmed")
    ask(page, "how much is it?")  # the same conversation: "it" is still the product in focus
    assert money(product.price, product.currency) in page.locator(".sb-bot").last.inner_text()


def test_quick_reply_buttons_send_their_payload(page, shop: Shop) -> None:
    open_chat(page)
    ask(page, "hi")
    reply = page.locator(".sb-quick-replies .sb-button", has_text="Show me running shoes").last
    answers = page.locator(".sb-bot").count()
    reply.click()
    page.wait_for_function("document.querySelectorAll('.sb-bot .sb-card').length > 0")
    assert page.locator(".sb-bot").count() > answers
    assert page.locator(".sb-user .sb-bubble").last.inner_text() == "Show me running shoes"
    for product_id in page.locator(".sb-carousel .sb-card").evaluate_all("cards => cards.map(c => c.dataset.productId)"):
        assert get_product(shop.kg, product_id).category == "Running Shoes"


def signed_in_as(page, customer: str) -> None:  # playwright Page
    """Pick a customer in the demo store's "sign in as" picker and wait for their own conversation."""
    page.select_option("#customer-picker", customer)
    page.wait_for_function(f"window.shopbotChat.confirmed && window.shopbotChat.state.customerId === {customer!r}")


def test_signed_in_customer_gets_their_own_order(page) -> None:
    open_chat(page)
    signed_in_as(page, "C0001")
    ask(page, "where is my order SB-100002")
    assert "Order SB-100002 is" in page.locator(".sb-log").inner_text()
    page.select_option("#customer-picker", "C0002")  # another shopper: a new conversation
    assert page.locator(".sb-message").count() == 0
    page.wait_for_function("window.shopbotChat.confirmed && window.shopbotChat.state.customerId === 'C0002'")
    ask(page, "where is my order SB-100002")
    assert "I couldn't find order SB-100002 for you" in page.locator(".sb-log").inner_text()


def test_a_sign_in_while_the_guests_token_is_on_its_way_signs_the_shopper_in(page) -> None:
    held: list = []

    def hold_the_first(route) -> None:
        if held:
            route.continue_()
        else:
            held.append((route, route.fetch()))  # answered for the guest, delivered after the sign-in

    page.wait_for_function("window.shopbotChat && window.shopbotChat.confirmed")  # this page's token is in
    page.route("**/chat/token", hold_the_first)
    page.reload()
    page.wait_for_function("window.shopbotChat !== undefined")
    while not held:
        page.wait_for_timeout(50)
    page.select_option("#customer-picker", "C0001")
    page.wait_for_function("window.shopbotChat.confirmed && window.shopbotChat.state.customerId === 'C0001'",
                           timeout=20_000)
    route, guest = held[0]
    route.fulfill(response=guest)
    page.wait_for_timeout(1000)
    assert page.evaluate("window.shopbotChat.state.customerId") == "C0001"  # the late guest answer changes nothing
    open_chat(page)
    ask(page, "where is my order SB-100002")
    assert "Order SB-100002 is" in page.locator(".sb-log").inner_text()


def test_sign_in_survives_a_reload_and_the_token_is_the_stores(page) -> None:
    open_chat(page)
    signed_in_as(page, "C0001")
    ask(page, "where is my order SB-100002")
    transcript = page.locator(".sb-log").inner_text()
    page.reload()  # the store's cookie still says C0001: the same conversation goes on
    page.wait_for_function("window.shopbotChat && window.shopbotChat.confirmed")
    assert page.locator("#customer-picker").input_value() == "C0001"
    assert page.locator(".sb-log").inner_text() == transcript
    token = page.evaluate("window.shopbotChat.token")
    assert token and token.count(".") == 2  # a JWT from GET /chat/token, kept in memory ...
    assert token not in page.evaluate("JSON.stringify(window.localStorage)")  # ... never stored


def test_a_customer_id_forged_in_the_browser_opens_no_order(page) -> None:
    open_chat(page)  # a guest
    answers = page.locator(".sb-bot").count()
    page.evaluate("""() => {
      const chat = window.shopbotChat;
      chat.socket.emit("user_uttered", {message: "where is my order SB-100002", session_id: chat.state.sessionId,
                                        metadata: {customer_id: "C0001", shopbot_verified_customer: "C0001"}});
    }""")
    page.wait_for_function(f"document.querySelectorAll('.sb-bot').length > {answers}")
    page.wait_for_timeout(300)
    log = page.locator(".sb-log").inner_text()
    assert "e-mail address on the order" in log and "Order SB-100002 is" not in log


def test_hostile_text_is_shown_as_text_never_as_html(page) -> None:
    open_chat(page)
    hostile = '<img src=x onerror="document.title=\'owned\'"><script>document.title="owned"</script>'
    ask(page, hostile)
    assert page.locator(".sb-user .sb-bubble").last.inner_text() == hostile
    assert page.locator(".sb-log img, .sb-log script").count() == 0
    assert page.title() != "owned"


def test_keyboard_only_shopper_can_chat(page) -> None:
    launcher = page.locator(".sb-launcher")
    assert launcher.get_attribute("aria-expanded") == "false"
    launcher.focus()
    page.keyboard.press("Enter")
    assert launcher.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.id") == "sb-input"
    page.wait_for_function("window.shopbotChat.confirmed")
    page.keyboard.type("is the trailblazer 2 in stock?")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('.sb-bot').length > 0")
    assert page.locator('[role="log"]').count() == 1 and page.locator('[role="dialog"]').count() == 1
    page.keyboard.press("Escape")
    assert not page.locator("#sb-panel").is_visible()


def test_unreachable_assistant_is_announced(browser, stack: Stack) -> None:
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    page.route_web_socket(re.compile(r".*/socket\.io/.*"), lambda socket: socket.close())
    page.route(re.compile(r".*/socket\.io/.*"), lambda route: route.abort())
    page.goto(store_url(stack))
    page.click(".sb-launcher")
    status = page.locator(".sb-status")
    status.wait_for(state="visible", timeout=30_000)
    assert "unreachable, retrying" in status.inner_text()
    page.fill("#sb-input", "hello?")
    page.press("#sb-input", "Enter")
    assert page.locator(".sb-user .sb-bubble").last.inner_text() == "hello?"  # shown, queued, not lost
    assert "will be sent when it is back" in status.inner_text()
    context.close()


def test_phone_width_chat_fills_the_screen(browser, stack: Stack) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    page.goto(store_url(stack))
    open_chat(page)
    ask(page, "red running shoes under 100")
    box = page.locator("#sb-panel").bounding_box()
    assert box["width"] == PHONE["width"]
    assert page.locator(".sb-carousel .sb-card").count() >= 1
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "store-chat-phone.png"))
    context.close()


def answer(page, text: str) -> tuple[str, list[str]]:  # playwright Page
    """Ask in the open chat; return the answer's text and the products of its cards, in their order."""
    before = page.locator(".sb-bot").count()
    ask(page, text)
    replies = page.locator(".sb-bot")
    texts = [replies.nth(i).inner_text() for i in range(before, replies.count())]
    cards = [replies.nth(i).locator(".sb-card").evaluate_all("cards => cards.map(c => c.dataset.productId)")
             for i in range(before, replies.count())]
    return "\n".join(texts), [product for found in cards for product in found]


def test_a_shopping_conversation_follows_the_numbered_cards(page, shop: Shop) -> None:
    open_chat(page)
    _, shown = answer(page, "show me running shoes")
    numbers = page.locator(".sb-carousel").last.locator(".sb-card-number").all_inner_texts()
    assert len(shown) > 2 and numbers == [str(n) for n in range(1, len(shown) + 1)]
    products = {p: get_product(shop.kg, p) for p in shown}

    text, _ = answer(page, "tell me more about the second one")
    assert products[shown[1]].name in text

    text, _ = answer(page, "which of these is the cheapest")
    cheapest = min(shown, key=lambda p: (products[p].price, shown.index(p)))
    assert products[cheapest].name in text

    prices = sorted({products[p].price for p in shown})
    budget = prices[len(prices) // 2]
    _, cheaper = answer(page, f"only the ones under ${budget}")
    assert cheaper and all(get_product(shop.kg, p).price <= budget and get_product(shop.kg, p).category == "Running Shoes"
                           for p in cheaper)

    first = get_product(shop.kg, cheaper[0])
    _, like = answer(page, "something like the first one but cheaper")
    assert like and first.id not in like and all(get_product(shop.kg, p).price < first.price for p in like)

    _, described = answer(page, "a waterproof jacket for hiking in the rain")
    assert described and "waterproof" in get_product(shop.kg, described[0]).description.lower()
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "widget-shopping.txt").write_text(page.locator(".sb-log").inner_text())

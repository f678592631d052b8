"""End to end: the whole assistant as `shopbot run` starts it, asked through the REST channel."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from bot.stack import Stack
from tests.integration.rest import chat
from knowledge.products import get_product
from knowledge.refinement import PAGE
from knowledge.shop import Shop
from knowledge.shopdb import connect, lookup_order
from tests.invariants import Snapshot, graph_lines
from tests.oracles import faceted_search, graph_from_lines

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def test_price_of_a_named_product_is_the_graphs(stack: Stack, shop: Shop) -> None:
    for product_id in ("P0001", "P0154"):
        product = get_product(shop.kg, product_id)
        bot = chat(stack, f"price-{product_id}")
        answer = bot.say(f"how much is the {product.name}?")
        assert money(product.price) in "\n".join(m.get("text", "") for m in answer)
        cards = [m["custom"]["card"] for m in answer if m.get("custom", {}).get("type") == "product_card"]
        assert cards and cards[0]["id"] == product_id and cards[0]["price"] == str(product.price)


def test_follow_up_questions_refer_to_the_product_in_focus(stack: Stack, shop: Shop) -> None:
    product = get_product(shop.kg, "P0001")
    bot = chat(stack, "focus")
    assert money(product.price) in bot.text("how much is the trailblazer 2?")
    assert money(product.price) in bot.text("how much is it?")
    assert f"{product.stock} available" in bot.text("is it in stock?")
    assert "doesn't come in blue" in bot.text("does it come in blue?")
    assert product.material in bot.text("what is it made of?")


def test_stock_and_colour_of_a_named_product(stack: Stack, shop: Shop) -> None:
    product = get_product(shop.kg, "P0154")
    bot = chat(stack, "stock")
    stock = bot.text(f"is the {product.name} in stock?")
    assert (f"{product.stock} available" in stock) if product.stock >= 5 else (product.name in stock)
    colours = bot.text(f"what colours does the {product.name} come in?")
    assert all(colour in colours for colour in product.colors)


def test_faceted_search_answers_match_the_graph(stack: Stack, shop: Shop) -> None:
    answer = chat(stack, "search").say("red running shoes under 100")
    cards = next(m["custom"]["cards"] for m in answer if m.get("custom", {}).get("type") == "carousel")
    # the oracle walks the live graph's triples in Python: no SPARQL, no shop code
    graph = graph_from_lines(graph_lines(shop.kg))
    expected = faceted_search(graph, category="Running Shoes", color="red", max_price=Decimal(100))
    assert expected and len(cards) == min(len(expected), PAGE)
    assert [c["id"] for c in cards] == [p.id for p in expected[:PAGE]]
    for card, facts in zip(cards, expected):
        assert Decimal(card["price"]) == facts.price <= 100 and "red" in facts.colors


def test_injection_leaves_the_graph_unchanged_and_gets_a_polite_answer(stack: Stack, shop: Shop) -> None:
    before = Snapshot.take(shop.kg)
    answer = chat(stack, "hostile").text('how much is the x" } ; DROP ALL ; #')
    assert re.search(r"(couldn't find|Which product|didn't quite get)", answer)
    before.assert_unchanged(Snapshot.take(shop.kg), "injection")


def test_graph_down_gets_an_apology_then_recovers(stack: Stack) -> None:
    oxigraph = next(s for s in stack.services if s.name == "oxigraph")
    bot = chat(stack, "down")
    oxigraph.stop()
    try:
        assert "can't look that up right now" in bot.text("how much is the trailblazer 2?")
    finally:
        oxigraph.start()
        oxigraph.wait_ready(30)
    assert "$129.00" in bot.text("how much is the trailblazer 2?")


def test_order_status_comes_from_the_shop_database(stack: Stack) -> None:
    db = connect(stack.settings.database_url)
    order = lookup_order(db, "SB-100002", customer_id="C0001")
    answer = chat(stack, "status", customer_id="C0001").text("where is my order SB-100002")
    assert f"Order SB-100002 is {order.status}." in answer
    assert order.tracking_number in answer and order.carrier in answer


def test_another_customers_order_is_refused(stack: Stack) -> None:
    answer = chat(stack, "nosy", customer_id="C0002").text("where is my order SB-100001")
    assert "I couldn't find order SB-100001 for you" in answer
    assert "processing" not in answer


def test_cancellation_is_written_and_the_conversation_survives_a_rasa_restart(stack: Stack) -> None:
    bot = chat(stack, "cancel", customer_id="C0001")
    assert "Do you really want to cancel it?" in bot.text("please cancel order SB-100001")
    assert "Done: order SB-100001 is cancelled." in bot.text("yes")
    assert lookup_order(connect(stack.settings.database_url), "SB-100001", customer_id="C0001").status == "cancelled"

    assert "What's your order number?" in bot.text("where is my order?")
    rasa = next(s for s in stack.services if s.name == "rasa server")
    rasa.stop()
    rasa.start()
    rasa.wait_ready(300)
    assert "Order SB-100001 is cancelled." in bot.text("SB-100001")  # the form went on where it was


def test_recommendations_come_with_reasons(stack: Stack) -> None:
    known = chat(stack, "picks", customer_id="C0001").say("what would you recommend?")
    text = "\n".join(m.get("text", "") for m in known)
    assert "Here are some picks for you" in text
    assert "(shoppers who bought" in text or "(popular with shoppers like you)" in text
    cards = next(m["custom"]["cards"] for m in known if m.get("custom", {}).get("type") == "carousel")
    assert cards and all(card["reason"] for card in cards)
    guest = chat(stack, "guest-picks")
    guest.text("tell me about the trailblazer 2")
    assert "shoppers who liked the Trailblazer 2 GTX Running Shoe also liked this" in guest.text("what would you recommend?")


def test_a_stack_with_its_own_var_dir_trains_and_reads_its_own_recommender(stack: Stack) -> None:
    own = stack.settings.recommender_file
    assert own.is_relative_to(stack.settings.var_dir) and own.exists()  # trained by the stack at its start
    answer = chat(stack, "own-model", customer_id="C0002").say("can you recommend something?")
    assert "Here are some picks for you" in "\n".join(m.get("text", "") for m in answer)
    actions = next(s for s in stack.services if s.name == "action server")
    assert f"recommender loaded from {own}" in actions.log_path.read_text(errors="replace")

"""The conversation-test plugin itself: YAML conversations pass, and a wrong expectation fails readably."""

from __future__ import annotations

import pytest

from bot.testing import Chat, format_transcript, text_matches

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.slow

WRONG_PRICE = """
- conversation: wrong price on purpose
  steps:
    - user: how much is the trailblazer 2?
    - bot: "$99.99"
"""

RIGHT_PRICE = """
- conversation: right price
  steps:
    - user: how much is the trailblazer 2?
    - bot: /costs \\$129\\.00/
    - cards: [Trailblazer 2 GTX Running Shoe]

- conversation: facts read from the graph, exactly one card
  steps:
    - user: what does the {name of P0001} cost?
    - bot: "costs {price of P0001}."
    - cards_exactly: ["{name of P0001}"]
"""

CARD_ON_PURPOSE = """
- conversation: a card it should not show on purpose
  steps:
    - user: how much is the trailblazer 2?
    - no_cards: [/Trailblazer/]
"""


def write_conversations(pytester: pytest.Pytester, text: str) -> None:
    """Put one conversation file where the plugin collects it."""
    folder = pytester.mkdir("conversations")
    (folder / "talk.yml").write_text(text, encoding="utf-8")


def test_right_expectations_pass_and_a_wrong_one_fails_side_by_side(pytester: pytest.Pytester) -> None:
    # A separate pytest process, as a developer would run it: it loads the model itself.
    write_conversations(pytester, RIGHT_PRICE + WRONG_PRICE + CARD_ON_PURPOSE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "*conversation 'wrong price on purpose' failed at step 2:*",
        "*actual*|*expected*",
        "*user: how much is the trailblazer 2?*",
        ">> bot:  The Trailblazer 2 GTX Running Shoe costs $129.00.*| expected bot: $99.99",
    ])
    result.stdout.fnmatch_lines(["*expected no card /Trailblazer/ (shown: ?'Trailblazer 2 GTX Running Shoe'?)*"])


def test_a_malformed_file_is_reported_by_name(pytester: pytest.Pytester) -> None:
    write_conversations(pytester, "- conversation: no steps here\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*needs 'conversation' and 'steps'*"])


def test_chat_fixture_returns_text_cards_and_slots(chat: Chat) -> None:
    reply = chat.say("how much is the trailblazer 2?")
    reply.assert_says("$129.00")
    assert reply.assert_card("Trailblazer 2 GTX Running Shoe")["price"] == "129.00"
    reply.assert_button("Similar items")
    assert reply.slots["product_id"] == "P0001"
    assert chat.say("how much is it?").says("/Trailblazer 2 GTX.*\\$129\\.00/")


def test_text_matching_and_transcript_format() -> None:
    assert text_matches("costs $129.00", "$129.00") and text_matches("costs $129.00", "/\\$1\\d9/")
    assert not text_matches("costs $129.00", "$99.99")
    shown = format_transcript("t", [("user", "hi", ""), ("bot", "hello", "bot: bye")], 2)
    assert ">> bot:" in shown and "| bot: bye" in shown

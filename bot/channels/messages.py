"""What every chat channel accepts as a shopper's message: one length cap, valid Unicode, no control characters.

The cap is ``SHOPBOT_MAX_MESSAGE_CHARS`` (default 5,000 characters) for the REST channel, the socket.io
channel and the chat widget alike: longer messages are refused before they reach NLU, whose work grows with
the length of the text.
"""

from __future__ import annotations

import re
from typing import Any

from knowledge.settings import get_settings

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class MessageRefused(ValueError):
    """A message a channel will not pass on; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def max_message_chars() -> int:
    """The longest message any channel accepts, in characters."""
    return get_settings().max_message_chars


def too_long_text(limit: int) -> str:
    """What the bot answers to a message over the cap."""
    return f"That message is too long for me: please keep it under {limit:,} characters."


def nothing_said_text() -> str:
    """What the bot answers when a turn would otherwise end in silence (an empty message, a bare command)."""
    return "Sorry, I didn't quite get that. Could you rephrase it?"


async def with_a_person(app: Any, sender_id: str) -> bool:
    """Whether a person has the conversation (Rasa paused it for a hand-over): then silence is the answer."""
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return False
    tracker = await store.retrieve(sender_id)
    return bool(tracker is not None and tracker.is_paused())


def clean_message(value: Any, limit: int) -> str:
    """The message as the bot reads it (control characters become spaces); ``MessageRefused`` when unacceptable."""
    if not isinstance(value, str):
        raise MessageRefused('"message" must be a string')
    if len(value) > limit:
        raise MessageRefused(f'"message" is longer than {limit} characters', 413)
    if _SURROGATE.search(value):
        raise MessageRefused('"message" is not valid Unicode text (it holds lone surrogates)')
    return _CONTROL.sub(" ", value)

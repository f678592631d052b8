"""What an agent does with a conversation, the same for the inbox and the helpdesk API.

Each operation first changes the conversation (through the Rasa server's relay), then the queue in the shop
database: a reply the shopper never saw is never counted, and a conversation is only closed in the inbox once
the assistant has it again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Optional, TypeVar

from bot.handoff.client import BACK_TEXT, CLOSED_TEXT, RelayClient
from bot.handoff.transcript import ConversationState, Line, TrackerStoreReader, lines, state
from knowledge.settings import Settings
from knowledge.shopdb import handoff as handoffs
from knowledge.shopdb.handoff import Handoff, HandoffError
from knowledge.shopdb.staff import Staff

T = TypeVar("T")
MAX_REPLY_CHARS = 5_000


class Closed(HandoffError):
    """The conversation is back with the assistant: a person can no longer answer in it."""


@dataclass(frozen=True)
class Conversation:
    """A handed-over conversation as an agent sees it: the hand-over, its transcript and the tracker's state."""

    handoff: Handoff
    lines: list[Line]
    state: ConversationState


async def _blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args, **kwargs))


class Desk:
    """The agents' desk: the shop database's queue, the tracker store (read) and the relay (write)."""

    def __init__(self, db: Any, reader: TrackerStoreReader, relay: RelayClient, settings: Settings) -> None:
        self.db, self.reader, self.relay, self.settings = db, reader, relay, settings

    @property
    def notify(self) -> bool:
        """Whether the helpdesk webhook is on (then every change goes to the outbox)."""
        return bool(self.settings.handoff_webhook_url)

    async def handoff(self, handoff_id: str) -> Handoff:
        """The hand-over, or ``HandoffError`` when there is none with this id."""
        found = await _blocking(handoffs.get_handoff, self.db, handoff_id)
        if found is None:
            raise HandoffError(f"there is no hand-over {handoff_id!r}")
        return found

    async def conversation(self, handoff_id: str, after: int = 0) -> Conversation:
        """The hand-over with its transcript (events after ``after``) and the conversation's state."""
        found = await self.handoff(handoff_id)
        events = await _blocking(self.reader.events, found.sender_id, after)
        return Conversation(found, lines(events), state(events))

    async def take(self, handoff_id: str, staff: Staff) -> Handoff:
        """Take a waiting conversation (or a colleague's)."""
        return await _blocking(handoffs.take, self.db, handoff_id, staff.username, self.notify)

    async def reply(self, handoff_id: str, staff: Staff, text: str, name: Optional[str] = None) -> Handoff:
        """Send an agent's words to the shopper (shown under ``name``, default the staff member's display name)."""
        text = (text or "").strip()
        if not text:
            raise ValueError("write a reply first")
        if len(text) > MAX_REPLY_CHARS:
            raise ValueError(f"a reply has at most {MAX_REPLY_CHARS:,} characters")
        found = await self.handoff(handoff_id)
        if not found.active:
            raise Closed(f"{handoff_id} is closed: the assistant has the conversation again")
        await self.relay.send(found.sender_id, text, staff.username, (name or staff.name)[:64])
        return await _blocking(handoffs.record_reply, self.db, handoff_id, staff.username)

    async def hand_back(self, handoff_id: str, staff: Staff, text: Optional[str] = None) -> Handoff:
        """Give the conversation back to the assistant (the shopper is told); the slots are as they were."""
        found = await self.handoff(handoff_id)
        if not found.active:
            raise Closed(f"{handoff_id} is already closed")
        await self.relay.resume(found.sender_id, (text or "").strip() or BACK_TEXT)
        return await _blocking(handoffs.finish, self.db, handoff_id, staff.username, "handed_back", "", self.notify)

    async def close(self, handoff_id: str, staff: Staff, note: str) -> Handoff:
        """Close the conversation with a note for the team; the assistant answers the shopper again."""
        found = await self.handoff(handoff_id)
        if not found.active:
            raise Closed(f"{handoff_id} is already closed")
        await self.relay.resume(found.sender_id, CLOSED_TEXT)
        return await _blocking(handoffs.finish, self.db, handoff_id, staff.username, "closed", note, self.notify)

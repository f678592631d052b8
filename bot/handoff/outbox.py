"""Telling an outside helpdesk: the web app delivers the hand-over outbox to ``HANDOFF_WEBHOOK_URL``, signed.

While the webhook is configured, a background task of the web app, twice a second:

0. announces hand-overs and left messages it has not announced yet (``handoff.created``, ``message.created``),
   whichever process recorded them;
1. passes on what shoppers write to a person: the tracker store's new user messages of every waiting or open
   hand-over become ``handoff.message`` events (a cursor per hand-over, kept in the database, so nothing is sent
   twice or lost across restarts);
2. delivers due outbox events, oldest first and one at a time per hand-over (so they arrive in order), as
   ``POST`` JSON ``{"event": KIND, "delivery": ID, "handoff": {...}, ...}`` with ``X-Shopbot-Event``,
   ``X-Shopbot-Delivery`` and ``X-Shopbot-Signature`` (``bot/handoff/webhook.py``). A 2xx answer delivers it;
   anything else is tried again after 2, 4, 8 ... seconds (at most 10 minutes apart), eight times.

Kinds: ``handoff.created`` (with the transcript so far and the URLs to answer), ``handoff.message``,
``handoff.taken``, ``handoff.handed_back``, ``handoff.closed`` and ``message.created`` (a message left while
nobody was there). ``docs/helpdesk-bridge.md`` shows a bridge to Chatwoot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Optional

from bot.handoff.transcript import TrackerStoreReader, lines
from bot.handoff.webhook import HEADER, sign
from knowledge.settings import Settings
from knowledge.shopdb import handoff as handoffs

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.5
TIMEOUT_SECONDS = 5


def announce_new(db: Any) -> int:
    """Queue ``handoff.created`` / ``message.created`` for what the outbox has not heard of yet; how many."""
    found = handoffs.unannounced(db)
    for subject, kind in found:
        handoffs.enqueue(db, subject, kind)
    return len(found)


def forward_shopper_messages(db: Any, reader: TrackerStoreReader) -> int:
    """Queue the shopper's new messages of every live hand-over for the helpdesk; how many."""
    queued = 0
    live = handoffs.queues(db, closed_limit=1)
    for handoff in live["waiting"] + live["open"]:
        cursor = handoff.forwarded_event
        if not cursor:
            cursor = reader.last_event_id(handoff.sender_id, "pause")  # what came before is in the transcript
            if not cursor:
                continue  # the tracker holding the pause is not saved yet
        events = reader.events(handoff.sender_id, after=cursor)
        for line in lines(event for event in events if event.type_name == "user"):
            handoffs.enqueue(db, handoff.id, "handoff.message",
                             {"message": {"event_id": line.event_id, "at": line.at.isoformat(), "text": line.text}})
            queued += 1
        last = events[-1].id if events else cursor
        if last != handoff.forwarded_event:
            handoffs.forwarded(db, handoff.id, last)
    return queued


def payload(db: Any, reader: TrackerStoreReader, settings: Settings, delivery: handoffs.Delivery) -> Optional[dict]:
    """The JSON body of one delivery (None when its subject no longer exists)."""
    body: dict[str, Any] = {"event": delivery.kind, "delivery": delivery.id, **delivery.payload}
    if delivery.subject.startswith("MS-"):
        message = handoffs.get_message(db, delivery.subject)
        if message is None:
            return None
        body["message"] = {"id": message.id, "conversation_id": message.sender_id, "customer_id": message.customer_id,
                           "email": message.email, "text": message.text,
                           "created_at": message.created_at.isoformat() + "Z"}
        return body
    handoff = handoffs.get_handoff(db, delivery.subject)
    if handoff is None:
        return None
    base = settings.public_url.rstrip("/")
    body["handoff"] = handoff.to_dict()
    body["links"] = {"inbox": f"{base}/admin/inbox/{handoff.id}", "reply": f"{base}/api/handoff/{handoff.id}/reply",
                     "handback": f"{base}/api/handoff/{handoff.id}/handback",
                     "close": f"{base}/api/handoff/{handoff.id}/close"}
    if delivery.kind == "handoff.created":
        body["transcript"] = [line.to_dict() for line in lines(reader.events(handoff.sender_id))]
    return body


class Deliverer:
    """The web app's background task that feeds the helpdesk webhook."""

    def __init__(self, db: Any, reader: TrackerStoreReader, settings: Settings) -> None:
        self.db, self.reader, self.settings = db, reader, settings
        self.url = settings.handoff_webhook_url
        self.secret = settings.secret("handoff-webhook")
        self._session: Optional[Any] = None

    async def _blocking(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)

    async def _post(self, body: bytes, kind: str, delivery_id: int) -> Optional[str]:
        """Send one body; None when the receiver took it, else what went wrong."""
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        headers = {"Content-Type": "application/json", "X-Shopbot-Event": kind,
                   "X-Shopbot-Delivery": str(delivery_id), HEADER: sign(body, self.secret)}
        try:
            async with self._session.post(self.url, data=body, headers=headers, allow_redirects=False) as reply:
                await reply.read()
                return None if 200 <= reply.status < 300 else f"HTTP {reply.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            return f"{type(error).__name__}: {error}"

    async def step(self) -> int:
        """Queue new hand-overs, messages and shopper messages, then deliver what is due; how many went through."""
        await self._blocking(announce_new, self.db)
        await self._blocking(forward_shopper_messages, self.db, self.reader)
        sent = 0
        for delivery in await self._blocking(handoffs.due_deliveries, self.db):
            body = await self._blocking(payload, self.db, self.reader, self.settings, delivery)
            if body is None:
                await self._blocking(handoffs.delivered, self.db, delivery.id)
                continue
            error = await self._post(json.dumps(body, ensure_ascii=False).encode(), delivery.kind, delivery.id)
            if error is None:
                await self._blocking(handoffs.delivered, self.db, delivery.id)
                sent += 1
            else:
                logger.warning("helpdesk webhook delivery %s (%s) failed: %s", delivery.id, delivery.kind, error)
                await self._blocking(handoffs.delivery_failed, self.db, delivery.id, error)
        return sent

    async def run(self) -> None:
        """Run until cancelled."""
        try:
            while True:
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception:  # a broken delivery must not stop the next ones
                    logger.exception("the helpdesk outbox failed; trying again")
                await asyncio.sleep(INTERVAL_SECONDS)
        finally:
            if self._session is not None:
                await self._session.close()

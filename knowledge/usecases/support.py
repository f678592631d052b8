"""A person for the shopper: handing a conversation to the team when someone can take it, else a message for
them; complaints on record.

A conversation goes to a person when the store is open (its opening hours in the graph; without the graph, or
without hours, it counts as open: a person must stay reachable) and an agent was seen within the presence
window. Otherwise the shopper learns why and may leave a message, answered by e-mail (a signed-in customer's
address is on record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Sequence

from knowledge import policies
from knowledge.hours import OpeningHours, opening_hours
from knowledge.shopdb import handoff as handoffs
from knowledge.shopdb import support
from knowledge.shopdb.engine import DB
from knowledge.sparql import KnowledgeGraphUnavailable, SparqlEndpoint


@dataclass(frozen=True)
class HandoffAnswer:
    """What asking for a person led to: ``already`` with the team, now ``waiting`` for one, or ``away``.

    When away: the store's contact details and opening hours (None without the graph), the moment asked, and the
    e-mail address on record to answer a message to.
    """

    state: str
    request_id: Optional[str] = None
    contact: Optional[policies.StoreContact] = None
    hours: Optional[OpeningHours] = None
    at: Optional[datetime] = None
    email: Optional[str] = None


class SupportDesk:
    """Hand-overs, left messages and complaints on the shop database ``db``, with the store's hours from ``kg``."""

    def __init__(self, db: DB, kg: SparqlEndpoint, presence_seconds: float, notify: bool = False,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.db, self.kg, self.presence_seconds, self.notify, self.now = db, kg, presence_seconds, notify, now

    def store_hours(self) -> tuple[Optional[policies.StoreContact], Optional[OpeningHours]]:
        """The store's contact details and opening hours (None, None when the graph is unreachable)."""
        try:
            return policies.store_contact(self.kg), opening_hours(self.kg)
        except KnowledgeGraphUnavailable:  # a person must be reachable even when the graph is not
            return None, None

    def ask_for_person(self, sender_id: str, reason: str, transcript: Sequence[Any], customer_id: Optional[str] = None,
                       triggered_by: Optional[str] = None, previous_intent: Optional[str] = None) -> HandoffAnswer:
        """Put the conversation in the team's queue when someone can take it; else say why not."""
        current = handoffs.active_handoff(self.db, sender_id)
        if current is not None:
            return HandoffAnswer("already", current.id)
        contact, hours = self.store_hours()
        now = self.now()
        if (hours is None or hours.is_open(now)) and handoffs.agents_on_duty(self.db, self.presence_seconds):
            handoff = handoffs.request_handoff(self.db, sender_id, reason=reason, transcript=transcript,
                                               customer_id=customer_id, triggered_by=triggered_by,
                                               previous_intent=previous_intent, notify=self.notify)
            return HandoffAnswer("waiting", handoff.id)
        return HandoffAnswer("away", contact=contact, hours=hours, at=now,
                             email=handoffs.customer_email(self.db, customer_id))

    def leave_message(self, sender_id: str, email: str, message: str, customer_id: Optional[str] = None) -> str:
        """Keep the shopper's message for the team (answered by e-mail); its reference."""
        return handoffs.leave_message(self.db, sender_id, email, message, customer_id=customer_id, notify=self.notify)

    def complaint(self, sender_id: str, text: str, customer_id: Optional[str] = None) -> str:
        """Put a complaint on record; its reference."""
        return support.record_complaint(self.db, sender_id, text, customer_id=customer_id)

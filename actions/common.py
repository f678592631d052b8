"""What every action shares: reading the tracker, the slots that say what the shopper looks at, and the base class
of actions that ask the shop's knowledge graph (who the shopper is: ``actions.identity``)."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.behaviour import FOCUS_SLOT, record_focus
from actions.context import context
from knowledge.products import Product
from knowledge.refinement import SearchState
from knowledge.shop import Shop
from knowledge.sparql import KnowledgeGraphUnavailable

logger = logging.getLogger(__name__)

SHOWN_SLOT = "shown_products"
SEARCH_SLOT = "search"

__all__ = ["FOCUS_SLOT", "SEARCH_SLOT", "SHOWN_SLOT", "ShopAction", "entity_values", "last_said", "looking_at",
           "previous_bot_action", "shown_ids", "transcript"]


def entity_values(tracker: Tracker, name: str, role: Optional[str] = None) -> List[str]:
    """The values of one entity (with this role, or none) in the latest message, in order."""
    found = []
    for entity in tracker.latest_message.get("entities") or []:
        value = entity.get("value")
        if entity.get("entity") == name and (entity.get("role") or None) == role and value is not None \
                and str(value).strip():
            found.append(str(value))
    return found


def previous_bot_action(tracker: Tracker) -> str:
    """The last action the bot ran before the latest user message (ignoring listening)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                break
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") not in ("action_listen", None):
            return event["name"]
    return ""


def last_said(tracker: Tracker) -> str:
    """The shopper's latest own words, skipping button payloads such as "/complaint"."""
    for event in reversed(tracker.events):
        text = event.get("text") or ""
        if event.get("event") == "user" and text and not text.startswith("/"):
            return text
    return ""


def transcript(tracker: Tracker, limit: int = 50) -> List[Dict[str, str]]:
    """The conversation so far, as who said what."""
    lines = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            lines.append({"from": "shopper", "text": event["text"]})
        elif event.get("event") == "bot" and event.get("text"):
            lines.append({"from": "bot", "text": event["text"]})
    return lines[-limit:]


def shown_ids(tracker: Tracker) -> List[str]:
    """The ids of the products last shown as a list, in order."""
    value = tracker.get_slot(SHOWN_SLOT)
    return [str(pid) for pid in value][:50] if isinstance(value, list) else []


def looking_at(products: Sequence[Product], state: Optional[SearchState] = None) -> List[EventType]:
    """Slot events for a list just shown: its ids, the search behind it, and the focus (one product only)."""
    events: List[EventType] = [SlotSet(SHOWN_SLOT, [p.id for p in products]),
                               SlotSet(FOCUS_SLOT, products[0].id if len(products) == 1 else None)]
    if state is not None:
        events.append(SlotSet(SEARCH_SLOT, state.to_slot()))
    return events


class ShopAction(Action, metaclass=ABCMeta):
    """An action that asks the shop's knowledge; it logs the products it puts in focus, and apologises when the
    graph is unreachable."""

    def shop(self) -> Shop:
        """The shop these actions ask."""
        return context().shop

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        try:
            events = self.answer(dispatcher, tracker, self.shop())
            record_focus(tracker, events)  # live behaviour: the shopper looked at the product in focus
            return events
        except KnowledgeGraphUnavailable as error:
            logger.warning("knowledge graph unavailable in %s: %s", self.name(), error)
            dispatcher.utter_message(response="utter_kg_unavailable")
            return []

    @abstractmethod
    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        """Reply to the latest message."""

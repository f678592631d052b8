"""Live behaviour from the chat, written to the interaction log for the recommender and the campaign page.

Call :func:`record_focus` with the events an action returns (every product put in focus was looked
at), :func:`record_product_views` for products looked at otherwise, :func:`record_shown` for products
suggested. The shopper is the verified customer (``actions.identity.customer_id``), a guest is known by
the conversation id. Recording never breaks an answer: a failure is logged and forgotten.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Optional, Sequence

from rasa_sdk import Tracker

from actions.context import context
from actions.identity import customer_id
from knowledge.namespaces import is_product_id
from knowledge.shopdb.behaviour import Event, has_event, recent_shown, record_events

logger = logging.getLogger(__name__)

FOCUS_SLOT = "product_id"


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def click_kind(tracker: Tracker, product_id: str) -> tuple[str, Optional[str]]:
    """What looking at this product was: (kind, campaign id).

    A typed question is a ``view``; a button press (a payload) on a product of a campaign shown in this
    conversation is a ``campaign_click``, on a recommended product a ``rec_click``, "Tell me more" an
    ``info``, any other product button a ``click``.
    """
    text = (tracker.latest_message.get("text") or "").strip()
    if not text.startswith("/"):
        return "view", None
    session, db = tracker.sender_id, context().db
    campaign = _entity(tracker, "campaign")
    if campaign and (has_event(db, "campaign_shown", campaign, session_id=session)
                     or has_event(db, "campaign_shown", campaign, customer_id=customer_id(tracker))):
        return "campaign_click", campaign
    if any(product == product_id for product, _ in recent_shown(db, session, limit=20)):
        return "rec_click", None
    if (tracker.latest_message.get("intent") or {}).get("name") == "ask_product_info":
        return "info", None
    return "click", None


def record_product_views(tracker: Tracker, product_ids: Sequence[str], kind: Optional[str] = None) -> None:
    """Log that the shopper looked at these products (the kind worked out from the message when not given)."""
    try:
        customer, session = customer_id(tracker), tracker.sender_id
        events = []
        for product_id in list(dict.fromkeys(p for p in product_ids if p))[:20]:
            found, campaign = (kind, None) if kind else click_kind(tracker, product_id)
            events.append(Event(found, product_id=product_id, customer_id=customer, session_id=session,
                                campaign_id=campaign))
        record_events(context().db, events)
    except Exception:
        logger.exception("could not record product views")


def record_shown(tracker: Tracker, product_ids: Iterable[str], kind: str = "rec_shown",
                 campaign_id: Optional[str] = None) -> None:
    """Log products suggested to the shopper (recommendations, or a campaign's products)."""
    try:
        customer, session = customer_id(tracker), tracker.sender_id
        record_events(context().db, [Event(kind, product_id=p, customer_id=customer, session_id=session,
                                        campaign_id=campaign_id) for p in list(product_ids)[:20]])
    except Exception:
        logger.exception("could not record products shown")


def focused_products(events: Iterable[Any]) -> list[str]:
    """The products an action's events put in focus."""
    return [str(e["value"]) for e in events
            if isinstance(e, dict) and e.get("event") == "slot" and e.get("name") == FOCUS_SLOT and e.get("value")]


def clicked_products(tracker: Tracker) -> list[str]:
    """The products a button press names (a card's "Tell me more", "Similar items" ...), none for typed text."""
    if not (tracker.latest_message.get("text") or "").startswith("/"):
        return []
    return [str(e["value"]) for e in tracker.latest_message.get("entities") or []
            if e.get("entity") == "product" and is_product_id(str(e.get("value") or ""))]


def record_focus(tracker: Tracker, events: Iterable[Any]) -> None:
    """Log a view of every product the action's events put in focus, and a click on any product a button names."""
    products = list(dict.fromkeys(clicked_products(tracker) + focused_products(events)))
    if products:
        record_product_views(tracker, products)

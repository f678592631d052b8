"""Suggestions mid-conversation: picks that fit the request, for the shopper and their segment, with reasons;
a running campaign for the shopper's segment first (unless they are in its control group).

The rules (what the message asks for, which model, the campaign's audience) live in
``knowledge.usecases.recommendations``; this action reads the message, calls it and renders the picks.
"""

from __future__ import annotations

import logging
from typing import List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.behaviour import record_shown
from actions.common import FOCUS_SLOT, ShopAction, looking_at
from actions.context import context
from actions.identity import customer_id
from actions.offers import campaign_payload
from knowledge.recommend.shop import Suggestion
from knowledge.shop import Shop

logger = logging.getLogger(__name__)


class ActionRecommend(ShopAction):
    """Suggest products that fit what was asked, each with a short reason and a card."""

    def name(self) -> Text:
        return "action_recommend"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        customer = customer_id(tracker)
        self.offer(dispatcher, tracker, customer)
        picks = context().recommendations.suggest(
            tracker.latest_message.get("text") or "", tracker.latest_message.get("entities") or [],
            focus_id=tracker.get_slot(FOCUS_SLOT), customer_id=customer, session_id=tracker.sender_id)
        if not picks.suggestions:
            currency = context().settings.currency
            dispatcher.utter_message(
                text=f"Sorry, nothing in stock fits {picks.request.describe(lambda a: render.money(a, currency))} "
                     "right now. Try another budget, colour or brand.")
            return []
        self.show(dispatcher, picks.suggestions)
        record_shown(tracker, [p.id for p in picks.products])
        return looking_at(picks.products)  # "tell me about the second one" means the second pick

    @staticmethod
    def show(dispatcher: CollectingDispatcher, picks: list[Suggestion]) -> None:
        """The picks as a numbered list with reasons, and as cards."""
        lines = ["Here are some picks for you:"]
        lines += [f"{n}. {s.product.name} – {render.money(s.product.price, s.product.currency)} ({s.reason})"
                  for n, s in enumerate(picks, 1)]
        carousel = render.carousel_payload([s.product for s in picks], context().settings.public_url)
        for card, suggestion in zip(carousel["cards"], picks):
            card["reason"] = suggestion.reason
        dispatcher.utter_message(text="\n".join(lines), json_message=carousel)

    @staticmethod
    def offer(dispatcher: CollectingDispatcher, tracker: Tracker, customer: Optional[str]) -> None:
        """Show the running campaign of the customer's segment (once per conversation), unless they are held out."""
        try:
            offer = context().recommendations.campaign_offer(customer, tracker.sender_id)
        except Exception:
            logger.exception("could not show the campaign")
            return
        if offer is not None:
            dispatcher.utter_message(text=offer.campaign.message, json_message=campaign_payload(
                offer.campaign, offer.products, context().settings.public_url))

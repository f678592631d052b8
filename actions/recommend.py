"""Suggestions mid-conversation: the hybrid's picks for a known customer, similar items for everyone else."""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from typing import List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.orders import customer_id, shop_db
from actions.products import FOCUS_SLOT, ShopAction
from knowledge.facets import request_from
from knowledge.recommend.shop import ShopRecommender, Suggestion, ensure_model
from knowledge.settings import get_settings
from knowledge.shop import Shop

SIMILAR = re.compile(r"\b(similar|like (this|that|it)|goes? (well )?with|go with)\b", re.I)

_recommender: Optional[ShopRecommender] = None
_lock = threading.Lock()


def recommender(shop: Shop) -> ShopRecommender:
    """The shop's recommender, trained from the interaction log on first use if no model is saved."""
    global _recommender
    with _lock:
        if _recommender is None:
            path = ensure_model(get_settings().recommender_file, shop_db(), shop.kg)
            _recommender = ShopRecommender.load(path, shop.kg, shop_db())
        return _recommender


class ActionRecommend(ShopAction):
    """Suggest products, each with a short reason and a card."""

    def name(self) -> Text:
        return "action_recommend"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        facets = request_from(list(tracker.latest_message.get("entities") or []), shop.vocabulary())
        focus = tracker.get_slot(FOCUS_SLOT)
        picks = self.picks(recommender(shop), customer_id(tracker), focus, facets.category, SIMILAR.search(text))
        if facets.max_price is not None:
            picks = [s for s in picks if s.product.price <= Decimal(facets.max_price)]
        if not picks:
            dispatcher.utter_message(text="Sorry, I have no suggestions that fit right now. Tell me what you're "
                                          "looking for and I'll search for it.")
            return []
        lines = ["Here are some picks for you:"]
        lines += [f"{n}. {s.product.name} – {render.money(s.product.price, s.product.currency)} ({s.reason})"
                  for n, s in enumerate(picks, 1)]
        carousel = render.carousel_payload([s.product for s in picks], get_settings().public_url)
        for card, suggestion in zip(carousel["cards"], picks):
            card["reason"] = suggestion.reason
        dispatcher.utter_message(text="\n".join(lines), json_message=carousel)
        return []

    @staticmethod
    def picks(
        engine: ShopRecommender, customer: Optional[str], focus: Optional[str], category: Optional[str], similar: bool
    ) -> list[Suggestion]:
        """Similar items when asked for or when only a product is known; the customer's picks otherwise."""
        if focus and (similar or not customer):
            return engine.like([focus], n=3)
        if customer:
            return engine.for_customer(customer, n=3, category=category)
        return engine.popular(n=3)

"""Suggestions mid-conversation: picks that fit the request, for the shopper and their segment, with reasons;
a running campaign for the shopper's segment first (unless they are in its control group)."""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.behaviour import record_shown
from actions.offers import campaign_payload
from actions.orders import customer_id, shop_db
from actions.products import FOCUS_SLOT, ShopAction, looking_at
from knowledge.campaigns import offer_for, record_exposure
from knowledge.products import Product, get_products
from knowledge.recommend.request import parse_request
from knowledge.recommend.shop import LiveRecommender, ShopRecommender, Suggestion, ensure_model
from knowledge.settings import get_settings
from knowledge.shop import Shop

logger = logging.getLogger(__name__)

_live: Optional[LiveRecommender] = None
_lock = threading.Lock()


def recommender(shop: Shop) -> ShopRecommender:
    """The shop's recommender: trained on first use if no model is saved, reloaded when its file changes."""
    global _live
    with _lock:
        if _live is None:
            path = ensure_model(get_settings().recommender_file, shop_db(), shop.kg)
            _live = LiveRecommender(path, shop.kg, shop_db(), search=shop.search)
    return _live.get()


def resolver(shop: Shop):  # noqa: ANN201 - Callable[[str], Optional[Product]]
    """A function from a product mention ("the trailblazer 2") to the product, when it names one."""

    def resolve(mention: str) -> Optional[Product]:
        resolution = shop.resolve(mention)
        best = resolution.best or (resolution.matches[0] if resolution.matches else None)
        return shop.product(best.product_id) if best is not None else None

    return resolve


class ActionRecommend(ShopAction):
    """Suggest products that fit what was asked, each with a short reason and a card."""

    def name(self) -> Text:
        return "action_recommend"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        focus_id = tracker.get_slot(FOCUS_SLOT)
        focus = shop.product(focus_id) if focus_id else None
        request = parse_request(tracker.latest_message.get("text") or "",
                                list(tracker.latest_message.get("entities") or []),
                                shop.vocabulary(), resolve=resolver(shop), focus=focus)
        customer = customer_id(tracker)
        self.offer(dispatcher, tracker, shop, customer)
        picks = recommender(shop).recommend(request, customer_id=customer, session_id=tracker.sender_id,
                                            viewed=[focus.id] if focus else [])
        if not picks:
            currency = get_settings().currency
            dispatcher.utter_message(
                text=f"Sorry, nothing in stock fits {request.describe(lambda a: render.money(a, currency))} right now. "
                     "Try another budget, colour or brand.")
            return []
        self.show(dispatcher, picks)
        record_shown(tracker, [s.product.id for s in picks])
        return looking_at([s.product for s in picks])  # "tell me about the second one" means the second pick

    @staticmethod
    def show(dispatcher: CollectingDispatcher, picks: list[Suggestion]) -> None:
        """The picks as a numbered list with reasons, and as cards."""
        lines = ["Here are some picks for you:"]
        lines += [f"{n}. {s.product.name} – {render.money(s.product.price, s.product.currency)} ({s.reason})"
                  for n, s in enumerate(picks, 1)]
        carousel = render.carousel_payload([s.product for s in picks], get_settings().public_url)
        for card, suggestion in zip(carousel["cards"], picks):
            card["reason"] = suggestion.reason
        dispatcher.utter_message(text="\n".join(lines), json_message=carousel)

    @staticmethod
    def offer(dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop, customer: Optional[str]) -> None:
        """Show the running campaign of the customer's segment (once per conversation), unless they are held out."""
        if not customer:
            return
        try:
            offer = offer_for(shop.kg, shop_db(), customer, date.today(), get_settings().campaign_holdout)
            if offer is None:
                return
            products = [p for p in get_products(shop.kg, list(offer.campaign.products)) if p.in_stock]
            if not products:
                return
            if not record_exposure(shop_db(), offer, customer, tracker.sender_id, "chat",
                                   tuple(p.id for p in products)):
                return  # already shown (or held out) in this conversation
            if offer.control:
                return
            dispatcher.utter_message(text=offer.campaign.message,
                                     json_message=campaign_payload(offer.campaign, products, get_settings().public_url))
        except Exception:  # noqa: BLE001 - the picks matter more than the campaign
            logger.exception("could not show the campaign")

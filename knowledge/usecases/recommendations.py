"""Suggestions mid-conversation: picks that fit what the shopper asked for, and the campaign of their segment.

The recommender is the one saved at ``model_file`` (trained from the interaction log on first use when there is
none, reloaded when the file changes); the request is read from the message's words and entities; the campaign
of a signed-in customer's segment is offered once per conversation, unless they are in its control group.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Optional, Sequence

from knowledge.campaigns import Campaign, offer_for, record_exposure
from knowledge.products import Product, get_products
from knowledge.recommend.request import Request, parse_request
from knowledge.recommend.shop import LiveRecommender, ShopRecommender, Suggestion, ensure_model
from knowledge.shop import Shop
from knowledge.shopdb.engine import DB
from knowledge.sparql import SparqlEndpoint


@dataclass(frozen=True)
class Picks:
    """The products suggested for a request (best first, each with its reason), and the request as understood."""

    request: Request
    suggestions: list[Suggestion]

    @property
    def products(self) -> list[Product]:
        """The suggested products, in order."""
        return [suggestion.product for suggestion in self.suggestions]


@dataclass(frozen=True)
class CampaignOffer:
    """A campaign to show a shopper now, with its products that are in stock."""

    campaign: Campaign
    products: list[Product]


class Recommendations:
    """Picks and campaign offers for shoppers of ``shop``, from the model at ``model_file`` and the database ``db``."""

    def __init__(self, shop: Shop, db: DB, model_file: Path, holdout: float = 0.1,
                 today: Callable[[], date] = date.today) -> None:
        self.shop, self.db, self.model_file, self.holdout, self.today = shop, db, Path(model_file), holdout, today
        self._live: Optional[LiveRecommender] = None
        self._lock = threading.Lock()

    def recommender(self) -> ShopRecommender:
        """The saved recommender: trained on first use if there is none, reloaded when its file changes."""
        with self._lock:
            if self._live is None:
                ensure_model(self.model_file, self.db, self.shop.kg)
                self._live = LiveRecommender(self.model_file, self.shop.kg, self.db, search=self.shop.search)
        return self._live.get()

    def resolve(self, mention: str) -> Optional[Product]:
        """The product a mention ("the trailblazer 2") names, when it names one."""
        resolution = self.shop.resolve(mention)
        best = resolution.best or (resolution.matches[0] if resolution.matches else None)
        return self.shop.product(best.product_id) if best is not None else None

    def request(self, text: str, entities: Sequence[dict], focus: Optional[Product] = None) -> Request:
        """What a message asks for: facets, budgets, "cheaper than", words, relative to the product in focus."""
        return parse_request(text, list(entities), self.shop.vocabulary(), resolve=self.resolve, focus=focus)

    def suggest(self, text: str, entities: Sequence[dict], focus_id: Optional[str] = None,
                customer_id: Optional[str] = None, session_id: Optional[str] = None) -> Picks:
        """Picks that fit the message, for this shopper (their history, segment and what this conversation saw)."""
        focus = self.shop.product(focus_id) if focus_id else None
        request = self.request(text, entities, focus)
        suggestions = self.recommender().recommend(request, customer_id=customer_id, session_id=session_id,
                                                   viewed=[focus.id] if focus else [])
        return Picks(request, suggestions)

    def campaign_offer(self, customer_id: Optional[str], session_id: Optional[str],
                       source: str = "chat") -> Optional[CampaignOffer]:
        """The running campaign of the customer's segment to show in this conversation, once (``campaign_to_show``)."""
        return campaign_to_show(self.shop.kg, self.db, customer_id, session_id, self.today(), self.holdout, source)


def campaign_to_show(kg: SparqlEndpoint, db: DB, customer_id: Optional[str], session_id: Optional[str], today: date,
                     holdout: float, source: str = "chat", every_time: bool = False) -> Optional[CampaignOffer]:
    """The running campaign of the customer's segment to show now, with its products in stock.

    Never to its control group, whose holding out is recorded all the same; each conversation's first exposure
    is recorded, and the offer is made only then unless ``every_time`` (the store page's greeting)."""
    if not customer_id:
        return None
    offer = offer_for(kg, db, customer_id, today, holdout)
    if offer is None:
        return None
    products = [p for p in get_products(kg, list(offer.campaign.products)) if p.in_stock]
    if not products:
        return None
    first = record_exposure(db, offer, customer_id, session_id, source, tuple(p.id for p in products))
    if offer.control or not (first or every_time):
        return None
    return CampaignOffer(offer.campaign, products)

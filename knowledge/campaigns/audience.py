"""Who sees a campaign: the signed-in shoppers of its segment, except a hold-out share kept as the control group.

The hold-out is decided per (campaign, customer) by a hash, so a shopper stays in the same group for
the whole campaign, across conversations and processes, without storing anything. Each time the
campaign is (or, for the control group, would have been) shown, one exposure per conversation is
written to the behaviour log: ``campaign_shown`` or ``campaign_held_out``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Optional

from knowledge.campaigns.model import Campaign, active_campaigns
from knowledge.shopdb.behaviour import Event, has_event, record_events
from knowledge.shopdb.engine import DB
from knowledge.sparql import SparqlEndpoint


def in_control(campaign_id: str, customer_id: str, share: float) -> bool:
    """Whether the customer is in the campaign's hold-out group (a stable hash below ``share``)."""
    digest = hashlib.sha256(f"{campaign_id}\x00{customer_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class Offer:
    """The campaign a customer's segment gets now, and whether this customer is held out."""

    campaign: Campaign
    segment: str
    control: bool

    @property
    def arm(self) -> str:
        """``shown`` or ``control``."""
        return "control" if self.control else "shown"


def offer_for(
    kg: SparqlEndpoint,
    db: DB,
    customer_id: Optional[str],
    today: Optional[date] = None,
    holdout: Optional[float] = None,
) -> Optional[Offer]:
    """The running campaign for a signed-in customer's stored segment (latest start first), or None."""
    from knowledge.segments.storage import segment_of

    if not customer_id:
        return None
    segment = segment_of(db, customer_id)
    if segment is None or segment.id < 0:
        return None
    campaigns = active_campaigns(kg, today or date.today(), segment.name)
    if not campaigns:
        return None
    if holdout is None:
        from knowledge.settings import get_settings

        holdout = get_settings().campaign_holdout
    campaign = campaigns[0]
    return Offer(campaign, segment.name, in_control(campaign.id, customer_id, campaign.holdout_share(holdout)))


def record_exposure(db: DB, offer: Offer, customer_id: str, session_id: Optional[str], source: str = "chat",
                    products: tuple[str, ...] = ()) -> bool:
    """Log that the offer was shown (or held out) in this conversation, once per conversation; whether it was new."""
    kind = "campaign_held_out" if offer.control else "campaign_shown"
    if has_event(db, kind, offer.campaign.id, customer_id=customer_id, session_id=session_id):
        return False
    shown = products or (None,)
    record_events(db, [Event(kind, product_id=product, customer_id=customer_id, session_id=session_id,
                             campaign_id=offer.campaign.id, source=source) for product in shown])
    return True

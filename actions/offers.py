"""How a campaign looks in the chat and the widget's greeting: its products as cards that remember the campaign."""

from __future__ import annotations

from typing import Any, Iterable

from actions import render
from knowledge.campaigns import Campaign
from knowledge.products import Product


def campaign_payload(campaign: Campaign, products: Iterable[Product], public_url: str) -> dict[str, Any]:
    """A carousel of the campaign's products; "Tell me more" carries the campaign, so its clicks are counted."""
    carousel = render.carousel_payload(products, public_url)
    for card in carousel["cards"]:
        card["reason"] = campaign.name
        for button in card["buttons"]:
            if button["payload"].startswith("/ask_product_info"):
                button["payload"] = render.payload("ask_product_info", product=card["id"], campaign=campaign.id)
    carousel["campaign"] = {"id": campaign.id, "name": campaign.name, "message": campaign.message}
    return carousel

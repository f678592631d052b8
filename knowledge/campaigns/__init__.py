"""Segment-targeted campaigns: staff put an offer for one shopper segment in the graph; the widget shows it.

    change = create_campaign({"id": "spring-runners", "name": "Spring run", "segment": "Runners",
                              "message": "20% off trail shoes this week", "products": "P0001, P0002",
                              "start": "2026-03-01", "end": "2026-03-31"})
    Editor.from_settings().apply(change, "ada")             # SHACL-validated, audited, revertable
    offer = offer_for(kg, db, "C0042")                       # the campaign for C0042's segment, or None
    offer.control                                            # True for the hold-out share: not shown
    campaign_stats(db, get_campaign(kg, "spring-runners"))   # clicks and purchases per segment vs control

Modules: ``model`` (the campaign as the graph holds it, reading), ``changes`` (builders of staff edits),
``audience`` (who sees it, the hold-out group, exposures), ``stats`` (the campaign page's figures and chart).
"""

from knowledge.campaigns.audience import Offer, in_control, offer_for, record_exposure
from knowledge.campaigns.changes import create_campaign, delete_campaign, update_campaign
from knowledge.campaigns.model import (
    Campaign,
    active_campaigns,
    campaign_iri,
    get_campaign,
    list_campaigns,
    targets,
)
from knowledge.campaigns.stats import ArmStats, campaign_chart, campaign_stats

__all__ = [
    "ArmStats",
    "Campaign",
    "Offer",
    "active_campaigns",
    "campaign_chart",
    "campaign_iri",
    "campaign_stats",
    "create_campaign",
    "delete_campaign",
    "get_campaign",
    "in_control",
    "list_campaigns",
    "offer_for",
    "record_exposure",
    "targets",
    "update_campaign",
]

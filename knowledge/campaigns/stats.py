"""A campaign's figures: per segment, clicks and purchases of its products by the shoppers it was shown to,
by the hold-out control group and by the segments it did not target, inside its dates; and a chart."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Optional

from sqlalchemy import func, select

from knowledge.campaigns.audience import in_control
from knowledge.campaigns.model import Campaign, targets
from knowledge.shopdb.behaviour import BehaviourEvent
from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import Order, OrderLine

SHOWN, CONTROL, OTHER = "shown", "control (hold-out)", "not targeted"
#: Events that count as a click on one of the campaign's products.
CLICKS = ("view", "info", "click", "rec_click", "campaign_click", "cart")


@dataclass(frozen=True)
class ArmStats:
    """One row of the campaign page: a segment's shoppers in one arm and what they did with its products."""

    segment: str
    arm: str
    members: int
    reached: int  # saw the campaign (control: would have seen it)
    clickers: int
    clicks: int
    buyers: int
    units: int

    @property
    def click_rate(self) -> float:
        """Members who clicked one of the products."""
        return self.clickers / self.members if self.members else 0.0

    @property
    def purchase_rate(self) -> float:
        """Members who bought one of the products."""
        return self.buyers / self.members if self.members else 0.0


def _window(campaign: Campaign, today: date) -> tuple[datetime, datetime]:
    start = campaign.start or today
    end = min(campaign.end or today, today) if (campaign.end or today) >= start else start
    return datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)


def campaign_stats(db: DB, campaign: Campaign, holdout: float, today: Optional[date] = None) -> list[ArmStats]:
    """Per stored segment and arm: members, reached, who clicked and bought the campaign's products in its dates."""
    from knowledge.segments.storage import customer_segments

    segments = customer_segments(db, with_no_purchase=True)
    share = campaign.holdout_share(holdout)
    begin, stop = _window(campaign, today or date.today())
    products = list(campaign.products)
    clicks: dict[str, int] = defaultdict(int)
    units: dict[str, int] = defaultdict(int)
    reached: set[str] = set()
    with session_scope(db) as session:
        for customer, count in session.execute(
            select(BehaviourEvent.customer_id, func.count())
            .where(BehaviourEvent.kind.in_(CLICKS), BehaviourEvent.product_id.in_(products),
                   BehaviourEvent.customer_id.is_not(None), BehaviourEvent.at >= begin, BehaviourEvent.at < stop)
            .group_by(BehaviourEvent.customer_id)
        ):
            clicks[customer] += int(count)
        reached = set(session.execute(
            select(BehaviourEvent.customer_id).distinct()
            .where(BehaviourEvent.campaign_id == campaign.id,
                   BehaviourEvent.kind.in_(("campaign_shown", "campaign_held_out")),
                   BehaviourEvent.customer_id.is_not(None))
        ).scalars())
        for customer, quantity in session.execute(
            select(Order.customer_id, func.sum(OrderLine.quantity))
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(OrderLine.product_id.in_(products), Order.status != "cancelled",
                   Order.placed_at >= begin, Order.placed_at < stop)
            .group_by(Order.customer_id)
        ):
            units[customer] += int(quantity or 0)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for customer, segment in segments.items():
        if targets(campaign.segment, segment):
            arm = CONTROL if in_control(campaign.id, customer, share) else SHOWN
        else:
            arm = OTHER
        groups[(segment, arm)].append(customer)
    order = {SHOWN: 0, CONTROL: 1, OTHER: 2}
    rows = []
    for (segment, arm), members in sorted(groups.items(), key=lambda item: (order[item[0][1]], item[0][0])):
        rows.append(ArmStats(
            segment=segment, arm=arm, members=len(members), reached=sum(1 for c in members if c in reached),
            clickers=sum(1 for c in members if clicks.get(c)), clicks=sum(clicks.get(c, 0) for c in members),
            buyers=sum(1 for c in members if units.get(c)), units=sum(units.get(c, 0) for c in members),
        ))
    return rows


def campaign_chart(rows: list[ArmStats], title: str = "") -> str:
    """Click and purchase rates per segment and arm as a bar chart: a ``data:image/png;base64,...`` URL."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [f"{r.segment[:28]}\n{r.arm}" for r in rows]
    figure = Figure(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    positions = list(range(len(rows)))
    width = 0.38
    axes.bar([p - width / 2 for p in positions], [100 * r.click_rate for r in rows], width, label="clicked a product (%)",
             color="#3b6fd6")
    axes.bar([p + width / 2 for p in positions], [100 * r.purchase_rate for r in rows], width,
             label="bought a product (%)", color="#3f9b5b")
    axes.set_xticks(positions)
    axes.set_xticklabels(labels, fontsize=7, rotation=30, ha="right")
    axes.set_ylabel("% of the segment's members")
    if title:
        axes.set_title(title, fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

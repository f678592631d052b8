"""Containment: how much the assistant handles alone, from the tracker store and the hand-over queue.

* conversations per day: conversations with at least one shopper message that day (UTC);
* share handed over: hand-overs asked for, against those conversations;
* median wait to the first agent reply: from the request to a person's first answer (hand-overs answered);
* fallback rate: the assistant's fallbacks (``action_fallback``, ``action_default_fallback``) per shopper message;
* the intents most often followed by a hand-over: the intent of the shopper's message before the request.
"""

from __future__ import annotations

import base64
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Optional

from bot.handoff.transcript import FALLBACK_ACTIONS
from knowledge.shopdb.handoff import Handoff

Activity = tuple[str, str, float, Optional[str], Optional[str]]  # sender, type, timestamp, intent, action


@dataclass(frozen=True)
class Day:
    """One day's conversations and hand-overs."""

    day: date
    conversations: int
    handed_over: int

    @property
    def share(self) -> float:
        """The share of the day's conversations handed over (0 without conversations)."""
        return self.handed_over / self.conversations if self.conversations else 0.0


@dataclass(frozen=True)
class Containment:
    """The containment figures over a period."""

    start: date
    end: date
    days: tuple[Day, ...]
    conversations: int
    handed_over: int
    answered: int
    median_wait_seconds: Optional[float]
    messages: int
    fallbacks: int
    top_intents: tuple[tuple[str, int], ...]
    triggers: tuple[tuple[str, int], ...]

    @property
    def share(self) -> float:
        """The share of conversations handed over to a person."""
        return self.handed_over / self.conversations if self.conversations else 0.0

    @property
    def fallback_rate(self) -> float:
        """Fallbacks per shopper message."""
        return self.fallbacks / self.messages if self.messages else 0.0


def containment(activity: Iterable[Activity], handoffs: Iterable[Handoff], start: date, end: date) -> Containment:
    """The figures for the days from ``start`` to ``end`` (both included, UTC)."""
    def day_of(timestamp: float) -> date:
        return datetime.fromtimestamp(timestamp, tz=timezone.utc).date()

    talkers: dict[date, set[str]] = defaultdict(set)
    messages = fallbacks = 0
    for sender, kind, timestamp, _intent, action in activity:
        if timestamp is None or not start <= day_of(timestamp) <= end:
            continue
        if kind == "user":
            talkers[day_of(timestamp)].add(sender)
            messages += 1
        elif kind == "action" and action in FALLBACK_ACTIONS:
            fallbacks += 1
    asked: dict[date, set[str]] = defaultdict(set)
    waits, intents, triggers = [], Counter(), Counter()
    for handoff in handoffs:
        day = handoff.created_at.date()
        if not start <= day <= end:
            continue
        asked[day].add(handoff.sender_id)
        intents[handoff.previous_intent or "(first message)"] += 1
        triggers[handoff.triggered_by or "asked"] += 1
        if handoff.first_reply_at is not None:
            waits.append((handoff.first_reply_at - handoff.created_at).total_seconds())
    days = []
    current = start
    while current <= end:
        days.append(Day(current, len(talkers[current] | asked[current]), len(asked[current])))
        current += timedelta(days=1)
    everyone = set().union(*talkers.values(), *asked.values()) if (talkers or asked) else set()
    return Containment(
        start=start, end=end, days=tuple(days), conversations=len(everyone),
        handed_over=len(set().union(*asked.values())) if asked else 0, answered=len(waits),
        median_wait_seconds=statistics.median(waits) if waits else None, messages=messages, fallbacks=fallbacks,
        top_intents=tuple(intents.most_common(5)), triggers=tuple(triggers.most_common()),
    )


def containment_chart(figures: Containment) -> str:
    """Conversations per day with the share handed over, as a ``data:image/png;base64,...`` URL."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(6.0, 0.28 * len(figures.days) + 3), 3.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    labels = [day.day.strftime("%d %b") for day in figures.days]
    positions = list(range(len(figures.days)))
    axes.bar(positions, [day.conversations for day in figures.days], color="#3b6fd6", label="conversations")
    axes.bar(positions, [day.handed_over for day in figures.days], color="#d9822b", label="handed to a person")
    axes.set_ylabel("conversations")
    step = max(1, len(labels) // 12)
    axes.set_xticks(positions[::step])
    axes.set_xticklabels(labels[::step], fontsize=7, rotation=30, ha="right")
    share = axes.twinx()
    share.plot(positions, [100 * day.share for day in figures.days], color="#7a3fb0", marker=".", linewidth=1,
               label="% handed over")
    share.set_ylabel("% handed over")
    share.set_ylim(0, 100)
    handles = axes.get_legend_handles_labels()[0] + share.get_legend_handles_labels()[0]
    names = axes.get_legend_handles_labels()[1] + share.get_legend_handles_labels()[1]
    axes.legend(handles, names, fontsize=8, loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    axes.set_title(f"Conversations per day, {figures.start:%d %b} – {figures.end:%d %b %Y}", fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

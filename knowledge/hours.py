"""When the store's people are there: opening hours as the graph states them, machine-readable.

The store node carries schema.org ``OpeningHoursSpecification`` nodes and its time zone::

    shop:store schema:openingHoursSpecification policy:hours-weekdays ; shop:timeZone "Europe/Berlin" .
    policy:hours-weekdays a schema:OpeningHoursSpecification ;
        schema:dayOfWeek schema:Monday, schema:Tuesday, schema:Wednesday, schema:Thursday, schema:Friday ;
        schema:opens "09:00:00"^^xsd:time ; schema:closes "18:00:00"^^xsd:time .

As schema.org says: ``opens`` equal to ``closes`` means closed that day, ``closes`` before ``opens`` runs past
midnight, and a specification with ``validFrom``/``validThrough`` dates (a holiday, a late-opening week) replaces
the regular hours on the days it covers. A store without any specification has no hours to keep: it counts as
open, and only whether someone is there decides. ``shop:contactHours`` keeps the text shown to shoppers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from knowledge.sparql import SparqlEndpoint, py, render

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_LOOKAHEAD_DAYS = 31


@dataclass(frozen=True)
class HoursSpec:
    """One opening-hours specification: on these weekdays (0 = Monday), from ``opens`` to ``closes``."""

    days: frozenset[int]
    opens: time
    closes: time
    valid_from: Optional[date] = None
    valid_through: Optional[date] = None

    @property
    def special(self) -> bool:
        """Whether it holds for some dates only (it then replaces the regular hours on those dates)."""
        return self.valid_from is not None or self.valid_through is not None

    def covers(self, day: date) -> bool:
        """Whether it speaks about this date (its weekday, within its validity)."""
        if day.weekday() not in self.days:
            return False
        return (self.valid_from is None or day >= self.valid_from) and (
            self.valid_through is None or day <= self.valid_through)

    def interval(self, day: date, zone: ZoneInfo) -> Optional[tuple[datetime, datetime]]:
        """When the store is open under this specification, starting on ``day`` (None: closed that day)."""
        if self.opens == self.closes:
            return None
        start = datetime.combine(day, self.opens, tzinfo=zone)
        end_day = day if self.closes > self.opens else day + timedelta(days=1)
        end = datetime.combine(end_day, self.closes, tzinfo=zone)
        if self.closes == time(23, 59) or self.closes == time(23, 59, 59):
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)  # "until the end of the day"
        return start, end


@dataclass(frozen=True)
class OpeningHours:
    """The store's opening hours in its time zone."""

    specs: tuple[HoursSpec, ...]
    zone_name: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        """The store's time zone (UTC when the graph names none, or one this machine does not know)."""
        try:
            return ZoneInfo(self.zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def specs_for(self, day: date) -> list[HoursSpec]:
        """The specifications that decide a date: its special ones if it has any, else the regular ones."""
        covering = [spec for spec in self.specs if spec.covers(day)]
        special = [spec for spec in covering if spec.special]
        return special or [spec for spec in covering if not spec.special]

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The opening intervals that start on a date (in the store's time zone), earliest first."""
        zone = self.zone
        found = [spec.interval(day, zone) for spec in self.specs_for(day)]
        return sorted(interval for interval in found if interval is not None)

    def is_open(self, at: datetime) -> bool:
        """Whether the store is open at a moment (an aware datetime; a naive one is taken as UTC)."""
        local = _aware(at).astimezone(self.zone)
        for day in (local.date() - timedelta(days=1), local.date()):
            if any(start <= local < end for start, end in self.intervals(day)):
                return True
        return False

    def next_opening(self, at: datetime) -> Optional[datetime]:
        """The next moment the store opens after ``at`` (None when it never opens within a month)."""
        local = _aware(at).astimezone(self.zone)
        for offset in range(MAX_LOOKAHEAD_DAYS + 1):
            for start, _end in self.intervals(local.date() + timedelta(days=offset)):
                if start > local:
                    return start
        return None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def when(moment: datetime, now: datetime) -> str:
    """A moment in words relative to now, in the moment's own zone: "today at 9:00", "on Monday at 9:00 CET"."""
    local_now = _aware(now).astimezone(moment.tzinfo)
    days = (moment.date() - local_now.date()).days
    clock = f"{moment.hour}:{moment.minute:02d} {moment.strftime('%Z')}".rstrip()
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    if days < 7:
        return f"on {DAY_NAMES[moment.weekday()]} at {clock}"
    return f"on {DAY_NAMES[moment.weekday()]}, {moment:%d %B}, at {clock}"


def _day_index(term: object) -> Optional[int]:
    name = str(term).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return DAY_NAMES.index(name) if name in DAY_NAMES else None


def _time(value: object) -> Optional[time]:
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        return None


def _date(value: object) -> Optional[date]:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def opening_hours(kg: SparqlEndpoint) -> Optional[OpeningHours]:
    """The store's structured opening hours, or None when the graph states none."""
    rows = kg.select(render("""SELECT ?spec ?day ?opens ?closes ?from ?through ?zone WHERE {
      shop:store schema:openingHoursSpecification ?spec .
      ?spec schema:dayOfWeek ?day ; schema:opens ?opens ; schema:closes ?closes .
      OPTIONAL { ?spec schema:validFrom ?from } OPTIONAL { ?spec schema:validThrough ?through }
      OPTIONAL { shop:store shop:timeZone ?zone } } LIMIT 500"""))
    grouped: dict[str, dict] = {}
    zone = "UTC"
    for row in rows:
        day, opens, closes = _day_index(row["day"]), _time(py(row["opens"])), _time(py(row["closes"]))
        if "zone" in row:
            zone = str(row["zone"])
        if day is None or opens is None or closes is None:
            continue  # the shapes refuse these; a graph written around them is read as far as it makes sense
        entry = grouped.setdefault(str(row["spec"]), {"days": set(), "opens": opens, "closes": closes,
                                                      "from": _date(py(row.get("from"))),
                                                      "through": _date(py(row.get("through")))})
        entry["days"].add(day)
    if not grouped:
        return None
    specs = tuple(HoursSpec(frozenset(e["days"]), e["opens"], e["closes"], e["from"], e["through"])
                  for _, e in sorted(grouped.items()))
    return OpeningHours(specs, zone)

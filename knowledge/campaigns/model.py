"""A campaign as the graph holds it: ``campaign:<id> a shop:Campaign`` with its segment, message, products, dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Optional

from rdflib import URIRef

from knowledge.namespaces import CAMPAIGN, product_id_of
from knowledge.sparql import SparqlEndpoint, py, render

CAMPAIGN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def campaign_iri(campaign_id: str) -> URIRef:
    """The IRI of a campaign from its id, such as ``spring-runners``."""
    if not CAMPAIGN_ID.fullmatch(campaign_id or ""):
        raise ValueError(f"not a campaign id: {campaign_id!r} (lowercase letters, digits and dashes, up to 63)")
    return CAMPAIGN[campaign_id]


@dataclass(frozen=True)
class Campaign:
    """An offer for one shopper segment, shown between ``start`` and ``end`` (both days included)."""

    id: str
    name: str
    segment: str
    message: str
    products: tuple[str, ...]
    start: Optional[date]
    end: Optional[date]
    holdout: Optional[Decimal] = None  # None: the SHOPBOT_CAMPAIGN_HOLDOUT default

    def is_active(self, today: date) -> bool:
        """Whether the campaign runs on ``today``."""
        return self.start is not None and self.end is not None and self.start <= today <= self.end

    def status(self, today: date) -> str:
        """scheduled, running or ended."""
        if self.start is not None and today < self.start:
            return "scheduled"
        return "running" if self.is_active(today) else "ended"

    def holdout_share(self, default: float) -> float:
        """The share of the segment held out as the control group."""
        return float(self.holdout) if self.holdout is not None else float(default)


def targets(campaign_segment: str, segment_name: str) -> bool:
    """Whether a campaign's segment names this segment: the same name, or its leading part.

    "Bargain hunters" targets "Bargain hunters (Runners)" and "Bargain hunters, recent #2", case ignored.
    """
    wanted, name = " ".join(campaign_segment.split()).casefold(), " ".join(segment_name.split()).casefold()
    if not wanted or not name:
        return False
    return name == wanted or any(name.startswith(wanted + sep) for sep in (" (", ", ", " #"))


_FIELDS = """
SELECT ?c ?name ?segment ?message ?start ?end ?holdout WHERE {
  ?c a shop:Campaign .
  OPTIONAL { ?c schema:name ?name } OPTIONAL { ?c shop:targetSegment ?segment }
  OPTIONAL { ?c shop:message ?message } OPTIONAL { ?c schema:startDate ?start }
  OPTIONAL { ?c schema:endDate ?end } OPTIONAL { ?c shop:holdoutShare ?holdout }
  $filter
}
"""
_PRODUCTS = "SELECT ?c ?p WHERE { ?c a shop:Campaign ; shop:featuredProduct ?p . $filter } ORDER BY ?c ?p"


def _day(value: object) -> Optional[date]:
    value = py(value)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


def _decimal(value: object) -> Optional[Decimal]:
    if value is None:
        return None
    try:
        return Decimal(str(py(value)))
    except (InvalidOperation, ValueError):
        return None


def _read(kg: SparqlEndpoint, campaign: Optional[URIRef] = None) -> list[Campaign]:
    where = "FILTER(?c = $campaign)" if campaign is not None else ""
    bindings = {"campaign": campaign} if campaign is not None else {}
    rows = kg.select(render(_FIELDS.replace("$filter", where), **bindings))
    products: dict[str, list[str]] = {}
    for row in kg.select(render(_PRODUCTS.replace("$filter", where), **bindings)):
        products.setdefault(str(row["c"]), []).append(product_id_of(row["p"]))
    found: dict[str, Campaign] = {}
    for row in rows:
        iri = str(row["c"])
        if not iri.startswith(str(CAMPAIGN)) or iri in found:
            continue
        found[iri] = Campaign(
            id=iri[len(str(CAMPAIGN)):], name=str(row.get("name") or ""), segment=str(row.get("segment") or ""),
            message=str(row.get("message") or ""), products=tuple(products.get(iri, [])),
            start=_day(row.get("start")), end=_day(row.get("end")), holdout=_decimal(row.get("holdout")),
        )
    return sorted(found.values(), key=lambda c: (c.start or date.min, c.id), reverse=True)


def list_campaigns(kg: SparqlEndpoint) -> list[Campaign]:
    """Every campaign of the graph, latest start first."""
    return _read(kg)


def get_campaign(kg: SparqlEndpoint, campaign_id: str) -> Optional[Campaign]:
    """One campaign, or None when the graph has no such campaign."""
    found = _read(kg, campaign_iri(campaign_id))
    return found[0] if found else None


def active_campaigns(kg: SparqlEndpoint, today: date, segment_name: Optional[str] = None) -> list[Campaign]:
    """The campaigns running on ``today`` (for one segment when given), latest start first."""
    return [c for c in list_campaigns(kg)
            if c.is_active(today) and (segment_name is None or targets(c.segment, segment_name))]

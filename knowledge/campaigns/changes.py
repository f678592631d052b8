"""Staff edits of campaigns, built as :class:`knowledge.editing.Change` objects (validated, audited, revertable).

Fields as a form or the command line gives them: ``id`` (create only), ``name``, ``segment``, ``message``,
``products`` (ids as a list or ``"P0001, P0002"``), ``start`` and ``end`` (``YYYY-MM-DD``), ``holdout``
(a share from 0 to 0.9; empty for the default). Malformed dates, ids and numbers raise ``ValueError``;
everything else the shapes check when the change is applied.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Optional

from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD

from knowledge.campaigns.model import campaign_iri
from knowledge.editing.changes import Change
from knowledge.editing.documents import doc_key, documents
from knowledge.editing.terms import EMPTY_VERSION, Term, Triple
from knowledge.namespaces import SCHEMA, SHOP, is_product_id, product_iri
from knowledge.sparql import SparqlEndpoint

PREDICATES = {
    "name": SCHEMA.name, "segment": SHOP.targetSegment, "message": SHOP.message,
    "products": SHOP.featuredProduct, "start": SCHEMA.startDate, "end": SCHEMA.endDate,
    "holdout": SHOP.holdoutShare,
}


def _day(name: str, value: Any) -> Literal:
    text = str(value).strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"the {name} date must be written YYYY-MM-DD, not {text!r}") from None
    return Literal(day.isoformat(), datatype=XSD.date)


def _products(value: Any) -> list[URIRef]:
    items = value if isinstance(value, (list, tuple, set, frozenset)) else re.split(r"[\s,;|]+", str(value))
    ids = [str(item).strip().upper() for item in items if str(item).strip()]
    bad = [pid for pid in ids if not is_product_id(pid)]
    if bad:
        raise ValueError(f"not product ids: {', '.join(bad)} (write them like P0042)")
    return [product_iri(pid) for pid in dict.fromkeys(ids)]


def _share(value: Any) -> Literal:
    try:
        share = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        raise ValueError(f"the hold-out share must be a number from 0 to 0.9, not {value!r}") from None
    if str(value).strip().endswith("%"):
        share = share / 100
    return Literal(str(share.normalize()) if share != 0 else "0", datatype=XSD.decimal)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, (list, tuple, set, frozenset)) and not any(str(v).strip() for v in value))


def _values(fields: Mapping[str, Any]) -> dict[URIRef, list[Term]]:
    """Predicate -> new values for every field given (an empty value: no values, i.e. cleared)."""
    out: dict[URIRef, list[Term]] = {}
    for name, value in fields.items():
        key = name.strip().lower()
        if key == "id":
            continue
        if key not in PREDICATES:
            raise ValueError(f"unknown campaign field {name!r} (known: id, {', '.join(PREDICATES)})")
        predicate = PREDICATES[key]
        if _is_empty(value):
            out[predicate] = []
        elif key in ("start", "end"):
            out[predicate] = [_day(key, value)]
        elif key == "products":
            out[predicate] = list(_products(value))
        elif key == "holdout":
            out[predicate] = [_share(value)]
        else:
            out[predicate] = [Literal(" ".join(str(value).split()))]
    return out


def _check_dates(values: Mapping[URIRef, list[Term]]) -> None:
    starts, ends = values.get(SCHEMA.startDate, []), values.get(SCHEMA.endDate, [])
    if len(starts) == 1 and len(ends) == 1 and str(starts[0]) > str(ends[0]):
        raise ValueError(f"the campaign starts ({starts[0]}) after it ends ({ends[0]})")


def create_campaign(fields: Mapping[str, Any]) -> Change:
    """A change creating a campaign (refused if its id exists by the time it is applied)."""
    iri = campaign_iri(str(fields.get("id", "")).strip())
    values = _values(fields)
    _check_dates(values)
    triples: set[Triple] = {(iri, RDF.type, SHOP.Campaign)}
    triples |= {(iri, predicate, term) for predicate, terms in values.items() for term in terms}
    name = next((str(t) for t in values.get(SCHEMA.name, [])), "")
    return Change(added=frozenset(triples), summary=f"create campaign {iri.split('/')[-1]} {name}".strip(),
                  based_on=((doc_key(iri), EMPTY_VERSION),))


def _current(kg: SparqlEndpoint, campaign_id: str) -> tuple[URIRef, Any]:
    iri = campaign_iri(campaign_id)
    doc = documents(kg, [iri])[iri]
    if (iri, RDF.type, SHOP.Campaign) not in doc.triples:
        raise ValueError(f"there is no campaign {campaign_id!r}")
    return iri, doc


def update_campaign(kg: SparqlEndpoint, campaign_id: str, fields: Mapping[str, Any], summary: str = "") -> Change:
    """A change setting some fields of a campaign (built on the version read; an empty value clears a field)."""
    iri, doc = _current(kg, campaign_id)
    values = _values(fields)
    if not values:
        raise ValueError("no fields to change")
    merged: dict[URIRef, list[Term]] = {}
    for _, predicate, term in doc.triples:
        merged.setdefault(predicate, []).append(term)
    merged.update(values)
    _check_dates(merged)
    removed = {t for t in doc.triples if t[1] in values and t[2] not in values[t[1]]}
    added = {(iri, p, term) for p, terms in values.items() for term in terms if (iri, p, term) not in doc.triples}
    return Change(frozenset(added), frozenset(removed), summary or f"update campaign {campaign_id}: "
                  + ", ".join(sorted(k for k in fields if k != "id")), based_on=((doc_key(iri), doc.version),))


def delete_campaign(kg: SparqlEndpoint, campaign_id: str) -> Change:
    """A change removing a campaign and everything said about it."""
    iri, doc = _current(kg, campaign_id)
    return Change(removed=frozenset(doc.triples), summary=f"delete campaign {campaign_id}",
                  based_on=((doc_key(iri), doc.version),))


def campaign_fields(campaign: Optional[Any]) -> dict[str, str]:
    """A campaign's fields as text, for a form."""
    if campaign is None:
        return {"id": "", "name": "", "segment": "", "message": "", "products": "", "start": "", "end": "", "holdout": ""}
    return {"id": campaign.id, "name": campaign.name, "segment": campaign.segment, "message": campaign.message,
            "products": ", ".join(campaign.products), "start": str(campaign.start or ""), "end": str(campaign.end or ""),
            "holdout": "" if campaign.holdout is None else str(campaign.holdout)}

"""Turn what a shopper asked for (entities and wording) into search facets."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Optional

from knowledge.products import Product, SearchFacets
from knowledge.vocabulary import Vocabulary

_NUMBER = r"\$?\s*(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_BETWEEN = re.compile(rf"(?:between|from)\s+{_NUMBER}\s*(?:and|to|-)\s*{_NUMBER}", re.I)
_RANGE = re.compile(rf"{_NUMBER}\s*(?:-|to)\s*{_NUMBER}\s*(?:\$|dollars|bucks|usd)", re.I)
_MAX = re.compile(rf"(?:under|below|less than|cheaper than|max(?:imum)?|up to|at most|no more than|<)\s*{_NUMBER}", re.I)
_MIN = re.compile(rf"(?:over|above|more than|at least|min(?:imum)?|from|>)\s*{_NUMBER}", re.I)
_SORTS = (
    (re.compile(r"\b(cheap(est)?|lowest price|least expensive|budget|affordable)\b", re.I), "price_asc"),
    (re.compile(r"\b(most expensive|priciest|premium|high[- ]end|luxury)\b", re.I), "price_desc"),
    (re.compile(r"\b(best|top)[- ]?(rated|reviewed)?\b|\bpopular\b", re.I), "rating"),
)


def _decimal(text: Any) -> Optional[Decimal]:
    try:
        text = str(text).strip().lstrip("$").strip()
        value = Decimal(text.replace(",", "") if _THOUSANDS.fullmatch(text) else text.replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and 0 <= value < 10**7 else None


def price_range(text: str) -> tuple[Optional[Decimal], Optional[Decimal]]:
    """The lowest and highest price a sentence asks for, such as "between 50 and 80" or "under $100"."""
    for pattern in (_BETWEEN, _RANGE):
        found = pattern.search(text)
        if found:
            low, high = _decimal(found.group(1)), _decimal(found.group(2))
            return (min(low, high), max(low, high)) if low is not None and high is not None else (low, high)
    high = _MAX.search(text)
    low = _MIN.search(text)
    return (_decimal(low.group(1)) if low else None, _decimal(high.group(1)) if high else None)


def sort_order(text: str) -> Optional[str]:
    """The sort order a sentence asks for ("cheapest", "best rated"...), if any."""
    for pattern, order in _SORTS:
        if pattern.search(text):
            return order
    return None


def _first(entities: Iterable[dict], name: str, role: Optional[str] = None) -> Optional[str]:
    for entity in entities:
        if entity.get("entity") == name and (role is None or entity.get("role") == role):
            value = entity.get("value")
            if value is not None and str(value).strip():
                return str(value)
    return None


def facets_from(entities: list[dict], text: str, vocabulary: Vocabulary, limit: int = 5) -> SearchFacets:
    """Search facets from NLU entities, falling back to the wording for prices and sort order."""
    def known(name: str, lookup) -> Optional[str]:  # noqa: ANN001 - a Vocabulary lookup method
        value = _first(entities, name)
        return lookup(value) if value else None

    low, high = _decimal(_first(entities, "price", "min")), _decimal(_first(entities, "price", "max"))
    text_low, text_high = price_range(text)
    if low is None and high is None:
        low, high = text_low, text_high
        unnamed = _decimal(_first(entities, "price"))
        if unnamed is not None and low is None and high is None:
            high = unnamed
    return SearchFacets(
        category=known("category", vocabulary.category),
        brand=known("brand", vocabulary.brand),
        color=known("color", vocabulary.color),
        material=known("material", vocabulary.material),
        size=known("size", vocabulary.size),
        min_price=low,
        max_price=high,
        sort=sort_order(text) or "rating",
        limit=limit,
    )


def similar_to(product: Product, limit: int = 5) -> SearchFacets:
    """Facets for products like this one: same category, a similar price, this one left out."""
    return SearchFacets(
        category=product.category,
        min_price=(product.price * Decimal("0.6")).quantize(Decimal("0.01")),
        max_price=(product.price * Decimal("1.4")).quantize(Decimal("0.01")),
        in_stock=True,
        exclude=(product.id,),
        sort="rating",
        limit=limit,
    )

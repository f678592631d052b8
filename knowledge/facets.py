"""What one message asks of a search, read from its NLU entities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Optional

from knowledge.products import SORTS, Product, SearchFacets
from knowledge.vocabulary import Vocabulary

ANOTHER = "another"  # the value of an excluded brand that means "not the brand of the product talked about"


_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def decimal_of(text: Any) -> Optional[Decimal]:
    """A price amount from an entity value such as "100", "$99.90", "1,200", "99,90" or "1.5k", or None."""
    text = str(text).strip().lstrip("$€£").strip().rstrip(".").lower()
    factor = 1000 if text.endswith("k") else 1
    text = text.removesuffix("k")
    text = text.replace(",", "") if _THOUSANDS.fullmatch(text) else text.replace(",", ".")
    try:
        value = Decimal(text) * factor
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and 0 <= value < 10**7 else None


@dataclass(frozen=True)
class SearchRequest:
    """What one message asks of a search: facets it names, a relative price, exclusions, paging."""

    category: Optional[str] = None
    brand: Optional[str] = None
    color: Optional[str] = None
    material: Optional[str] = None
    size: Optional[str] = None
    min_price: Optional[Decimal] = None
    max_price: Optional[Decimal] = None
    sort: Optional[str] = None
    in_stock: bool = False
    price_change: Optional[str] = None  # "lower" or "higher" than the products talked about
    keywords: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    exclude_colors: tuple[str, ...] = ()
    other_brand: bool = False  # "from another brand": not the brand of the product talked about

    def is_empty(self) -> bool:
        """Whether the message asks nothing of a search."""
        return self == SearchRequest()

    def names_facets(self) -> bool:
        """Whether the message names a facet or a price, not only words or an order."""
        return any((self.category, self.brand, self.color, self.material, self.size, self.in_stock,
                    self.min_price is not None, self.max_price is not None, self.price_change,
                    self.exclude_brands, self.exclude_colors, self.other_brand))


def _values(entities: Iterable[dict], name: str, role: Optional[str] = None) -> list[str]:
    found = []
    for entity in entities:
        if entity.get("entity") == name and (entity.get("role") or None) == role:
            value = entity.get("value")
            if value is not None and str(value).strip():
                found.append(str(value).strip())
    return found


def _known(values: list[str], lookup: Callable[[str], Optional[str]]) -> Optional[str]:
    for value in values:
        known = lookup(value)
        if known:
            return known
    return None


def request_from(entities: list[dict], vocabulary: Vocabulary) -> SearchRequest:
    """What the entities of one message ask of a search; values the catalog doesn't know are dropped."""
    names = [(e["start"], e["end"]) for e in entities if e.get("entity") == "product"
             and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)]
    entities = [e for e in entities if e.get("entity") != "price" or not isinstance(e.get("start"), int)
                or not any(a <= e["start"] < b for a, b in names)]  # the "2" of "Trailblazer 2" is no budget
    low = decimal_of(next(iter(_values(entities, "price", "min")), None))
    high = decimal_of(next(iter(_values(entities, "price", "max")), None))
    unnamed = decimal_of(next(iter(_values(entities, "price")), None))
    if low is None and high is None and unnamed is not None:
        high = unnamed  # "jackets for 60": a budget
    if low is not None and high is not None and low > high:
        low, high = high, low
    excluded_brands = _values(entities, "brand", "exclude")
    sorts = [s for s in _values(entities, "sort") if s in SORTS]
    changes = [c for c in _values(entities, "price_change") if c in ("lower", "higher")]
    return SearchRequest(
        category=_known(_values(entities, "category"), vocabulary.category),
        brand=_known(_values(entities, "brand"), vocabulary.brand),
        color=_known(_values(entities, "color"), vocabulary.color),
        material=_known(_values(entities, "material"), vocabulary.material),
        size=_known(_values(entities, "size"), vocabulary.size),
        min_price=low,
        max_price=high,
        sort=sorts[0] if sorts else None,
        in_stock=bool(_values(entities, "stock")),
        price_change=changes[0] if changes else None,
        keywords=tuple(dict.fromkeys(k.lower() for k in _values(entities, "keywords")))[:8],
        exclude_brands=tuple(dict.fromkeys(filter(None, (vocabulary.brand(b) for b in excluded_brands)))),
        exclude_colors=tuple(dict.fromkeys(
            filter(None, (vocabulary.color(c) for c in _values(entities, "color", "exclude"))))),
        other_brand=any(vocabulary.brand(b) is None for b in excluded_brands),
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

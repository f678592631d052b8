"""The search a shopper is running, and how each new message reshapes it.

A shopper's search lives on between messages: "jackets under 200", then "in black", "not Peakform",
"anything cheaper?", "show me more". ``SearchState`` holds it (as a plain dict in a Rasa slot), ``refine``
merges what one message asks (a ``SearchRequest``) into it, and ``describe`` says what the search now is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal
from typing import Any, Optional, Sequence

from knowledge.facets import SearchRequest, decimal_of, similar_to
from knowledge.formatting import listing, money
from knowledge.products import SORTS, Product, SearchFacets

CENT = Decimal("0.01")
PAGE = 5
PRICES = ("min_price", "max_price", "below", "above")


@dataclass(frozen=True)
class SearchState:
    """The search a shopper is running: its facets, the words that describe what they want, the page."""

    category: Optional[str] = None
    brand: Optional[str] = None
    color: Optional[str] = None
    material: Optional[str] = None
    size: Optional[str] = None
    min_price: Optional[Decimal] = None
    max_price: Optional[Decimal] = None
    below: Optional[Decimal] = None  # "cheaper" than the products talked about: prices under this one
    above: Optional[Decimal] = None  # "pricier" than the products talked about: prices over this one
    sort: Optional[str] = None
    in_stock: bool = False
    keywords: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    exclude_colors: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()  # product ids, such as the product a "similar to" search started from
    like: Optional[str] = None  # the name of that product
    offset: int = 0

    def facets(self, limit: int = PAGE) -> SearchFacets:
        """The facets that find this search's products, from its offset on."""
        low = max(filter(None, (self.min_price, self.above + CENT if self.above is not None else None)), default=None)
        high = min(filter(lambda v: v is not None, (self.max_price, self.below - CENT if self.below is not None else None)),
                   default=None)
        return SearchFacets(
            category=self.category, brand=self.brand, color=self.color, material=self.material, size=self.size,
            min_price=low, max_price=high, in_stock=self.in_stock,
            sort=self.sort or "rating", limit=limit, offset=self.offset, exclude=self.exclude,
            exclude_brands=self.exclude_brands, exclude_colors=self.exclude_colors,
        )

    def is_empty(self) -> bool:
        """Whether nothing narrows the search."""
        return replace(self, sort=None, offset=0) == SearchState()

    def to_slot(self) -> dict[str, Any]:
        """The state as JSON-ready values for a Rasa slot."""
        values = asdict(self)
        for name in PRICES:
            values[name] = str(values[name]) if values[name] is not None else None
        for name in ("keywords", "exclude_brands", "exclude_colors", "exclude"):
            values[name] = list(values[name])
        return {name: value for name, value in values.items() if value not in (None, [], False, 0)}

    @classmethod
    def from_slot(cls, value: Any) -> Optional["SearchState"]:
        """The state a slot holds, or None when it holds nothing usable."""
        if not isinstance(value, dict):
            return None
        kwargs: dict[str, Any] = {}
        for spec in fields(cls):
            raw = value.get(spec.name)
            if raw is None:
                continue
            if spec.name in PRICES:
                kwargs[spec.name] = decimal_of(raw)
            elif spec.name in ("keywords", "exclude_brands", "exclude_colors", "exclude"):
                kwargs[spec.name] = tuple(str(item) for item in raw)[:20] if isinstance(raw, list) else ()
            elif spec.name == "in_stock":
                kwargs[spec.name] = bool(raw)
            elif spec.name == "offset":
                kwargs[spec.name] = max(0, min(int(raw), 10_000)) if str(raw).isdigit() else 0
            else:
                kwargs[spec.name] = str(raw)
        state = cls(**kwargs)
        return state if state.sort in (None, *SORTS) else replace(state, sort=None)


def refine(state: Optional[SearchState], request: SearchRequest, reference: Sequence[Product] = ()) -> SearchState:
    """The search after one more message: a new category starts afresh, anything else narrows or reshapes it.

    ``reference`` holds the products a relative request is relative to ("cheaper" than those shown, "another
    brand" than the one in focus).
    """
    if state is None or (request.category and request.category != state.category):
        state = SearchState(category=request.category)
    updates: dict[str, Any] = {"offset": 0}
    for name in ("category", "brand", "color", "material", "size", "sort"):
        if getattr(request, name):
            updates[name] = getattr(request, name)
    if request.in_stock:
        updates["in_stock"] = True
    updates.update(_prices(state, request, reference))
    brands = set(request.exclude_brands) | ({p.brand for p in reference} if request.other_brand else set())
    exclude_brands = tuple(dict.fromkeys((*state.exclude_brands, *sorted(brands))))
    if request.brand:
        exclude_brands = tuple(b for b in exclude_brands if b.lower() != request.brand.lower())
    elif (updates.get("brand") or state.brand) in exclude_brands:
        updates["brand"] = None
    exclude_colors = tuple(dict.fromkeys((*state.exclude_colors, *request.exclude_colors)))
    if request.color:
        exclude_colors = tuple(c for c in exclude_colors if c != request.color)
    elif state.color in exclude_colors:
        updates["color"] = None
    keywords = tuple(dict.fromkeys((*state.keywords, *request.keywords)))[-8:]
    return replace(state, **updates, exclude_brands=exclude_brands, exclude_colors=exclude_colors, keywords=keywords)


def _prices(state: SearchState, request: SearchRequest, reference: Sequence[Product]) -> dict[str, Any]:
    """The price limits after a request: limits it names replace old ones; "cheaper" goes below the reference."""
    low, high, below, above = state.min_price, state.max_price, state.below, state.above
    if request.min_price is not None or request.max_price is not None:
        if request.min_price is not None:
            low, above = request.min_price, None
        if request.max_price is not None:
            high, below = request.max_price, None
        if low is not None and high is not None and low > high:  # the old limit contradicts the new one: dropped
            low, high = (None, high) if request.min_price is None else (low, None)
    prices = [p.price for p in reference]
    if request.price_change == "lower" and prices:  # a "similar" search's price band gives way too
        below, above = min(prices), None
        high = None if high is not None and high >= below else high
        low = None if low is not None and (low >= below or state.like) else low
    elif request.price_change == "higher" and prices:
        above, below = max(prices), None
        low = None if low is not None and low <= above else low
        high = None if high is not None and (high <= above or state.like) else high
    return {"min_price": low, "max_price": high, "below": below, "above": above}


def like(product: Product) -> SearchState:
    """A search for products like this one: its category, a similar price, in stock, itself left out."""
    facets = similar_to(product)
    return SearchState(category=facets.category, min_price=facets.min_price, max_price=facets.max_price,
                       in_stock=True, exclude=(product.id,), like=product.name)


def next_page(state: SearchState, shown: int) -> SearchState:
    """The same search, from the product after the ones shown."""
    return replace(state, offset=state.offset + max(shown, 1))


SORT_WORDS = {
    "price_asc": "cheapest first", "price_desc": "most expensive first", "rating_asc": "lowest rated first",
    "weight_asc": "lightest first", "weight_desc": "heaviest first", "reviews": "most reviewed first",
}


def describe(state: SearchState, currency: str) -> str:
    """What a search looks for, in words: "black Glarestop sunglasses under $100.00, not by Sunward"."""
    noun = (state.category or "products").lower()
    if state.like:
        noun = f"items similar to the {state.like}"
    words = [state.color, state.material, state.brand, noun]
    text = " ".join(w for w in words if w)
    if state.in_stock and not state.like:
        text = "in-stock " + text
    if state.keywords:
        text += f" matching “{' '.join(state.keywords)}”"
    if state.size:
        text += f" in size {state.size}"
    if state.min_price is not None and state.max_price is not None:
        text += f" between {money(state.min_price, currency)} and {money(state.max_price, currency)}"
    else:
        limits = [f"{word} {money(value, currency)}" for word, value in (
            ("over", state.min_price), ("pricier than", state.above),
            ("under", state.max_price), ("cheaper than", state.below)) if value is not None]
        text += " " + " and ".join(limits) if limits else ""
    if state.exclude_brands:
        text += f", not by {listing(state.exclude_brands, 'or')}"
    if state.exclude_colors:
        text += f", not in {listing(state.exclude_colors, 'or')}"
    if state.sort in SORT_WORDS:
        text += f" ({SORT_WORDS[state.sort]})"
    return text

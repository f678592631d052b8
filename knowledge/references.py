"""What a shopper refers to: "the second one", "the last two", "it", a name on the list just shown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable, Optional, Sequence

from knowledge.products import Product
from knowledge.vocabulary import Resolution, normalize

ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "last": -1, "final": -1, "latter": -1, "former": 1,
    "penultimate": -2, "top": 1, "next": 0,
}
OTHER = "other"
_NUMBER = re.compile(r"-?\d{1,3}")
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


@dataclass(frozen=True)
class Positions:
    """Places in a shown list, 1-based from the start or negative from the end, or "the other one"."""

    places: tuple[int, ...] = ()
    other: bool = False

    def indexes(self, length: int) -> tuple[list[int], list[int]]:
        """The 0-based indexes these places name in a list of ``length``, and the places beyond it."""
        found, beyond = [], []
        for place in self.places:
            index = place - 1 if place > 0 else length + place
            if place != 0 and 0 <= index < length:
                found.append(index)
            else:
                beyond.append(place)
        return found, beyond


def ordinal_positions(value: str) -> Positions:
    """The places an ordinal entity names: "2", "2nd", "second", "#3", "number 3", "last", "1..2", "other"."""
    ranged = _RANGE.match(str(value).replace(" ", ""))
    if ranged:
        low, high = int(ranged.group(1)), int(ranged.group(2))
        step = 1 if high >= low else -1
        return Positions(tuple(range(low, high + step, step))[:10])
    words = normalize(str(value)).split()
    if OTHER in words or "another" in words:
        return Positions(other=True)
    for word in words:
        digits = _NUMBER.match(word)
        if digits and word[digits.end():] in ("", "st", "nd", "rd", "th"):
            return Positions((int(digits.group()),))
        if word in ORDINAL_WORDS and word not in ("one", "next"):
            return Positions((ORDINAL_WORDS[word],))
    for word in words:
        if word in ORDINAL_WORDS and word != "next":
            return Positions((ORDINAL_WORDS[word],))
    return Positions()


@dataclass(frozen=True)
class Reference:
    """The products a reference picked from the shown list, and what went wrong if anything."""

    product_ids: tuple[str, ...] = ()
    beyond: tuple[int, ...] = ()  # places asked for that the list does not have
    shown: int = 0

    @property
    def ok(self) -> bool:
        """Whether every place asked for exists in the shown list."""
        return bool(self.product_ids) and not self.beyond


def pick_from_shown(
    shown: Sequence[str], ordinals: Iterable[str], focus: Optional[str] = None
) -> Optional[Reference]:
    """The shown products that ordinal entities name, or None when the message has no usable ordinal."""
    chosen: list[str] = []
    beyond: list[int] = []
    asked = False
    for value in ordinals:
        positions = ordinal_positions(value)
        if positions.other:
            asked = True
            others = [pid for pid in shown if pid != focus]
            if len(shown) == 2 and focus in shown:
                chosen.append(others[0])
            elif len(shown) == 2 and chosen:
                chosen.extend(pid for pid in shown if pid not in chosen)
            else:
                beyond.append(0)
            continue
        if not positions.places:
            continue
        asked = True
        indexes, missing = positions.indexes(len(shown))
        chosen.extend(shown[i] for i in indexes)
        beyond.extend(missing)
    if not asked:
        return None
    return Reference(tuple(dict.fromkeys(chosen)), tuple(beyond), len(shown))


def named_on_list(mention: str, shown: Sequence[Product]) -> list[Product]:
    """The shown products whose name holds every word of a partial mention ("the Solstice", "aviator 3")."""
    words = [w for w in normalize(mention).split() if w not in ("one", "ones", "model")]
    if not words:
        return []
    found = []
    for product in shown:
        names = [normalize(product.name), *(normalize(alt) for alt in product.alt_names),
                 normalize(f"{product.brand} {product.name}")]
        if any(_has_words(name.split(), words) for name in names):
            found.append(product)
    return found


def _has_words(name_words: list[str], words: list[str]) -> bool:
    return all(any(n == w or (len(w) >= 3 and n.startswith(w)) for n in name_words) for w in words)


@dataclass(frozen=True)
class Superlative:
    """A way to pick one product of a list: what is compared, and whether the highest or lowest wins."""

    key: str
    highest: bool
    label: str


SUPERLATIVES = {
    "price_asc": Superlative("price", False, "cheapest"),
    "price_desc": Superlative("price", True, "most expensive"),
    "rating": Superlative("rating", True, "best rated"),
    "rating_asc": Superlative("rating", False, "lowest rated"),
    "weight_asc": Superlative("weight", False, "lightest"),
    "weight_desc": Superlative("weight", True, "heaviest"),
    "reviews": Superlative("review_count", True, "most reviewed"),
    "stock": Superlative("stock", True, "best stocked"),
}


def _value(product: Product, key: str) -> Optional[Decimal]:
    value = getattr(product, key)
    return Decimal(value) if value is not None else None


def pick_superlative(products: Sequence[Product], order: str) -> tuple[list[Product], Optional[Superlative]]:
    """The products of a list that are the cheapest / best rated / lightest ... (ties all kept)."""
    superlative = SUPERLATIVES.get(order)
    if superlative is None:
        return [], None
    known = [(p, v) for p in products if (v := _value(p, superlative.key)) is not None]
    if not known:
        return [], superlative
    choose: Callable[[Iterable[Decimal]], Decimal] = max if superlative.highest else min
    best = choose(v for _, v in known)
    return [p for p, v in known if v == best], superlative


@dataclass(frozen=True)
class Referent:
    """What a product question refers to: one product, or why the shopper must be asked which."""

    product_id: Optional[str] = None
    problem: str = ""  # "no_list", "beyond", "ambiguous", "unknown", "which" or "none" when there is no product
    choices: tuple[str, ...] = ()  # product ids to offer when the shopper must choose
    shown: int = 0  # how many products the shown list holds


def refer(
    shown: Sequence[str],
    focus: Optional[str],
    ordinals: Sequence[str],
    resolution: Optional[Resolution],
    brands: Sequence[str],
    listed: Callable[[], Sequence[Product]],
) -> Referent:
    """The product a message means: by its place in the shown list, its name (on the list first), its brand
    among the shown ones, or else the product in focus.

    ``resolution`` is how the catalog resolved a product named in the message (None when none was named);
    ``listed`` returns the shown products, read only when a name or brand must be matched against them.
    """
    if ordinals:
        picked = pick_from_shown(shown, ordinals, focus)
        if picked is not None:
            if not shown:
                return Referent(problem="no_list")
            if not picked.ok:
                return Referent(problem="beyond", choices=tuple(shown), shown=len(shown))
            return Referent(picked.product_ids[0], shown=len(shown))
    if resolution is not None:
        on_list = listed() if shown else ()
        named = named_on_list(resolution.mention, on_list) if on_list else []
        if len(named) == 1:
            return Referent(named[0].id, shown=len(shown))
        if resolution.ambiguous:
            matching = [m.product_id for m in resolution.matches if m.product_id in shown]
            if len(matching) == 1:
                return Referent(matching[0], shown=len(shown))
            return Referent(problem="ambiguous", choices=tuple(m.product_id for m in resolution.matches[:5]))
        if resolution.best is not None:
            return Referent(resolution.best.product_id, shown=len(shown))
        if named:
            return Referent(problem="ambiguous", choices=tuple(p.id for p in named))
        return Referent(problem="unknown")
    if brands and shown:
        wanted = {brand.lower() for brand in brands}
        same = [p.id for p in listed() if p.brand.lower() in wanted]
        if len(same) == 1:
            return Referent(same[0], shown=len(shown))
        if same:
            return Referent(problem="ambiguous", choices=tuple(same))
    if focus:
        return Referent(focus, shown=len(shown))
    if len(shown) == 1:
        return Referent(shown[0], shown=1)
    if shown:
        return Referent(problem="which", choices=tuple(shown), shown=len(shown))
    return Referent(problem="none")


def refer_many(
    shown: Sequence[str], focus: Optional[str], ordinals: Sequence[str], named: Sequence[str], limit: int = 5
) -> tuple[list[str], Optional[Reference]]:
    """The products a comparison means, in order: places in the shown list, named products, the one in focus
    ("compare it with the third"), or the whole shown list ("what's the difference between them")."""
    picked = pick_from_shown(shown, ordinals, focus) if ordinals else None
    ids = list(picked.product_ids) if picked is not None else []
    ids.extend(pid for pid in named if pid not in ids)
    if len(ids) == 1:
        if focus and focus != ids[0]:
            ids.insert(0, focus)
        elif len(shown) == 2:
            ids.extend(pid for pid in shown if pid not in ids)
    if not ids and len(shown) >= 2:
        ids = list(shown)
    return ids[:limit], picked

"""What a shopper asks recommendations for: category, brand, colour, budget, "cheaper than X", descriptive words.

    request = parse_request("something waterproof under $30 from Northpeak", entities, vocabulary,
                            resolve=shop.resolve_product, focus=product_in_focus)
    request.matches(product)        # every wish of the request holds for the product (and it is in stock)

Pure functions of the message's NLU entities (``bot.nlu.shopping_terms`` tags budgets, "cheaper", "pricier"
and descriptive words): the action resolves product names through the graph and hands over a ``resolve``
callable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Callable, Iterable, Optional

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from knowledge.facets import request_from
from knowledge.products import Product
from knowledge.vocabulary import Vocabulary

CENT = Decimal("0.01")
_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_SIMILAR = re.compile(r"\b(similar|like (this|that|it|these|those)|more like|goes? (well |nicely )?with|go with)\b", re.I)
#: Words of asking, not of describing a product.
REQUEST_WORDS = frozenset("""
recommend recommendation recommendations recommended recomend reccomend suggest suggestion suggestions sugest
something anything stuff thing things item items product products pick picks choice choose option options idea ideas
buy get got want need looking look find show give help please pls thanks like love good great nice best better
cool top popular trending people shoppers customers someone somebody today right now next else maybe really bit
cheap cheaper cheapest expensive pricier affordable budget price priced cost costs dollars bucks usd euros pounds
under below less more than over above between around about max maximum least most up to within spend
similar goes go well nicely with one ones gift present dad mom mum sister brother friend wife husband kid kids
personalised personalized sell selling seller sellers moment bought based think should would could can will
""".split())


def stem(word: str) -> str:
    """A word folded for matching: lower case, a plural "s"/"es" dropped ("jackets" -> "jacket")."""
    word = word.lower().strip("'-")
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def text_stems(text: str) -> set[str]:
    """The stems of every word of a text."""
    return {stem(w) for w in _WORD.findall(text.lower())}


def product_stems(product: Product) -> set[str]:
    """Every word a product is described by: name, description, category, brand, material, colours, sizes."""
    return text_stems(" ".join([product.name, product.description, product.category, product.brand, product.material,
                                *product.colors, *product.sizes, *product.alt_names]))


@dataclass(frozen=True)
class Request:
    """What the picks must be; every field is optional (an empty request asks for anything in stock)."""

    category: Optional[str] = None
    brand: Optional[str] = None
    color: Optional[str] = None
    material: Optional[str] = None
    size: Optional[str] = None
    min_price: Optional[Decimal] = None
    max_price: Optional[Decimal] = None
    words: tuple[str, ...] = ()  # descriptive words (stems) every pick must be described by
    exclude: tuple[str, ...] = ()
    similar_to: Optional[str] = None  # a product id: picks like it
    compared_to: Optional[str] = None  # the name of the product of "cheaper than X", for the answer
    in_stock: bool = True
    n: int = 3

    def matches(self, product: Product) -> bool:
        """Whether the product fits every wish of the request."""
        if self.in_stock and not product.in_stock:
            return False
        if product.id in self.exclude or product.id == self.similar_to:
            return False
        if self.category and product.category.lower() != self.category.lower():
            return False
        if self.brand and product.brand.lower() != self.brand.lower():
            return False
        if self.color and self.color.lower() not in {c.lower() for c in product.colors}:
            return False
        if self.material and self.material.lower() != product.material.lower():
            return False
        if self.size and self.size.lower() not in {s.lower() for s in product.sizes}:
            return False
        if self.min_price is not None and product.price < self.min_price:
            return False
        if self.max_price is not None and product.price > self.max_price:
            return False
        return not self.words or set(self.words) <= product_stems(product)

    def known_words(self, vocabulary: Iterable[str]) -> "Request":
        """The request with only the descriptive words the catalog uses at all (others describe no product)."""
        known = set(vocabulary)
        return replace(self, words=tuple(w for w in self.words if w in known))

    def is_open(self) -> bool:
        """Whether nothing narrows the picks but stock."""
        return not any((self.category, self.brand, self.color, self.material, self.size, self.words,
                        self.min_price is not None, self.max_price is not None))

    def describe(self, money: Callable[[Decimal], str] = lambda amount: f"${amount:,.2f}") -> str:
        """Words for what was asked, such as "red running shoes by Stridewell under $30.00"."""
        parts = [w for w in (self.color, self.material) if w]
        parts += list(self.words)
        parts.append((self.category or "products").lower())
        text = " ".join(parts)
        if self.brand:
            text += f" by {self.brand}"
        if self.size:
            text += f" in size {self.size}"
        if self.compared_to and self.max_price is not None and self.min_price is None:
            text += f" cheaper than the {self.compared_to}"
        elif self.compared_to and self.min_price is not None and self.max_price is None:
            text += f" pricier than the {self.compared_to}"
        elif self.min_price is not None and self.max_price is not None:
            text += f" between {money(self.min_price)} and {money(self.max_price)}"
        elif self.max_price is not None:
            text += f" up to {money(self.max_price)}"
        elif self.min_price is not None:
            text += f" from {money(self.min_price)}"
        return text


def _entity_spans(entities: Iterable[dict]) -> list[tuple[int, int]]:
    return [(e["start"], e["end"]) for e in entities
            if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)]


def descriptive_words(text: str, entities: Iterable[dict], vocabulary: Optional[Vocabulary] = None) -> tuple[str, ...]:
    """The words of a text that describe the product wanted: not entities, asking words or stop words."""
    chars = list(text[:500])
    for start, end in _entity_spans(entities):
        chars[start:end] = " " * (max(0, min(end, len(chars)) - start))
    words = []
    for word in _WORD.findall("".join(chars).lower()):
        if word in ENGLISH_STOP_WORDS or word in REQUEST_WORDS or stem(word) in REQUEST_WORDS:
            continue
        if vocabulary is not None and (vocabulary.category(word) or vocabulary.color(word) or vocabulary.brand(word)):
            continue  # a catalog name the matcher did not tag: the facets have it already
        words.append(stem(word))
    return tuple(dict.fromkeys(words))


def parse_request(
    text: str,
    entities: list[dict],
    vocabulary: Vocabulary,
    resolve: Callable[[str], Optional[Product]] = lambda mention: None,
    focus: Optional[Product] = None,
    n: int = 3,
) -> Request:
    """A request from a message's NLU entities: facets, budgets, "cheaper"/"pricier" than the product named (or
    the one in focus), descriptive words; "similar" picks like that product."""
    asked = request_from(entities, vocabulary)
    named = [str(e["value"]) for e in entities if e.get("entity") == "product" and e.get("value")]
    other = (resolve(named[0]) if named else None) or focus
    min_price, max_price = asked.min_price, asked.max_price
    exclude: list[str] = []
    compared_to: Optional[str] = None
    if asked.price_change and other is not None:
        exclude.append(other.id)
        compared_to = other.name
        if asked.price_change == "lower":
            max_price = other.price - CENT if max_price is None else min(max_price, other.price - CENT)
        else:
            min_price = other.price + CENT if min_price is None else max(min_price, other.price + CENT)
    similar_to = other.id if other is not None and _SIMILAR.search(text[:1000]) else None
    return Request(
        category=asked.category, brand=asked.brand, color=asked.color, material=asked.material,
        size=asked.size, min_price=min_price, max_price=max_price,
        words=descriptive_words(" ".join(asked.keywords), [], vocabulary), exclude=tuple(exclude),
        similar_to=similar_to, compared_to=compared_to, n=n,
    )

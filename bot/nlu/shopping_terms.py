"""A Rasa NLU component that tags the words of a shopping conversation as entities.

After a list of products, shoppers point into it and reshape it: "the second one", "#3", "the last two",
"the other one" (``ordinal``); "under $50", "between 20 and 40", "100 or more" (``price`` with the roles
``min`` and ``max``); "the cheapest", "best rated", "lightest" (``sort``); "cheaper", "something pricier"
(``price_change``); "in stock only" (``stock``); "not Peakform", "another brand" (``brand`` or ``color``
with the role ``exclude``); "size 10" (``size``); and, for searches and recommendations, the descriptive
words that are not facets, such as "waterproof" or "for hiking" (``keywords``).

The patterns are applied to words, never by backtracking over the whole text, so the work is linear in the
message length. Values are normalised here (``ordinal`` "second one" -> "2", "first two" -> "1..2";
``price`` "$1,200" -> "1200"; ``sort`` "best rated" -> "rating"); what they mean for a shown list or a
search is decided in ``knowledge``. The component runs after the catalog matcher, so brands and colours
are already tagged, and its own entities win over overlapping learned ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.graph_entities import is_product_guess, merge_entities
from knowledge.facets import decimal_of

MAX_CHARS = 5_000  # the channels cap messages at this length; longer text is not looked at
_WORD = re.compile(r"[#$€£]?\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th|k)?|[a-z][a-z'\-]*|[$€£<>=~+?!.,;:()\"\-]", re.I)


@dataclass(frozen=True)
class Word:
    """One word of a message with its place in the text."""

    text: str  # lower case
    start: int
    end: int


def words_of(text: str) -> list[Word]:
    """The words, numbers and punctuation marks of a text, lower-cased, in order."""
    return [Word(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text[:MAX_CHARS])]


def _phrases(*items: str) -> dict[tuple[str, ...], str]:
    return {tuple(item.split("|")[0].split()): item.split("|")[1] for item in items}


ORDINAL_WORDS = {
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "sixth": "6", "seventh": "7",
    "eighth": "8", "ninth": "9", "tenth": "10", "last": "-1", "penultimate": "-2", "former": "1",
    "latter": "-1",
}
COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
               "nine": 9, "ten": 10}
# Words after an ordinal that show it points into a list ("the second one", "the third in the list").
LIST_NOUNS = frozenset({
    "one", "ones", "product", "products", "item", "items", "option", "options", "pair", "model", "models",
    "result", "results", "choice", "pick", "suggestion", "listed", "shown", "card", "entry",
})
FOLLOWERS = LIST_NOUNS | frozenset({
    "of", "and", "or", "vs", "versus", "with", "to", "please", "pls", "is", "are", "costs", "cost", "in", "on",
    "do", "does", "come", "made", "have", "has", "there", "here", "you", "again", "then", "instead", "too",
})
COUNTS = frozenset(COUNT_WORDS) - {"one"} | {"2", "3", "4", "5", "6", "7", "8", "9", "10"}
JOINERS = frozenset({"and", "or", "vs", "versus", "with", "to", "&", "against", "than"})
POINTERS = frozenset({"number", "no", "nr", "num", "option", "item", "result", "card", "product", "pick"})

SORTS = _phrases(
    "cheapest|price_asc", "least expensive|price_asc", "lowest price|price_asc", "lowest priced|price_asc",
    "most affordable|price_asc", "cheap|price_asc", "affordable|price_asc", "inexpensive|price_asc",
    "lowest cost|price_asc", "least pricey|price_asc", "cheapest first|price_asc", "budget|price_asc",
    "costs the least|price_asc", "cost the least|price_asc", "costs least|price_asc", "cost least|price_asc",
    "least costly|price_asc", "lowest-priced|price_asc", "best price|price_asc", "best value|price_asc",
    "costs the most|price_desc", "cost the most|price_desc", "costs most|price_desc", "cost most|price_desc",
    "most expensive|price_desc", "priciest|price_desc", "dearest|price_desc", "highest price|price_desc",
    "highest priced|price_desc", "premium|price_desc", "high-end|price_desc", "high end|price_desc",
    "luxury|price_desc", "top of the range|price_desc", "most costly|price_desc", "costliest|price_desc",
    "best rated|rating", "best-rated|rating", "highest rated|rating", "highest-rated|rating", "top rated|rating",
    "top-rated|rating", "best reviewed|rating", "best reviews|rating", "best rating|rating",
    "highest rating|rating", "best|rating", "most popular|rating", "popular|rating", "nicest|rating",
    "favourite|rating", "favorite|rating", "most loved|rating", "greatest|rating", "finest|rating",
    "worst rated|rating_asc", "lowest rated|rating_asc", "worst reviewed|rating_asc", "worst|rating_asc",
    "lowest rating|rating_asc", "lightest|weight_asc", "least heavy|weight_asc", "lowest weight|weight_asc",
    "weighs the least|weight_asc", "weighs least|weight_asc", "heaviest|weight_desc",
    "weighs the most|weight_desc", "most reviewed|reviews", "most reviews|reviews",
    "most ratings|reviews",
)
PRICE_CHANGES = _phrases(
    "cheaper|lower", "less expensive|lower", "more affordable|lower", "lower priced|lower", "lower-priced|lower",
    "less pricey|lower", "not as expensive|lower", "less costly|lower", "lower price|lower", "lower cost|lower",
    "more budget-friendly|lower", "more budget friendly|lower", "less money|lower", "spend less|lower",
    "too expensive|lower", "too pricey|lower", "too pricy|lower", "too dear|lower", "cost too much|lower",
    "costs too much|lower", "over my budget|lower", "out of my budget|lower", "too costly|lower",
    "too cheap|higher", "for less|lower", "costs less|lower", "cost less|lower", "costing less|lower", "lower budget|lower",
    "less pricy|lower", "cheapr|lower", "cheeper|lower", "for cheaper|lower", "more reasonably priced|lower",
    "pricier|higher", "more expensive|higher", "dearer|higher", "higher end|higher", "higher-end|higher",
    "more premium|higher", "fancier|higher", "more upmarket|higher", "higher priced|higher",
    "higher-priced|higher", "spend more|higher", "costlier|higher", "more costly|higher",
)
STOCK = _phrases(
    "in stock|in_stock", "in-stock|in_stock", "available now|in_stock", "available today|in_stock",
    "you have now|in_stock", "ready to ship|in_stock", "ships now|in_stock", "available right now|in_stock",
    "currently available|in_stock", "not sold out|in_stock", "that are available|in_stock",
    "that is available|in_stock", "ones available|in_stock", "available ones|in_stock",
    "that you have|in_stock", "you actually have|in_stock",
)
MAX_WORDS = _phrases(
    "under|max", "below|max", "less than|max", "cheaper than|max", "max|max", "maximum|max", "up to|max",
    "at most|max", "no more than|max", "not more than|max", "within|max", "tops|max", "budget of|max",
    "budget is|max", "budget|max", "no higher than|max", "not over|max", "no more then|max", "less then|max",
    "beneath|max", "lower than|max", "<|max", "<=|max", "for less than|max", "not exceeding|max",
    "max of|max", "maximum of|max", "spend|max", "afford|max", "underneath|max", "sub|max",
    "over|min", "above|min", "more than|min", "at least|min", "min|min", "minimum|min", "from|min",
    "starting at|min", "starting from|min", "upwards of|min", "higher than|min", "pricier than|min",
    "more expensive than|min", "no less than|min", "not less than|min", ">|min", ">=|min", "more then|min",
    "minimum of|min", "min of|min", "beyond|min", "exceeding|min",
)
AFTER_AMOUNT = _phrases(
    "or less|max", "or under|max", "and under|max", "or below|max", "or cheaper|max", "max|max", "tops|max",
    "at most|max", "or lower|max", "and below|max", "or more|min", "and up|min", "and above|min", "plus|min",
    "+|min", "or over|min", "and over|min", "or higher|min", "at least|min", "or above|min",
)
ROUGHLY = frozenset({"around", "about", "roughly", "approximately", "approx", "~", "circa", "near"})
RANGE_STARTS = frozenset({"between", "from"})
RANGE_JOINERS = frozenset({"and", "to", "-", "till", "until"})
CURRENCY_WORDS = frozenset({"dollars", "dollar", "bucks", "usd", "euros", "euro", "eur", "pounds", "gbp", "$"})
UNITS = ("ml", "mm", "l", "cm", "g", "kg", "gb", "mah", "w", "h", "hrs", "hours")
NEGATIONS = _phrases(
    "not|x", "no|x", "except|x", "excluding|x", "other than|x", "without|x", "anything but|x", "but not|x",
    "apart from|x", "besides|x", "instead of|x", "rather than|x", "non|x", "never|x", "nothing from|x",
    "not from|x", "not by|x", "anything except|x", "avoid|x", "skip|x", "hate|x", "dislike|x",
    "no more|x", "don't want|x", "dont want|x", "do not want|x", "except for|x", "nothing by|x",
    "but no|x", "other than the|x", "not a|x", "not any|x", "don't like|x", "dont like|x", "exclude|x",
    "leave out|x", "minus|x", "take out|x", "remove|x", "drop|x", "get rid of|x", "forget|x", "ignore|x",
    "no more of|x", "not interested in|x", "steer clear of|x", "avoiding|x", "without any|x",
)
OTHER_BRAND = _phrases(
    "another brand|x", "a different brand|x", "different brand|x", "other brands|x", "other brand|x",
    "different brands|x", "another make|x", "a different make|x", "different maker|x", "another maker|x",
    "another manufacturer|x", "a different manufacturer|x", "other makers|x", "another label|x",
)
# Words that say what kind of request a message is, not what the product is like.
FILLER = frozenset("""
a an the this that these those it its it's i i'm im me my we our you your u ur they them some any anything
something someone stuff thing things one ones product products item items model models option options
show shows showing see look looking find finding search searching get got give want wanted wanna need
needs needed like would could can may might please pls plz thanks thank hi hello hey do does did have has
had having is are was were be been am sell sells selling stock carry offer offers buy buying purchase
what which who whose where when how why there here just only also too very really so much many more most
less lot lots and or but not no nor of to in on at by from with without for about as into than then
instead same similar different other another else list browse recommend recommendation recommendations
suggest suggestion suggestions let let's lets go good nice great cool decent quality new kind sort type
types pair pairs something's what's whats ok okay yeah yes well maybe perhaps around under over below above
between up down price prices cost costs priced dollars dollar bucks usd budget cheap cheaper cheapest
expensive pricey best rated top popular ones available range brand brands color colour colors colours
size sizes made material tell info information details detail about bit few couple of again
i'd i'll id ill you're youre gonna gotta anyone shop store website online here's heres compare
comparison difference versus vs browse browsing today tonight now nothing except excluding apart besides
rather avoid skip hate dislike exclude alternative alternatives interested check checking whatever anyway
actually think guess maybe else ones all every everything few other others sure thing things cheers
""".split())
KEYWORD_INTENTS = frozenset({"search_products", "ask_recommendation"})
OWN_ENTITIES = frozenset({"ordinal", "price", "sort", "price_change", "stock", "keywords"})


def _is_number(word: Word) -> bool:
    return word.text.lstrip("$€£")[:1].isdigit() and not word.text.endswith(("st", "nd", "rd", "th"))


class _Tagger:
    """Finds the shopping terms of one message, word by word."""

    def __init__(self, text: str, taken: Sequence[Dict[Text, Any]]) -> None:
        self.text = text
        self.words = words_of(text)
        self.found: list[Dict[Text, Any]] = []
        self.used = [False] * len(self.words)
        word_at = [-1] * (len(text) + 1)
        for index, word in enumerate(self.words):
            word_at[word.start:word.end] = [index] * (word.end - word.start)
        for entity in taken:  # words inside names (products, brands, order numbers...) are not ours to read
            start, end = entity.get("start"), entity.get("end")
            if entity.get("entity") not in OWN_ENTITIES and not is_product_guess(entity) \
                    and isinstance(start, int) and isinstance(end, int):
                for index in set(word_at[max(start, 0):min(end, len(text))]) - {-1}:
                    self.used[index] = True

    def phrase_at(self, index: int, table: dict[tuple[str, ...], str]) -> Optional[tuple[int, str]]:
        """The longest phrase of ``table`` starting at word ``index``: (its length in words, its value)."""
        for length in (4, 3, 2, 1):
            key = tuple(w.text for w in self.words[index:index + length])
            if len(key) == length and key in table and not any(self.used[index:index + length]):
                return length, table[key]
        return None

    def phrase_before(self, index: int, table: dict[tuple[str, ...], str]) -> Optional[tuple[int, str]]:
        """The longest phrase of ``table`` ending just before word ``index``."""
        for length in (4, 3, 2, 1):
            start = index - length
            if start >= 0:
                key = tuple(w.text for w in self.words[start:index])
                if key in table:
                    return length, table[key]
        return None

    def consume(self, first: int, last: int) -> None:
        """Mark words ``first`` to ``last`` (inclusive) as read, without tagging them."""
        for i in range(max(first, 0), last + 1):
            self.used[i] = True

    def add(self, entity: str, first: int, last: int, value: str, role: Optional[str] = None) -> None:
        """Tag words ``first`` to ``last`` (inclusive) as an entity."""
        item = {"entity": entity, "start": self.words[first].start, "end": self.words[last].end,
                "value": value, "confidence_entity": 1.0}
        if role:
            item["role"] = role
        self.found.append(item)
        for i in range(first, last + 1):
            self.used[i] = True

    def word(self, index: int) -> str:
        """The word at ``index``, or "" outside the message."""
        return self.words[index].text if 0 <= index < len(self.words) else ""

    # -- ordinals ---------------------------------------------------------------------------------

    def ordinals(self) -> None:
        """ "the second one", "2nd", "#3", "number 4", "the last two", "the other one"."""
        for i, word in enumerate(self.words):
            if self.used[i]:
                continue
            text = word.text
            if text.startswith("#") and text[1:].isdigit():
                self.add("ordinal", i, i, str(int(text[1:])))
            elif re.fullmatch(r"\d{1,2}(st|nd|rd|th)", text):
                self.add("ordinal", i, i, str(int(text[:-2])))
            elif text in POINTERS and i + 1 < len(self.words) and not self.used[i + 1]:
                self._pointer(i)
            elif text in ("first", "last", "top") and self.word(i + 1) in COUNTS \
                    and self.word(i + 2) not in ("dollars", "bucks", "$"):
                count = COUNT_WORDS.get(self.word(i + 1)) or int(self.word(i + 1))
                value = f"1..{count}" if text != "last" else f"-{count}..-1"
                self.add("ordinal", i, i + 1, value)
            elif text in ORDINAL_WORDS and (self._points_into_list(i) or self._follows_ordinal(i)):
                self.add("ordinal", i, i, ORDINAL_WORDS[text])
            elif text == "other" and self.word(i - 1) == "the" and (
                    self.word(i + 1) in LIST_NOUNS or self.word(i + 1) in FOLLOWERS or not self.word(i + 1)
                    or not self.word(i + 1)[0].isalpha()):
                self.add("ordinal", i, i, "other")

    def _pointer(self, i: int) -> None:
        nxt = self.word(i + 1)
        if nxt == "." and self.word(i + 2)[:1].isdigit():  # "no. 3"
            nxt, last = self.word(i + 2), i + 2
        else:
            last = i + 1
        if nxt.isdigit() and len(nxt) <= 2 and self.word(last + 1) not in CURRENCY_WORDS:
            self.add("ordinal", i, last, str(int(nxt)))
        elif nxt in COUNT_WORDS and self.word(i) == "number":
            self.add("ordinal", i, last, str(COUNT_WORDS[nxt]))

    def _follows_ordinal(self, i: int) -> bool:
        """ "the first and second", "the 1st or the third": a second ordinal joined to a first."""
        back = i - 1 - (self.word(i - 1) == "the")
        if self.word(back) not in JOINERS:
            return False
        return any(e["entity"] == "ordinal" and e["end"] <= self.words[back].start for e in self.found[-2:])

    def _points_into_list(self, i: int) -> bool:
        before, after = self.word(i - 1), self.word(i + 1)
        if after in LIST_NOUNS:
            return True
        if before in ("the", "that", "this", "your", "ur", "da", "tha") or self.words[i].text in ("former", "latter"):
            return not after or after in FOLLOWERS or not after[0].isalnum()
        return False

    # -- prices -----------------------------------------------------------------------------------

    def prices(self) -> None:
        """Price limits with their role: "under $50", "between 20 and 40", "100 or more", "around 80"."""
        i = 0
        while i < len(self.words):
            if self.used[i] or not _is_number(self.words[i]):
                i += 1
                continue
            if self._is_measure(i):  # "44mm", "size 10": not a price
                self.consume(i, i + (self.word(i + 1) in UNITS))
                i += 1
                continue
            i = self._price_at(i)

    def _is_measure(self, i: int) -> bool:
        word, after = self.words[i], self.word(i + 1)
        if self.word(i - 1) in ("size", "sizes", "us", "uk", "eu"):
            return True
        glued = self.text[word.end:word.end + 3].lower()
        return after in UNITS or any(glued.startswith(unit) and not glued[len(unit):len(unit) + 1].isalpha()
                                     for unit in UNITS)

    def _price_at(self, i: int) -> int:
        amount = decimal_of(self.words[i].text)
        if amount is None:
            return i + 1
        # "between 20 and 40", "from 20 to 40", "20-40 dollars", "20 to 40"
        joiner = self.word(i + 1)
        second = i + 2 if joiner in RANGE_JOINERS else None
        if joiner.startswith("-") and joiner[1:2].isdigit():
            second = i + 1
        if second is not None and second < len(self.words) and _is_number(self.words[second]):
            text = self.words[second].text
            other = decimal_of(text[1:] if text.startswith("-") else text)
            starts = self.word(i - 1) in RANGE_STARTS
            money = self._has_currency(i) or self._has_currency(second)
            if other is not None and (starts or money):
                low, high = sorted((amount, other))
                self.consume(i - 1 if starts else i, second)
                self.add("price", i, i, str(low), "min")
                self.add("price", second, second, str(high), "max")
                return second + 1
        before = self.phrase_before(i, MAX_WORDS)
        if before is None and self.word(i - 1) == "$":
            before = self.phrase_before(i - 1, MAX_WORDS)
        after = self._phrase_after(i)
        if self.word(i - 1) in ROUGHLY:  # "around 80": the word holds the lower bound, the number the upper
            self.add("price", i - 1, i - 1, str((amount * Decimal("0.8")).quantize(Decimal("0.01"))), "min")
            self.add("price", i, i, str((amount * Decimal("1.2")).quantize(Decimal("0.01"))), "max")
        elif after is not None:
            self.add("price", i, i, str(amount), after)
        elif before is not None:
            self.consume(i - before[0] - (self.word(i - 1) == "$"), i - 1)
            self.add("price", i, i, str(amount), before[1])
        elif self._has_currency(i):
            self.add("price", i, i, str(amount), "max")  # "a $50 jacket": a budget
        return i + 1

    def _phrase_after(self, i: int) -> Optional[str]:
        start = i + 1 + (self.word(i + 1) in CURRENCY_WORDS)
        for length in (2, 1):
            key = tuple(w.text for w in self.words[start:start + length])
            if len(key) == length and key in AFTER_AMOUNT:
                self.consume(start, start + length - 1)
                return AFTER_AMOUNT[key]
        return None

    def _has_currency(self, i: int) -> bool:
        return self.words[i].text[:1] in "$€£" or self.word(i - 1) in ("$", "€", "£") \
            or self.word(i + 1) in CURRENCY_WORDS

    # -- words ------------------------------------------------------------------------------------

    def phrases(self, table: dict[tuple[str, ...], str], entity: str) -> None:
        """Tag every phrase of a table as an entity whose value is the table's."""
        i = 0
        while i < len(self.words):
            hit = None if self.used[i] else self.phrase_at(i, table)
            if hit is None:
                i += 1
                continue
            length, value = hit
            self.add(entity, i, i + length - 1, value)
            i += length

    def sizes(self) -> None:
        """ "size 10", "in size M", "a size 9.5"."""
        for i, word in enumerate(self.words):
            if word.text == "size" and i + 1 < len(self.words) and not self.used[i + 1] \
                    and self.word(i + 1)[:1].isalnum():
                self.add("size", i + 1, i + 1, self.text[self.words[i + 1].start:self.words[i + 1].end])

    def other_brand(self) -> None:
        """ "from another brand", "a different make": leave out the brand of the product talked about."""
        i = 0
        while i < len(self.words):
            hit = None if self.used[i] else self.phrase_at(i, OTHER_BRAND)
            if hit:
                self.add("brand", i, i + hit[0] - 1, "another", "exclude")
                i += hit[0]
            else:
                i += 1

    def keywords(self) -> None:
        """Runs of words that describe the product ("waterproof", "for hiking") rather than the request."""
        run: list[int] = []
        for i, word in enumerate(self.words + [Word(".", len(self.text), len(self.text))]):
            describing = i < len(self.words) and not self.used[i] and word.text[:1].isalpha() \
                and word.text not in FILLER and len(word.text) > 1
            if describing:
                run.append(i)
            elif run:
                self.add("keywords", run[0], run[-1], " ".join(self.words[j].text for j in run))
                run = []


SKIPPABLE = frozenset({"the", "any", "anything", "from", "by", "made", "a", "an", "of", "for", "in", "with"})


def _overlap(a: Dict[Text, Any], b: Dict[Text, Any]) -> bool:
    return a.get("start", 0) < b.get("end", 0) and b.get("start", 0) < a.get("end", 0)


def exclusions(entities: List[Dict[Text, Any]], text: str) -> None:
    """Give the role ``exclude`` to brands and colours after a negation ("not Peakform", "no black ones")."""
    words = words_of(text)
    for entity in entities:
        if entity.get("entity") not in ("brand", "color") or entity.get("role") or \
                not isinstance(entity.get("start"), int):
            continue
        before = [w.text for w in words if w.end <= entity["start"]][-6:]
        while before and before[-1] in SKIPPABLE and tuple(before[-2:]) not in NEGATIONS:
            before.pop()
        if any(tuple(before[-length:]) in NEGATIONS for length in (3, 2, 1) if len(before) >= length):
            entity["role"] = "exclude"


def shopping_terms(text: str, entities: Sequence[Dict[Text, Any]], intent: Optional[str]) -> List[Dict[Text, Any]]:
    """The shopping entities of a message, given the entities already found and its intent."""
    tagger = _Tagger(text, entities)
    tagger.ordinals()
    tagger.sizes()
    tagger.prices()
    tagger.phrases(PRICE_CHANGES, "price_change")
    tagger.phrases(SORTS, "sort")
    tagger.phrases(STOCK, "stock")
    tagger.other_brand()
    if intent in KEYWORD_INTENTS:
        tagger.keywords()
    return tagger.found


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class ShoppingTermExtractor(GraphComponent, EntityExtractorMixin):
    """Adds ordinal, price, sort, price_change, stock, size, exclusion and keyword entities."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ShoppingTermExtractor":
        """The extractor (it has nothing to train or load)."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data is annotated by hand; nothing to add."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Tag the shopping terms of each message; they win over overlapping learned entities."""
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue
            entities = [dict(entity) for entity in message.get(ENTITIES, [])]
            exclusions(entities, text)
            intent = (message.get(INTENT) or {}).get("name")
            found = self.add_extractor_name(shopping_terms(text, entities, intent))
            entities = [e for e in entities if not (is_product_guess(e) and any(_overlap(e, f) for f in found))]
            message.set(ENTITIES, merge_entities(entities, found), add_to_output=True)
        return messages

"""Actions that answer product questions from the knowledge graph."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.behaviour import record_focus
from knowledge.facets import facets_from, similar_to
from knowledge.products import Product, attribute_field, attribute_in_text
from knowledge.settings import get_settings
from knowledge.shop import Shop, default_shop
from knowledge.sparql import KnowledgeGraphUnavailable
from knowledge.vocabulary import Resolution

logger = logging.getLogger(__name__)

FOCUS_SLOT = "product_id"


def entity_values(tracker: Tracker, name: str) -> List[str]:
    """The values of one entity in the latest message, in order."""
    return [str(v) for v in tracker.get_latest_entity_values(name) if v is not None and str(v).strip()]


NAME_ENTITIES = ("product", "brand", "category")


def question_words(tracker: Tracker) -> str:
    """The latest message with the catalog names blanked out ("Coffee Maker" names a product, not its maker)."""
    message = tracker.latest_message or {}
    text = list(message.get("text") or "")
    for entity in message.get("entities") or []:
        if entity.get("entity") in NAME_ENTITIES and isinstance(entity.get("start"), int):
            start, end = entity["start"], entity.get("end", entity["start"])
            text[start:end] = " " * (end - start)
    return "".join(text)


class ShopAction(Action, metaclass=ABCMeta):
    """An action that talks to the shop's knowledge and apologises when the graph is unreachable."""

    def shop(self) -> Shop:
        """The shop these actions ask."""
        return default_shop()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        try:
            events = self.answer(dispatcher, tracker, self.shop())
            record_focus(tracker, events)  # live behaviour: the shopper looked at the product in focus
            return events
        except KnowledgeGraphUnavailable as error:
            logger.warning("knowledge graph unavailable in %s: %s", self.name(), error)
            dispatcher.utter_message(response="utter_kg_unavailable")
            return []

    @abstractmethod
    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        """Reply to the latest message."""


def ask_which(dispatcher: CollectingDispatcher, tracker: Tracker, resolution: Resolution) -> None:
    """Ask the shopper to choose between several matching products."""
    intent = tracker.latest_message.get("intent", {}).get("name") or "ask_product_info"
    buttons = [
        {"title": match.name, "payload": render.payload(intent, product=match.product_id)}
        for match in resolution.matches[:5]
    ]
    dispatcher.utter_message(text="I found several products that match. Which one do you mean?", buttons=buttons)


def resolve_focus(
    dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop, mention: Optional[str] = None
) -> Optional[Product]:
    """The product the shopper means: named now, or the one in focus; asks when unclear."""
    mentions = [mention] if mention else entity_values(tracker, "product")
    if mentions:
        resolution = shop.resolve(mentions[0])
    else:
        resolution = shop.resolve_in_text(tracker.latest_message.get("text") or "")
    if resolution.ambiguous:
        ask_which(dispatcher, tracker, resolution)
        return None
    if resolution.best is not None:
        return shop.product(resolution.best.product_id)
    if mentions:
        dispatcher.utter_message(
            text="Sorry, I couldn't find that product. Could you check the name, or tell me what you're looking for?"
        )
        return None
    focus = tracker.get_slot(FOCUS_SLOT)
    product = shop.product(focus) if focus else None
    if product is None:
        dispatcher.utter_message(response="utter_ask_which_product")
    return product


def show_card(dispatcher: CollectingDispatcher, text: str, product: Product) -> None:
    """Say something about a product and show its card."""
    dispatcher.utter_message(text=text, json_message=render.card_payload(product, get_settings().public_url))


class ActionProductInfo(ShopAction):
    """Tell the shopper about a product, or one attribute of it."""

    def name(self) -> Text:
        return "action_product_info"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        product = resolve_focus(dispatcher, tracker, shop)
        if product is None:
            return []
        dispatcher.utter_message(text=self.sentence(tracker, shop, product))
        if not self.asked_detail(tracker):
            dispatcher.utter_message(json_message=render.card_payload(product, get_settings().public_url))
        return [SlotSet(FOCUS_SLOT, product.id)]

    @staticmethod
    def asked_detail(tracker: Tracker) -> bool:
        """Whether the shopper asked about one detail (an attribute, colour, size or material)."""
        if attribute_in_text(question_words(tracker)):
            return True
        return any(entity_values(tracker, name) for name in ("attribute", "color", "size", "material"))

    def sentence(self, tracker: Tracker, shop: Shop, product: Product) -> str:
        """The answer about this product that fits the question."""
        vocabulary = shop.vocabulary()
        for color in entity_values(tracker, "color"):
            wanted = vocabulary.color(color) or color.lower()
            if wanted in product.colors:
                return f"Yes, the {product.name} comes in {wanted}."
            return f"No, the {product.name} doesn't come in {wanted}. It comes in {render.listing(product.colors)}."
        for size in entity_values(tracker, "size"):
            return option_sentence(product, size)
        for material in entity_values(tracker, "material"):
            wanted = vocabulary.material(material) or material.lower()
            if wanted == product.material.lower():
                return f"Yes, the {product.name} is made of {product.material}."
            return f"No, the {product.name} is made of {product.material}."
        fields = [attribute_field(a) for a in entity_values(tracker, "attribute")]
        fields.append(attribute_in_text(question_words(tracker)))
        for field in filter(None, fields):
            return render.attribute_sentence(product, field)
        return render.overview(product)


def option_sentence(product: Product, size: str) -> str:
    """Whether a product comes in a size, and what sizes it does come in."""
    sizes = {s.lower(): s for s in product.sizes}
    if size.strip().lower() in sizes:
        stock = "and it's in stock" if product.in_stock else "but it's out of stock right now"
        return f"Yes, the {product.name} comes in size {sizes[size.strip().lower()]}, {stock}."
    if not product.sizes:
        return f"The {product.name} comes in one size only."
    return f"Sorry, the {product.name} doesn't come in size {size}. Available sizes: {render.listing(product.sizes)}."


class ActionProductPrice(ShopAction):
    """Tell the shopper what a product costs."""

    def name(self) -> Text:
        return "action_product_price"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        product = resolve_focus(dispatcher, tracker, shop)
        if product is None:
            return []
        show_card(dispatcher, render.attribute_sentence(product, "price"), product)
        return [SlotSet(FOCUS_SLOT, product.id)]


class ActionCheckAvailability(ShopAction):
    """Tell the shopper whether a product is in stock, in a colour or size if asked."""

    def name(self) -> Text:
        return "action_check_availability"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        product = resolve_focus(dispatcher, tracker, shop)
        if product is None:
            return []
        sizes = entity_values(tracker, "size")
        colors = [shop.vocabulary().color(c) or c.lower() for c in entity_values(tracker, "color")]
        if sizes:
            text = option_sentence(product, sizes[0])
        elif colors and colors[0] not in product.colors:
            text = f"Sorry, the {product.name} doesn't come in {colors[0]}. It comes in {render.listing(product.colors)}."
        else:
            text = render.stock_sentence(product)
            if colors and product.in_stock:
                text = text.replace(" is in stock", f" is in stock in {colors[0]}", 1)
        if product.in_stock:
            show_card(dispatcher, text, product)
        else:
            dispatcher.utter_message(
                text=text + " Would you like to see similar items that are in stock?",
                buttons=[{"title": "Similar items", "payload": render.payload("search_products", product=product.id)}],
            )
        return [SlotSet(FOCUS_SLOT, product.id)]


class ActionSearchProducts(ShopAction):
    """Find products by category, brand, colour, material, size and price, or like a given product."""

    def name(self) -> Text:
        return "action_search_products"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        facets = facets_from(list(tracker.latest_message.get("entities") or []), text, shop.vocabulary())
        what = describe(facets)
        if facets.is_empty():
            like = self.reference_product(dispatcher, tracker, shop)
            if like is None:
                return []
            facets, what = similar_to(like), f"items similar to the {like.name}"
        products = shop.search(facets)
        if not products:
            dispatcher.utter_message(
                text=f"Sorry, I couldn't find any {what}. Try a different colour, brand or price range."
            )
            return []
        dispatcher.utter_message(
            text=render.search_summary(products, what),
            json_message=render.carousel_payload(products, get_settings().public_url),
        )
        return [SlotSet(FOCUS_SLOT, products[0].id)] if len(products) == 1 else []

    @staticmethod
    def reference_product(dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> Optional[Product]:
        """The product a "something similar" request refers to."""
        if entity_values(tracker, "product") or tracker.get_slot(FOCUS_SLOT):
            return resolve_focus(dispatcher, tracker, shop)
        dispatcher.utter_message(
            text="What are you looking for? Tell me a category, brand, colour or budget, "
            "for example \"red running shoes under $100\"."
        )
        return None


def describe(facets) -> str:  # noqa: ANN001 - SearchFacets
    """Words for what a search looked for, such as "red running shoes under $100.00"."""
    words = [facets.color, facets.material, facets.brand, (facets.category or "products").lower()]
    text = " ".join(w for w in words if w)
    if facets.size:
        text += f" in size {facets.size}"
    currency = get_settings().currency
    if facets.min_price is not None and facets.max_price is not None:
        text += f" between {render.money(facets.min_price, currency)} and {render.money(facets.max_price, currency)}"
    elif facets.max_price is not None:
        text += f" under {render.money(facets.max_price, currency)}"
    elif facets.min_price is not None:
        text += f" over {render.money(facets.min_price, currency)}"
    return text


class ActionCompareProducts(ShopAction):
    """Compare two products: the two named, or one named and the one in focus."""

    def name(self) -> Text:
        return "action_compare_products"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        ids = []
        for mention in entity_values(tracker, "product")[:2]:
            resolution = shop.resolve(mention)
            if resolution.matches:
                ids.append(resolution.matches[0].product_id)
        focus = tracker.get_slot(FOCUS_SLOT)
        if len(ids) == 1 and focus and focus != ids[0]:
            ids.insert(0, focus)
        if len(set(ids)) < 2:
            dispatcher.utter_message(text="Which two products would you like me to compare? Tell me both names.")
            return []
        comparison = shop.compare(ids[0], ids[1])
        if comparison is None:
            dispatcher.utter_message(text="Sorry, I couldn't find both of those products.")
            return []
        a, b = comparison.first, comparison.second
        lines = [f"{a.name} vs {b.name}:", f"- price: {render.money(a.price, a.currency)} vs {render.money(b.price, b.currency)}"]
        lines += [f"- {fact}: {left} vs {right}" for fact, (left, right) in comparison.differences.items()]
        if a.price != b.price:
            lines.append(f"The {comparison.cheaper.name} is the cheaper one.")
        dispatcher.utter_message(
            text="\n".join(lines), json_message=render.carousel_payload([a, b], get_settings().public_url)
        )
        return [SlotSet(FOCUS_SLOT, b.id)]

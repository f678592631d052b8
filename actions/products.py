"""Actions that answer product questions from the knowledge graph and follow what the shopper is looking at.

Three slots, set only by these actions, hold what the shopper sees: ``shown_products`` (the ids of the list
just shown, in order), ``product_id`` (the product in focus) and ``search`` (the active search, a
``knowledge.refinement.SearchState`` as a dict). Every product question, refinement, superlative and
comparison is resolved against them by the pure functions of ``knowledge.references`` and
``knowledge.refinement``, and searches run through ``knowledge.usecases.search``; the actions only read the
tracker and render the answer.
"""

from __future__ import annotations

from typing import List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.common import FOCUS_SLOT, SEARCH_SLOT, ShopAction, entity_values, looking_at, shown_ids
from actions.context import context
from knowledge.products import Product, attribute_field, attribute_in_text
from knowledge.references import Referent, pick_superlative, refer, refer_many
from knowledge.refinement import SearchState
from knowledge.shop import Shop
from knowledge.usecases.search import SearchPage
from knowledge.vocabulary import Resolution

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


def offer_choices(dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop, referent: Referent) -> None:
    """Ask the shopper which product they mean, with a button for each candidate."""
    intent = tracker.latest_message.get("intent", {}).get("name") or "ask_product_info"
    products = shop.products(referent.choices[:10])
    buttons = [{"title": render.choice_title(p, n if referent.problem in ("beyond", "which") else 0),
                "payload": render.payload(intent, product=p.id)} for n, p in enumerate(products, 1)]
    dispatcher.utter_message(text=render.which_one(referent.problem, referent.shown), buttons=buttons)


def mentioned(tracker: Tracker, shop: Shop) -> Optional[Resolution]:
    """How the catalog resolves a product named in the latest message, or None when none was named."""
    mentions = entity_values(tracker, "product")
    if mentions:
        return shop.resolve(mentions[0])
    resolution = shop.resolve_in_text(tracker.latest_message.get("text") or "")
    return resolution if resolution.matches else None


def resolve_focus(dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> Optional[Product]:
    """The product the shopper means (by place in the list, name, brand or focus); asks when unclear."""
    shown = shown_ids(tracker)
    referent = refer(
        shown, tracker.get_slot(FOCUS_SLOT), entity_values(tracker, "ordinal"), mentioned(tracker, shop),
        entity_values(tracker, "brand"), lambda: shop.products(shown),
    )
    if referent.product_id is not None:
        product = shop.product(referent.product_id)
        if product is not None:
            return product
    if referent.choices:
        offer_choices(dispatcher, tracker, shop, referent)
    elif referent.problem == "unknown":
        dispatcher.utter_message(
            text="Sorry, I couldn't find that product. Could you check the name, or tell me what you're looking for?"
        )
    elif referent.problem == "no_list":
        dispatcher.utter_message(text="I haven't shown you a list yet. Which product do you mean? "
                                      "You can tell me its name, or what you're looking for.")
    else:
        dispatcher.utter_message(response="utter_ask_which_product")
    return None


def show_card(dispatcher: CollectingDispatcher, text: str, product: Product) -> None:
    """Say something about a product and show its card."""
    dispatcher.utter_message(text=text, json_message=render.card_payload(product, context().settings.public_url))


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
            dispatcher.utter_message(json_message=render.card_payload(product, context().settings.public_url))
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


def show_list(
    dispatcher: CollectingDispatcher, page: SearchPage, intro: str = "Here's what I found for"
) -> List[EventType]:
    """Show a search's page of products, numbered; say so when nothing matches."""
    settings = context().settings
    if not page.products:
        dispatcher.utter_message(text=render.nothing_found(page.describe(settings.currency), page.further))
        return []
    dispatcher.utter_message(
        text=render.search_summary(page.products, f"{intro} {page.describe(settings.currency)}"),
        json_message=render.carousel_payload(page.products, settings.public_url),
    )
    return looking_at(page.products, page.state)


class ActionSearchProducts(ShopAction):
    """Find products by their facets and words, narrow or reshape the active search, or find similar ones."""

    def name(self) -> Text:
        return "action_search_products"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        search = context().search
        request = search.request(tracker.latest_message.get("entities") or [])
        pointed = entity_values(tracker, "product") or entity_values(tracker, "ordinal")
        if pointed or request.is_empty():  # "like the Trailblazer 2", "like the first one but cheaper", "similar"
            base = self.reference_product(dispatcher, tracker, shop)
            if base is None:
                return []
            return show_list(dispatcher, search.page(search.like(base, request)))
        state = search.refined(request, tracker.get_slot(SEARCH_SLOT), lambda: self.talked_about(tracker))
        return show_list(dispatcher, search.page(state))

    @staticmethod
    def talked_about(tracker: Tracker) -> List[str]:
        """What "cheaper" or "another brand" is relative to: the product in focus, else the list shown."""
        focus = tracker.get_slot(FOCUS_SLOT)
        return [focus] if focus else shown_ids(tracker)

    @staticmethod
    def reference_product(dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> Optional[Product]:
        """The product a "something similar" request refers to."""
        if entity_values(tracker, "product") or tracker.get_slot(FOCUS_SLOT) or shown_ids(tracker) \
                or entity_values(tracker, "ordinal"):
            return resolve_focus(dispatcher, tracker, shop)
        dispatcher.utter_message(
            text="What are you looking for? Tell me a category, brand, colour or budget, "
            "for example \"red running shoes under $100\"."
        )
        return None


class ActionShowMore(ShopAction):
    """Show the next page of the active search."""

    def name(self) -> Text:
        return "action_show_more"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        page = context().search.more(tracker.get_slot(SEARCH_SLOT), len(shown_ids(tracker)))
        if page is None:
            dispatcher.utter_message(text="What would you like to see? Tell me a category, brand, colour or budget.")
            return []
        return show_list(dispatcher, page, intro="Here are more")


class ActionPickProduct(ShopAction):
    """Say which of the shown products is the cheapest, best rated, lightest ..."""

    def name(self) -> Text:
        return "action_pick_product"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        order = (entity_values(tracker, "sort") or ["rating"])[0]
        search = context().search
        request = search.request(tracker.latest_message.get("entities") or [])
        state = SearchState.from_slot(tracker.get_slot(SEARCH_SLOT))
        if request.category and (state is None or state.category != request.category):
            return show_list(dispatcher, search.page(search.sorted(request, order)))  # "the cheapest jacket?"
        shown = shop.products(shown_ids(tracker))
        if not shown:
            if state is None:
                dispatcher.utter_message(text="Which products should I choose from? Tell me what you're looking "
                                              "for, for example \"the cheapest headphones\".")
                return []
            shown = search.page(state, limit=50).products
        best, superlative = pick_superlative(shown, order)
        if not best or superlative is None:
            dispatcher.utter_message(text="Sorry, I don't know that for the products I showed.")
            return []
        text = render.superlative_sentence(best, superlative, len(shown))
        if len(best) == 1:
            show_card(dispatcher, text, best[0])
        else:
            dispatcher.utter_message(text=text, json_message=render.carousel_payload(best, context().settings.public_url))
        return [SlotSet(FOCUS_SLOT, best[0].id)]


class ActionCompareProducts(ShopAction):
    """Compare products: the ones named or pointed at, the one in focus, or the list shown."""

    def name(self) -> Text:
        return "action_compare_products"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, shop: Shop) -> List[EventType]:
        named = []
        for mention in entity_values(tracker, "product")[:4]:
            resolution = shop.resolve(mention)
            if resolution.matches:
                named.append(resolution.matches[0].product_id)
        shown = shown_ids(tracker)
        ids, picked = refer_many(shown, tracker.get_slot(FOCUS_SLOT), entity_values(tracker, "ordinal"), named)
        if picked is not None and picked.beyond:
            dispatcher.utter_message(text=render.which_one("beyond", len(shown)))
            return []
        products = shop.products(ids)
        if len(products) < 2:
            dispatcher.utter_message(text="Which products would you like me to compare? Tell me their names, "
                                          "or say \"compare the first two\" after I've shown you a list.")
            return []
        dispatcher.utter_message(
            text=render.comparison(products),
            json_message=render.carousel_payload(products, context().settings.public_url),
        )
        return [SlotSet(FOCUS_SLOT, products[-1].id)]

"""How answers look: prices, product cards, carousels and short fact sentences."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterable

from knowledge.formatting import listing, money
from knowledge.products import Product



def payload(intent: str, **entities: str) -> str:
    """A button payload that triggers an intent with entities."""
    return f"/{intent}{json.dumps(entities)}" if entities else f"/{intent}"


def product_buttons(product: Product) -> list[dict[str, str]]:
    """The quick replies offered with a product."""
    return [
        {"title": "Tell me more", "payload": payload("ask_product_info", product=product.id)},
        {"title": "Similar items", "payload": payload("search_products", product=product.id)},
    ]


def product_card(product: Product, public_url: str) -> dict[str, Any]:
    """A product card for the widget: name, price, image and buttons."""
    image = product.image
    if image.startswith("/"):
        image = public_url.rstrip("/") + image
    return {
        "id": product.id,
        "title": product.name,
        "subtitle": f"{product.brand} · {product.category}",
        "price": str(product.price),
        "currency": product.currency,
        "price_text": money(product.price, product.currency),
        "image_url": image,
        "in_stock": product.in_stock,
        "rating": str(product.rating) if product.rating is not None else None,
        "buttons": product_buttons(product),
    }


def card_payload(product: Product, public_url: str) -> dict[str, Any]:
    """The custom payload of a single product card."""
    return {"type": "product_card", "card": product_card(product, public_url)}


def carousel_payload(products: Iterable[Product], public_url: str) -> dict[str, Any]:
    """The custom payload of a horizontal carousel of product cards."""
    return {"type": "carousel", "cards": [product_card(p, public_url) for p in products]}


def stock_sentence(product: Product) -> str:
    """Whether a product is in stock, as a sentence."""
    if not product.in_stock:
        return f"Sorry, the {product.name} is out of stock right now."
    if product.stock < 5:
        return f"Yes, the {product.name} is in stock, but only {product.stock} left."
    return f"Yes, the {product.name} is in stock ({product.stock} available)."


def overview(product: Product) -> str:
    """A few sentences about a product."""
    parts = [f"The {product.name} by {product.brand} costs {money(product.price, product.currency)}."]
    if product.description:
        parts.append(product.description)
    details = []
    if product.colors:
        details.append(f"comes in {listing(product.colors)}")
    if product.sizes:
        details.append(f"sizes {listing(product.sizes)}")
    if product.material:
        details.append(f"made of {product.material}")
    if product.weight is not None:
        details.append(f"weighs {weight(product.weight)}")
    if details:
        parts.append("It " + listing(details) + ".")
    if product.rating is not None:
        parts.append(f"Rated {product.rating}/5 by {product.review_count or 0} shoppers.")
    parts.append("In stock." if product.in_stock else "Currently out of stock.")
    return " ".join(parts)


def attribute_sentence(product: Product, field: str) -> str:
    """The answer to a question about one attribute of a product."""
    name = product.name
    if field == "price":
        return f"The {name} costs {money(product.price, product.currency)}."
    if field == "colors":
        return f"The {name} comes in {listing(product.colors)}." if product.colors else f"The {name} comes in one colour only."
    if field == "sizes":
        return f"The {name} comes in sizes {listing(product.sizes)}." if product.sizes else f"The {name} is one size."
    if field == "material":
        return f"The {name} is made of {product.material}." if product.material else f"I don't know what the {name} is made of."
    if field == "brand":
        return f"The {name} is made by {product.brand}."
    if field == "rating":
        if product.rating is None:
            return f"The {name} has no ratings yet."
        return f"The {name} is rated {product.rating} out of 5 from {product.review_count or 0} reviews."
    if field == "stock":
        return stock_sentence(product)
    if field == "category":
        return f"The {name} is in our {product.category} range."
    if field == "weight":
        return f"The {name} weighs {weight(product.weight)}." if product.weight is not None else \
            f"I don't know what the {name} weighs."
    return overview(product)


def weight(grams: Decimal) -> str:
    """A weight as shoppers read it: ``310 g`` or ``1.25 kg``."""
    return f"{grams / 1000:.2f} kg".replace(".00 kg", " kg") if grams >= 1000 else f"{grams:.0f} g"


def search_summary(products: list[Product], intro: str) -> str:
    """The text that goes with a list of search results, numbered as the cards are."""
    lines = [f"{intro}:"]
    lines += [f"{i}. {p.name} – {money(p.price, p.currency)}" for i, p in enumerate(products, 1)]
    return "\n".join(lines)


def nothing_found(what: str, further: bool) -> str:
    """The answer when a search finds nothing (or nothing more)."""
    if further:
        return f"That's all I have for {what}. Would you like to change the search?"
    return f"Sorry, I couldn't find any {what}. Try a different colour, brand or price range."


def choice_title(product: Product, number: int = 0) -> str:
    """A button title for a product the shopper may choose, with its place in the list when there is one."""
    title = f"{product.name} ({money(product.price, product.currency)})"
    return f"{number}. {title}" if number else title


def which_one(problem: str, shown: int) -> str:
    """The question when it is unclear which product the shopper means."""
    if problem == "beyond":
        return f"I showed {shown} product{'s' if shown != 1 else ''}. Which one do you mean?"
    if problem == "which":
        return f"Which of the {shown} products do you mean?"
    return "I found several products that match. Which one do you mean?"


def superlative_sentence(best: list[Product], superlative: Any, shown: int) -> str:
    """ "Of the 5 I showed, the cheapest is the X at $Y." (ties named together)."""
    scope = f"Of the {shown} I showed, " if shown > 1 else ""
    facts = {"price": lambda p: money(p.price, p.currency), "rating": lambda p: f"rated {p.rating}/5",
             "weight": lambda p: weight(p.weight), "review_count": lambda p: f"{p.review_count} reviews",
             "stock": lambda p: f"{p.stock} in stock"}
    fact = facts[superlative.key](best[0])
    at = " at " if superlative.key == "price" else ", "
    if len(best) == 1:
        return f"{scope}the {superlative.label} is the {best[0].name}{at}{fact}."
    names = listing(f"the {p.name}" for p in best)
    return f"{scope}{names} are the {superlative.label}{at}{fact}."


def comparison(products: list[Product]) -> str:
    """Products side by side: prices, then the facts in which they differ, and which is cheapest / best rated."""
    def facts(p: Product) -> dict[str, str]:
        return {"brand": p.brand, "category": p.category, "material": p.material or "-",
                "colours": ", ".join(p.colors) or "-", "rating": str(p.rating or "-"),
                "weight": weight(p.weight) if p.weight is not None else "-",
                "stock": "in stock" if p.in_stock else "out of stock"}

    rows = [facts(p) for p in products]
    lines = [" vs ".join(p.name for p in products) + ":",
             "- price: " + " vs ".join(money(p.price, p.currency) for p in products)]
    lines += [f"- {name}: " + " vs ".join(row[name] for row in rows)
              for name in rows[0] if len({row[name] for row in rows}) > 1]
    prices = [p.price for p in products]
    if len(set(prices)) > 1:
        cheapest = min(products, key=lambda p: p.price)
        lines.append(f"The {cheapest.name} is the cheaper one." if len(products) == 2
                     else f"The {cheapest.name} is the cheapest.")
    rated = [p for p in products if p.rating is not None]
    if len(rated) == len(products) and len({p.rating for p in rated}) > 1:
        lines.append(f"The {max(rated, key=lambda p: p.rating).name} is rated best.")
    return "\n".join(lines)

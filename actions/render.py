"""How answers look: prices, product cards, carousels and short fact sentences."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterable

from knowledge.products import Product

CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount: Decimal, currency: str) -> str:
    """A price as shoppers read it, such as ``$129.00``."""
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount:,.2f}" if sign else f"{amount:,.2f} {currency}"


def listing(items: Iterable[str]) -> str:
    """Items joined as in a sentence: ``a, b and c``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


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
    return overview(product)


def search_summary(products: list[Product], what: str) -> str:
    """The text that goes with a list of search results."""
    lines = [f"Here's what I found for {what}:"]
    lines += [f"{i}. {p.name} – {money(p.price, p.currency)}" for i, p in enumerate(products, 1)]
    return "\n".join(lines)

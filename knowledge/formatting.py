"""How facts read in answers: prices and lists of words."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount: Decimal, currency: str) -> str:
    """A price as shoppers read it, such as ``$129.00``."""
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount:,.2f}" if sign else f"{amount:,.2f} {currency}"


def listing(items: Iterable[str], joiner: str = "and") -> str:
    """Items joined as in a sentence: ``a, b and c``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {joiner} " + items[-1]

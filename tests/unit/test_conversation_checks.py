"""The conversation runner's checks on one reply (``bot.testing``), without a model: cards and graph facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.testing import ConversationFormatError, Reply, _check, expand

CATALOG = Path(__file__).resolve().parents[2] / "data" / "store" / "catalog.ttl"


def carousel(*titles: str) -> Reply:
    cards = [{"id": f"P{n:04d}", "title": title} for n, title in enumerate(titles)]
    return Reply([{"text": "here"}, {"custom": {"type": "carousel", "cards": cards}}])


def test_cards_lists_cards_that_must_be_there_among_others() -> None:
    assert _check(carousel("A shoe", "B shoe"), {"cards": ["A shoe"]}) is None
    assert "expected card: C" in _check(carousel("A shoe"), {"cards": ["C"]})


@pytest.mark.parametrize("titles, ok", [
    (("A shoe", "B shoe"), True),
    (("A shoe", "B shoe", "C shoe"), False),  # one card too many: an ignored facet
    (("A shoe",), False),
    (("B shoe", "A shoe"), False),  # the order is part of the answer
    ((), False),
])
def test_cards_exactly_wants_these_cards_in_this_order_and_no_other(titles: tuple[str, ...], ok: bool) -> None:
    failure = _check(carousel(*titles), {"cards_exactly": ["A shoe", "/^B/"]})
    assert (failure is None) is ok, failure


def test_cards_exactly_empty_and_no_cards() -> None:
    assert _check(Reply([{"text": "none"}]), {"cards_exactly": []}) is None
    assert _check(Reply([{"text": "none"}]), {"no_cards": True}) is None
    assert "expected no card" in _check(carousel("A shoe"), {"no_cards": True})
    assert _check(carousel("A shoe"), {"no_cards": ["B shoe", "/^C/"]}) is None
    assert "expected no card /^A/" in _check(carousel("A shoe"), {"no_cards": ["/^A/"]})


def test_placeholders_read_the_graph_file() -> None:
    from knowledge.loading import read_turtle
    from rdflib import Literal, URIRef

    graph = read_turtle(CATALOG)
    p1 = URIRef("https://shop.example/product/P0001")
    name = str(graph.value(p1, URIRef("https://schema.org/name")))
    offer = graph.value(p1, URIRef("https://schema.org/offers"))
    price = graph.value(offer, URIRef("https://schema.org/price")).toPython()
    stock = graph.value(p1, URIRef("https://shop.example/ns#stockLevel"))
    assert expand("the {name of P0001} costs {price of P0001}", CATALOG) == f"the {name} costs ${price:,.2f}"
    assert expand(["{stock of P0001} left"], CATALOG) == [f"{stock} left"]
    assert expand("/costs {price of P0001}/", CATALOG) == f"/costs \\${price:,.2f}/".replace(".", "\\.")
    assert Literal(stock).toPython() >= 0
    with pytest.raises(ConversationFormatError, match="0 values"):
        expand("{price of P9999}", CATALOG)

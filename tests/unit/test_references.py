"""Unit tests of knowledge.references: places in a shown list, names on it, superlatives, what a question means."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

import pytest

from knowledge.products import Product
from knowledge.references import (
    Positions, ordinal_positions, named_on_list, pick_from_shown, pick_superlative, refer, refer_many,
)
from knowledge.vocabulary import Match, Resolution

D = Decimal


def product(pid: str, name: str, price: str, brand: str = "Acme", rating: Optional[str] = "4.0",
            weight: Optional[int] = 300, reviews: int = 10) -> Product:
    """A product with just the facts these tests look at."""
    return Product(id=pid, name=name, brand=brand, category="Sunglasses", price=D(price), currency="USD", stock=5,
                   rating=D(rating) if rating else None, weight=D(weight) if weight is not None else None,
                   review_count=reviews, alt_names=(name.lower().rsplit(" ", 1)[0],))


LIST = [
    product("P0101", "Solstice 3 Polarized Sunglasses", "80.00", "Sunward", "4.1", 30, 200),
    product("P0102", "Aviator 2 Classic Sunglasses", "45.00", "Glarestop", "4.8", 25, 15),
    product("P0103", "Coast 1 Mirror Sunglasses", "45.00", "Opticoast", "3.2", 41, 900),
    product("P0104", "Vista 4 Round Sunglasses", "120.00", "Sunward", None, None, 0),
]
IDS = [p.id for p in LIST]


@pytest.mark.parametrize(
    ("value", "places", "other"),
    [
        ("2", (2,), False), ("-1", (-1,), False), ("-2", (-2,), False), ("2nd", (2,), False), ("second", (2,), False),
        ("#3", (3,), False),
        ("number 4", (4,), False), ("the third one", (3,), False), ("last", (-1,), False),
        ("the last one", (-1,), False), ("penultimate", (-2,), False), ("1..2", (1, 2), False),
        ("-2..-1", (-2, -1), False), ("3..1", (3, 2, 1), False), ("other", (), True), ("the other one", (), True),
        ("number two", (2,), False), ("former", (1,), False), ("latter", (-1,), False), ("", (), False),
        ("banana", (), False), ("1..99999", tuple(range(1, 11)), False),
    ],
)
def test_ordinal_positions(value: str, places: tuple[int, ...], other: bool) -> None:
    assert ordinal_positions(value) == Positions(places, other)


def test_positions_indexes_split_found_and_beyond() -> None:
    assert Positions((1, -1, 7, 0)).indexes(4) == ([0, 3], [7, 0])


@pytest.mark.parametrize(
    ("ordinals", "focus", "ids", "beyond"),
    [
        (["2"], None, ("P0102",), ()),
        (["last"], None, ("P0104",), ()),
        (["1..2"], None, ("P0101", "P0102"), ()),
        (["1", "3"], None, ("P0101", "P0103"), ()),
        (["7"], None, (), (7,)),
        (["2", "9"], None, ("P0102",), (9,)),
    ],
)
def test_pick_from_shown(ordinals: list[str], focus: Optional[str], ids: tuple, beyond: tuple) -> None:
    picked = pick_from_shown(IDS, ordinals, focus)
    assert picked is not None
    assert picked.product_ids == ids
    assert picked.beyond == beyond
    assert picked.shown == 4
    assert picked.ok == (bool(ids) and not beyond)


def test_the_other_one_of_two() -> None:
    picked = pick_from_shown(["A1", "B2"], ["other"], focus="A1")
    assert picked is not None and picked.product_ids == ("B2",)
    assert pick_from_shown(["A1", "B2"], ["other"], focus="B2").product_ids == ("A1",)


def test_the_other_one_needs_two_shown() -> None:
    picked = pick_from_shown(IDS, ["other"], focus="P0101")
    assert picked is not None and not picked.ok


def test_no_ordinal_means_no_pick() -> None:
    assert pick_from_shown(IDS, ["banana"]) is None
    assert pick_from_shown(IDS, []) is None


@pytest.mark.parametrize(
    ("mention", "expected"),
    [("the solstice", ["P0101"]), ("aviator", ["P0102"]), ("Coast 1", ["P0103"]), ("sunglasses", IDS),
     ("the glarestop one", ["P0102"]), ("trailblazer", []), ("", []), ("one", [])],
)
def test_named_on_list(mention: str, expected: list[str]) -> None:
    assert [p.id for p in named_on_list(mention, LIST)] == expected


@pytest.mark.parametrize(
    ("order", "expected", "label"),
    [
        ("price_asc", ["P0102", "P0103"], "cheapest"),  # a tie: both named
        ("price_desc", ["P0104"], "most expensive"),
        ("rating", ["P0102"], "best rated"),
        ("rating_asc", ["P0103"], "lowest rated"),
        ("weight_asc", ["P0102"], "lightest"),  # P0104 has no weight: left out, not taken as 0
        ("weight_desc", ["P0103"], "heaviest"),
        ("reviews", ["P0103"], "most reviewed"),
    ],
)
def test_pick_superlative(order: str, expected: list[str], label: str) -> None:
    best, superlative = pick_superlative(LIST, order)
    assert [p.id for p in best] == expected
    assert superlative is not None and superlative.label == label


def test_pick_superlative_unknown_order_or_no_values() -> None:
    assert pick_superlative(LIST, "colourfulness") == ([], None)
    best, superlative = pick_superlative([LIST[3]], "rating")
    assert best == [] and superlative is not None


def resolution(mention: str, *matches: tuple[str, float]) -> Resolution:
    """A catalog resolution with these (product id, score) matches."""
    return Resolution(mention, tuple(Match(pid, pid, score) for pid, score in matches))


def test_refer_by_place_in_the_list() -> None:
    assert refer(IDS, None, ["3"], None, [], lambda: LIST).product_id == "P0103"


def test_refer_beyond_the_list_offers_the_list() -> None:
    referent = refer(IDS, None, ["9"], None, [], lambda: LIST)
    assert referent.product_id is None and referent.problem == "beyond"
    assert referent.choices == tuple(IDS) and referent.shown == 4


def test_refer_place_without_a_list() -> None:
    assert refer([], None, ["2"], None, [], lambda: []).problem == "no_list"


def test_refer_partial_name_prefers_the_list() -> None:
    # "solstice" matches several products of the catalog, but only one of them was shown
    found = resolution("the solstice", ("P0101", 90), ("P0250", 90), ("P0251", 90))
    assert refer(IDS, None, [], found, [], lambda: LIST).product_id == "P0101"


def test_refer_name_not_on_the_list_resolves_in_the_catalog() -> None:
    found = resolution("trailblazer 2", ("P0001", 100))
    assert refer(IDS, None, [], found, [], lambda: LIST).product_id == "P0001"


def test_refer_ambiguous_name_off_the_list_asks() -> None:
    found = resolution("trailblazer", ("P0001", 90), ("P0002", 90))
    referent = refer(IDS, None, [], found, [], lambda: LIST)
    assert referent.problem == "ambiguous" and referent.choices == ("P0001", "P0002")


def test_refer_unknown_name() -> None:
    assert refer(IDS, "P0101", [], resolution("zzz"), [], lambda: LIST).problem == "unknown"


def test_refer_brand_among_the_shown() -> None:
    assert refer(IDS, None, [], None, ["glarestop"], lambda: LIST).product_id == "P0102"
    referent = refer(IDS, None, [], None, ["Sunward"], lambda: LIST)
    assert referent.problem == "ambiguous" and referent.choices == ("P0101", "P0104")


def test_refer_it_is_the_focus() -> None:
    assert refer(IDS, "P0103", [], None, [], lambda: LIST).product_id == "P0103"


def test_refer_it_without_focus() -> None:
    assert refer(["P0102"], None, [], None, [], lambda: LIST).product_id == "P0102"
    assert refer(IDS, None, [], None, [], lambda: LIST).problem == "which"
    assert refer([], None, [], None, [], lambda: []).problem == "none"


def test_refer_reads_the_list_only_when_needed() -> None:
    def listed() -> list[Product]:
        raise AssertionError("the shown products were read")

    assert refer(IDS, "P0101", ["2"], None, [], listed).product_id == "P0102"
    assert refer(IDS, "P0101", [], None, [], listed).product_id == "P0101"


@pytest.mark.parametrize(
    ("ordinals", "focus", "named", "expected"),
    [
        (["1..2"], None, [], ["P0101", "P0102"]),
        (["3"], "P0101", [], ["P0101", "P0103"]),  # "compare it with the third"
        (["1", "last"], None, [], ["P0101", "P0104"]),
        ([], None, [], IDS),  # "what's the difference between them"
        ([], None, ["P0001", "P0002"], ["P0001", "P0002"]),
        (["2"], None, ["P0001"], ["P0102", "P0001"]),
    ],
)
def test_refer_many(ordinals: list[str], focus: Optional[str], named: list[str], expected: list[str]) -> None:
    ids, _ = refer_many(IDS, focus, ordinals, named)
    assert ids == expected


def test_refer_many_two_shown_and_one_pointed_at() -> None:
    ids, _ = refer_many(["A1", "B2"], None, ["2"], [])
    assert ids == ["B2", "A1"]

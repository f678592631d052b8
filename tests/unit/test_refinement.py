"""Unit tests of knowledge.refinement: how each message reshapes the active search, and how it is described."""

from __future__ import annotations

from decimal import Decimal

import pytest

from knowledge.facets import SearchRequest
from knowledge.products import Product
from knowledge.refinement import SearchState, describe, like, next_page, refine

D = Decimal


def product(pid: str, price: str, brand: str = "Peakform", category: str = "Jackets") -> Product:
    """A product with just the facts refinements look at."""
    return Product(id=pid, name=f"Product {pid}", brand=brand, category=category, price=D(price), currency="USD",
                   stock=3)


JACKETS = SearchState(category="Jackets", max_price=D("200"))


def test_first_request_starts_a_search() -> None:
    state = refine(None, SearchRequest(category="Sunglasses", color="black", max_price=D("100")))
    assert state == SearchState(category="Sunglasses", color="black", max_price=D("100"))


def test_a_new_category_starts_afresh() -> None:
    state = refine(SearchState(category="Jackets", color="red", brand="Peakform", max_price=D("200"), offset=5),
                   SearchRequest(category="Headphones", keywords=("noise cancelling",)))
    assert state == SearchState(category="Headphones", keywords=("noise cancelling",))


def test_refinements_keep_the_rest() -> None:
    state = refine(JACKETS, SearchRequest(color="blue"))
    assert state == SearchState(category="Jackets", color="blue", max_price=D("200"))
    state = refine(state, SearchRequest(brand="Northpeak", in_stock=True, size="M"))
    assert state == SearchState(category="Jackets", color="blue", brand="Northpeak", size="M", in_stock=True,
                                max_price=D("200"))


def test_same_category_keeps_the_rest() -> None:
    assert refine(JACKETS, SearchRequest(category="Jackets", color="red")).max_price == D("200")


def test_new_colour_replaces_the_old() -> None:
    assert refine(SearchState(category="Jackets", color="red"), SearchRequest(color="black")).color == "black"


def test_a_refinement_starts_at_the_first_page() -> None:
    assert refine(SearchState(category="Jackets", offset=10), SearchRequest(color="red")).offset == 0


@pytest.mark.parametrize(
    ("before", "request_", "after"),
    [
        ((None, D("200")), SearchRequest(max_price=D("50")), (None, D("50"))),
        ((D("20"), None), SearchRequest(max_price=D("50")), (D("20"), D("50"))),
        ((D("80"), None), SearchRequest(max_price=D("50")), (None, D("50"))),  # an old floor above the new ceiling
        ((None, D("50")), SearchRequest(min_price=D("100")), (D("100"), None)),
        ((D("10"), D("90")), SearchRequest(min_price=D("30"), max_price=D("40")), (D("30"), D("40"))),
    ],
)
def test_price_limits(before: tuple, request_: SearchRequest, after: tuple) -> None:
    state = refine(SearchState(category="Jackets", min_price=before[0], max_price=before[1]), request_)
    assert (state.min_price, state.max_price) == after


def test_cheaper_goes_below_every_product_referred_to() -> None:
    shown = [product("P1", "120.00"), product("P2", "89.95"), product("P3", "150.00")]
    state = refine(JACKETS, SearchRequest(price_change="lower"), shown)
    assert state.below == D("89.95") and state.max_price is None and state.min_price is None
    assert state.facets().max_price == D("89.94")  # strictly cheaper than every one of them


def test_pricier_goes_above_every_product_referred_to() -> None:
    shown = [product("P1", "120.00"), product("P2", "89.95")]
    state = refine(JACKETS, SearchRequest(price_change="higher"), shown)
    assert (state.above, state.max_price) == (D("120.00"), D("200"))  # the ceiling is still above: kept
    assert (state.facets().min_price, state.facets().max_price) == (D("120.01"), D("200"))
    state = refine(SearchState(category="Jackets", max_price=D("100")), SearchRequest(price_change="higher"), shown)
    assert (state.above, state.max_price) == (D("120.00"), None)  # a ceiling below would leave nothing


def test_cheaper_than_a_floor_drops_the_floor() -> None:
    state = refine(SearchState(category="Jackets", min_price=D("100")), SearchRequest(price_change="lower"),
                   [product("P1", "100.00")])
    assert (state.min_price, state.below) == (None, D("100.00"))
    assert (state.facets().min_price, state.facets().max_price) == (None, D("99.99"))


def test_a_named_limit_replaces_a_relative_one() -> None:
    state = refine(JACKETS, SearchRequest(price_change="lower"), [product("P1", "100.00")])
    state = refine(state, SearchRequest(max_price=D("150")))
    assert (state.max_price, state.below) == (D("150"), None)


def test_cheaper_without_reference_changes_nothing_about_prices() -> None:
    state = refine(JACKETS, SearchRequest(price_change="lower"), [])
    assert (state.max_price, state.below) == (D("200"), None)


def test_excluded_brand() -> None:
    state = refine(SearchState(category="Running Shoes", brand="Peakform"), SearchRequest(exclude_brands=("Peakform",)))
    assert state.brand is None and state.exclude_brands == ("Peakform",)
    state = refine(state, SearchRequest(brand="Peakform"))  # named again: back in
    assert state.brand == "Peakform" and state.exclude_brands == ()


def test_another_brand_excludes_the_brands_referred_to() -> None:
    base = product("P1", "100.00", brand="Stridewell", category="Running Shoes")
    state = refine(like(base), SearchRequest(other_brand=True, price_change="lower"), [base])
    assert state.exclude_brands == ("Stridewell",)
    assert state.category == "Running Shoes" and state.exclude == ("P1",)
    assert (state.facets().min_price, state.facets().max_price) == (None, D("99.99"))  # cheaper: no floor


def test_excluded_colour() -> None:
    state = refine(SearchState(category="Jackets", color="black"), SearchRequest(exclude_colors=("black",)))
    assert state.color is None and state.exclude_colors == ("black",)


def test_keywords_accumulate() -> None:
    state = refine(SearchState(category="Jackets", keywords=("waterproof",)), SearchRequest(keywords=("hiking",)))
    assert state.keywords == ("waterproof", "hiking")


def test_next_page() -> None:
    assert next_page(JACKETS, 5).offset == 5
    assert next_page(next_page(JACKETS, 5), 5).offset == 10
    assert next_page(JACKETS, 0).offset == 1


def test_like_a_product() -> None:
    state = like(product("P7", "100.00"))
    assert (state.category, state.min_price, state.max_price) == ("Jackets", D("60.00"), D("140.00"))
    assert state.exclude == ("P7",) and state.in_stock and state.like == "Product P7"
    facets = state.facets()
    assert facets.exclude == ("P7",) and facets.sort == "rating" and facets.limit == 5


def test_slot_round_trip() -> None:
    state = SearchState(category="Jackets", color="red", min_price=D("10.50"), max_price=D("99.99"), below=D("80"),
                        sort="price_asc", in_stock=True, keywords=("waterproof", "hiking"),
                        exclude_brands=("Peakform",), exclude_colors=("black",), exclude=("P0001",),
                        like="Trailblazer", offset=5)
    slot = state.to_slot()
    assert slot["min_price"] == "10.50" and slot["keywords"] == ["waterproof", "hiking"]
    import json

    assert SearchState.from_slot(json.loads(json.dumps(slot))) == state


@pytest.mark.parametrize(
    "value",
    [None, "jackets", 42, [], {"category": ["x"]}, {"offset": "lots", "sort": "DROP", "min_price": "cheap"}],
)
def test_slot_garbage_is_harmless(value: object) -> None:
    state = SearchState.from_slot(value)
    assert state is None or (state.offset == 0 and state.sort is None and state.min_price is None)


def test_describe() -> None:
    state = SearchState(category="Sunglasses", color="black", brand="Glarestop", max_price=D("100"),
                        exclude_brands=("Sunward", "Opticoast"), sort="price_asc")
    assert describe(state, "USD") == (
        "black Glarestop sunglasses under $100.00, not by Sunward or Opticoast (cheapest first)"
    )
    assert describe(SearchState(category="Jackets", keywords=("waterproof", "hiking"), min_price=D("50"),
                                max_price=D("80"), size="M", in_stock=True), "USD") == \
        "in-stock jackets matching “waterproof hiking” in size M between $50.00 and $80.00"
    assert describe(like(product("P7", "100.00")), "USD") == \
        "items similar to the Product P7 between $60.00 and $140.00"
    assert describe(SearchState(min_price=D("100")), "EUR") == "products over €100.00"
    assert describe(SearchState(category="Jackets", below=D("89.95")), "USD") == "jackets cheaper than $89.95"
    assert describe(SearchState(category="Jackets", min_price=D("20"), below=D("89.95")), "USD") == \
        "jackets over $20.00 and cheaper than $89.95"

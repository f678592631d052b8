"""Product search as a conversation: the search a message asks for, given the one running, and its page.

A message starts a search, narrows or reshapes the running one ("in blue", "cheaper", "not by Sunward"), or asks
for products like one ("like the first one but cheaper"); "cheaper" and "another brand" are relative to the
products talked about. The page shown holds the products the facets select, ranked by the search's words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Sequence

from knowledge.facets import SearchRequest, request_from
from knowledge.products import Product
from knowledge.refinement import PAGE, SearchState, describe, like, next_page, refine
from knowledge.shop import Shop


@dataclass(frozen=True)
class SearchPage:
    """One page of a search's products, and the search as run (words that said nothing about them dropped)."""

    products: list[Product]
    state: SearchState

    @property
    def further(self) -> bool:
        """Whether this page comes after others."""
        return self.state.offset > 0

    def describe(self, currency: str) -> str:
        """What the search looks for, in words."""
        return describe(self.state, currency)


class ProductSearch:
    """Searches of the catalog of ``shop`` across the messages of one conversation."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    def request(self, entities: Sequence[dict[str, Any]]) -> SearchRequest:
        """What a message's entities ask of a search (facets, budgets, sort, exclusions, words)."""
        return request_from(list(entities), self.shop.vocabulary())

    def refined(self, request: SearchRequest, running: Optional[dict[str, Any]],
                talked_about: Callable[[], Sequence[str]] = lambda: ()) -> SearchState:
        """The running search (its slot value) after this request; ``talked_about`` gives the ids of the products
        "cheaper" or "another brand" refers to, read only when the request is relative."""
        relative = request.price_change or request.other_brand
        reference = self.shop.products(list(talked_about())) if relative else []
        return refine(SearchState.from_slot(running), request, reference)

    def like(self, product: Product, request: SearchRequest) -> SearchState:
        """A search for products like this one, reshaped by the request ("but cheaper", "in red")."""
        return refine(like(product), request, [product])

    def sorted(self, request: SearchRequest, order: str) -> SearchState:
        """A new search sorted by ``order`` ("the cheapest jacket?")."""
        return refine(None, replace(request, sort=order))

    def page(self, state: SearchState, limit: int = PAGE) -> SearchPage:
        """The page of products the search shows from its offset on."""
        products, state = self.shop.find(state, limit=limit)
        return SearchPage(products, state)

    def more(self, running: Optional[dict[str, Any]], shown: int) -> Optional[SearchPage]:
        """The next page of the running search, or None when no search is running."""
        state = SearchState.from_slot(running)
        return self.page(next_page(state, shown)) if state is not None else None

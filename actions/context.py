"""What the actions of one action server share: the settings, the shop, the shop database and the use cases.

``context()`` is built on first use from the environment's settings; each part of it is opened on first use
(thread-safe), so importing the actions opens nothing. Tests give the actions their own parts with
``use_context(ActionContext(settings, shop=..., db=...))`` and forget them with ``use_context(None)``.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional, TypeVar

from knowledge.connections import shop_database
from knowledge.settings import Settings, get_settings
from knowledge.shop import Shop
from knowledge.shopdb.engine import ShopDB
from knowledge.usecases.orders import OrderDesk
from knowledge.usecases.recommendations import Recommendations
from knowledge.usecases.search import ProductSearch
from knowledge.usecases.support import SupportDesk

T = TypeVar("T")


class ActionContext:
    """The shop, the shop database and the use cases the actions call, each opened on first use."""

    def __init__(self, settings: Optional[Settings] = None, shop: Optional[Shop] = None,
                 db: Optional[ShopDB] = None) -> None:
        self.settings = settings or get_settings()
        self._parts: dict[str, object] = {"shop": shop, "db": db}
        self._lock = threading.RLock()  # parts are built from other parts

    def _part(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if self._parts.get(name) is None:
                self._parts[name] = build()
            return self._parts[name]  # type: ignore[return-value]

    @property
    def shop(self) -> Shop:
        """The shop's knowledge: products, names and policies from the graph."""
        return self._part("shop", lambda: Shop.from_settings(self.settings))

    @property
    def db(self) -> ShopDB:
        """The shop database: customers, orders, the interaction log, hand-overs."""
        return self._part("db", lambda: shop_database(self.settings))

    @property
    def orders(self) -> OrderDesk:
        """Order status, cancelling, new addresses and returns."""
        return self._part("orders", lambda: OrderDesk(self.db, self.shop.kg))

    @property
    def recommendations(self) -> Recommendations:
        """Picks for a request, and the campaign of the shopper's segment."""
        return self._part("recommendations", lambda: Recommendations(
            self.shop, self.db, self.settings.recommender_file, self.settings.campaign_holdout))

    @property
    def support(self) -> SupportDesk:
        """Hand-overs to a person, messages left for the team, complaints."""
        return self._part("support", lambda: SupportDesk(self.db, self.shop.kg, self.settings.agent_presence_seconds,
                                                         notify=bool(self.settings.handoff_webhook_url)))

    @property
    def search(self) -> ProductSearch:
        """Product searches across a conversation."""
        return self._part("search", lambda: ProductSearch(self.shop))


_current: Optional[ActionContext] = None
_current_lock = threading.Lock()


def context() -> ActionContext:
    """The action server's context, built from the environment's settings on first use."""
    global _current
    with _current_lock:
        if _current is None:
            _current = ActionContext()
        return _current


def use_context(replacement: Optional[ActionContext]) -> None:
    """Make ``replacement`` the actions' context (None: build it from the settings again on next use)."""
    global _current
    with _current_lock:
        _current = replacement

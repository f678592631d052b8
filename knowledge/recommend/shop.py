"""The shop's recommender: trained offline from the interaction log, asked mid-conversation, with reasons."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from sqlalchemy import func, select

from knowledge.products import Product, all_product_ids, get_products
from knowledge.recommend.base import load_model
from knowledge.recommend.hybrid import Hybrid
from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import Interaction, Order, OrderLine

#: How much each kind of event says about a shopper's taste (ratings count by their value).
EVENT_WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0}


@dataclass(frozen=True)
class Suggestion:
    """A product to suggest, with its score and the reason the shopper is told."""

    product: Product
    score: float
    reason: str


def shop_interactions(db: DB) -> list[tuple[str, str, float]]:
    """(customer, product, weight) for every pair in the interaction log, events summed by weight."""
    weights: dict[tuple[str, str], float] = defaultdict(float)
    with session_scope(db) as session:
        rows = session.execute(
            select(Interaction.customer_id, Interaction.product_id, Interaction.kind, func.sum(Interaction.value),
                   func.count()).group_by(Interaction.customer_id, Interaction.product_id, Interaction.kind)
        )
        for customer, product, kind, total, count in rows:
            weights[(customer, product)] += float(total) if kind == "rating" else EVENT_WEIGHTS.get(kind, 1.0) * count
    return [(customer, product, weight) for (customer, product), weight in weights.items()]


def purchased(db: DB, customer_id: str) -> list[str]:
    """The products a customer has bought, most recent first."""
    with session_scope(db) as session:
        rows = session.execute(
            select(OrderLine.product_id).join(Order, Order.id == OrderLine.order_id)
            .where(Order.customer_id == customer_id, Order.status != "cancelled")
            .order_by(Order.placed_at.desc())
        )
        return list(dict.fromkeys(row[0] for row in rows))


def item_features(products: Iterable[Product]) -> dict[str, dict[str, object]]:
    """The graph attributes the content-based part of the hybrid learns from."""
    return {
        p.id: {"category": p.category, "brand": p.brand, "price": float(p.price), "color": " ".join(p.colors),
               "material": p.material, "description": p.description}
        for p in products
    }


def train(db: DB, products: Sequence[Product], path: Path) -> Hybrid:
    """Fit the hybrid on the interaction log and the products' attributes; save it to ``path``."""
    model = Hybrid().fit(shop_interactions(db), item_features=item_features(products))
    model.save(path)
    return model


class ShopRecommender:
    """Suggestions for a customer or a product, in stock per the graph, each with a reason."""

    def __init__(self, model: Hybrid, kg, db: DB) -> None:  # noqa: ANN001 - a SparqlEndpoint
        self.model, self.kg, self.db = model, kg, db

    @classmethod
    def load(cls, path: Path, kg, db: DB) -> "ShopRecommender":  # noqa: ANN001
        """A recommender from a model saved by :func:`train`."""
        return cls(load_model(path), kg, db)  # type: ignore[arg-type]

    def _in_stock(self, ranked: list[tuple[str, float]], skip: set[str], n: int) -> list[tuple[Product, float]]:
        candidates = [(pid, score) for pid, score in ranked if pid not in skip]
        products = {p.id: p for p in get_products(self.kg, [pid for pid, _ in candidates[: n * 4]])}
        found = [(products[pid], score) for pid, score in candidates if pid in products and products[pid].in_stock]
        return found[:n]

    def for_customer(self, customer_id: str, n: int = 3, category: Optional[str] = None) -> list[Suggestion]:
        """Picks for a known customer: in stock, not bought before, optionally in one category."""
        bought = purchased(self.db, customer_id)
        ranked = self.model.recommend(customer_id, n=200, exclude_seen=False)
        picks = self._in_stock(ranked, set(bought), 200 if category else n)
        if category:
            picks = [(p, s) for p, s in picks if p.category.lower() == category.lower()][:n]
        known = customer_id in self.model.user_index_
        bought_products = {p.id: p for p in get_products(self.kg, bought[:20])}
        return [Suggestion(p, s, self._reason(p, bought_products, known)) for p, s in picks]

    def _reason(self, product: Product, bought: dict[str, Product], known: bool) -> str:
        same = next((b for b in bought.values() if b.category == product.category), None)
        if same is not None:
            return f"shoppers who bought the {same.name} also bought this"
        return "popular with shoppers like you" if known else "popular with our shoppers right now"

    def like(self, product_ids: Sequence[str], n: int = 3) -> list[Suggestion]:
        """Picks for a shopper who looked at these products: items similar to them, in stock."""
        seen = set(product_ids)
        for product_id in product_ids:
            try:
                ranked = self.model.similar_items(product_id, n=50)
            except (KeyError, NotImplementedError, ValueError):
                continue
            picks = self._in_stock(ranked, seen, n)
            if picks:
                source = get_products(self.kg, [product_id])
                name = source[0].name if source else product_id
                return [Suggestion(p, s, f"shoppers who liked the {name} also liked this") for p, s in picks]
        return self.popular(n)

    def popular(self, n: int = 3) -> list[Suggestion]:
        """The most popular products in stock."""
        ranked = self.model.recommend("__nobody__", n=100, exclude_seen=False)
        return [Suggestion(p, s, "popular with our shoppers right now") for p, s in self._in_stock(ranked, set(), n)]


def ensure_model(path: Path, db: DB, kg) -> Path:  # noqa: ANN001 - a SparqlEndpoint
    """The saved model at ``path``, trained from the interaction log and the graph first if missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        train(db, get_products(kg, all_product_ids(kg)), path)
    return path

"""A large catalog in the demo store's vocabulary, for benchmarks: the 321 demo products, then as many more as asked.

The demo store's generator makes at most a few hundred distinct names per category (model, version, variant),
so it cannot scale to 100,000 products. This one adds an edition word ("Velocity 4 Max GTX Running Shoe") and
as many versions as needed, keeps the demo store's categories, brands, colours, materials, sizes, price ranges
and graph shape (``demo_store.build_graph``), and is deterministic for a seed. The first 321 products are the
demo store's own, so the hero P0001 "Trailblazer 2 GTX Running Shoe" and every example in the docs still work.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator, Optional

from rdflib import Graph

from knowledge.demo_store import (
    BRANDS, CATEGORIES, SEED, CategorySpec, Product, build_graph, describe, generate_products, weight_grams,
)

# Words that make a model line into many products; none is a variant, model or colour of the demo store.
EDITIONS = (
    "Plus", "Max", "Air", "Flex", "Edge", "Prime", "Neo", "Ultra", "Elite", "Evo",
    "One", "Zero", "Flux", "Swift", "Bold", "Wave", "Arc", "Volt", "Terra", "Quest",
)


def _names(spec: CategorySpec, count: int, rng: random.Random) -> list[tuple[str, int, str, str]]:
    """``count`` distinct (model, version, edition, variant) combinations of a category, in random order."""
    per_version = len(spec.models) * len(EDITIONS) * len(spec.variants)
    versions = max(9, math.ceil(count / per_version))
    combos = list(itertools.product(spec.models, range(1, versions + 1), EDITIONS, spec.variants))
    rng.shuffle(combos)
    return combos[:count]


def _alt_names(model: str, version: int, edition: str, variant: str, noun: str, brand: str) -> tuple[str, ...]:
    base = f"{model} {version} {edition}".lower()
    names = [f"{base} {variant}".lower(), f"{brand} {base}".lower(), f"{base} {noun}".lower()]
    return tuple(dict.fromkeys(names))


def _category_products(
    spec: CategorySpec, count: int, rng: random.Random, next_id: Callable[[], str]
) -> Iterator[Product]:
    brands = [name for name, cats in BRANDS if spec.slug in cats]
    low, high = spec.price_range
    for model, version, edition, variant in _names(spec, count, rng):
        brand = rng.choice(brands)
        price = Decimal(rng.randint(low, high)) - Decimal("0.01") * rng.choice((0, 1, 5))
        yield Product(
            id=next_id(),
            name=f"{model} {version} {edition} {variant} {spec.noun}",
            alt_names=_alt_names(model, version, edition, variant, spec.noun, brand),
            brand=brand,
            category=spec,
            price=price.quantize(Decimal("0.01")),
            colors=tuple(sorted(rng.sample(spec.colors, rng.randint(1, 3)))),
            sizes=spec.sizes,
            material=rng.choice(spec.materials),
            description=describe(spec, f"{model} {version} {edition}", variant, brand),
            stock=rng.choice((0, 0, 3, 8, 15, 27, 40, 64, 120)),
            rating=Decimal(str(round(rng.uniform(3.0, 5.0), 1))),
            review_count=rng.randint(0, 900),
            weight=weight_grams(spec, variant, f"{model} {version} {edition} {variant} {spec.noun}"),
        )


def generate_catalog(count: int, seed: int = SEED) -> list[Product]:
    """``count`` products: the demo store's first, then generated ones spread evenly over its categories.

    The same count and seed always give the same products; product ids run P0001, P0002, ... without gaps.
    Alternative names shared by several products are dropped, as in the demo store.
    """
    demo = generate_products(seed)
    if count <= len(demo):
        return demo[:count]
    rng = random.Random(seed + 1)
    counter = itertools.count(len(demo) + 1)

    def next_id() -> str:
        return f"P{next(counter):04d}"

    extra = count - len(demo)
    share, remainder = divmod(extra, len(CATEGORIES))
    products = list(demo)
    for index, spec in enumerate(CATEGORIES):
        products.extend(_category_products(spec, share + (1 if index < remainder else 0), rng, next_id))
    return _unique_alt_names(products, keep=len(demo))


def _unique_alt_names(products: list[Product], keep: int) -> list[Product]:
    """Generated products keep only the alternative names that name them alone; the demo ones are unchanged."""
    counts = Counter(alt for product in products for alt in product.alt_names)
    return products[:keep] + [
        replace(p, alt_names=tuple(a for a in p.alt_names if counts[a] == 1)) for p in products[keep:]
    ]


def write_ntriples(
    products: list[Product],
    path: Path,
    batch: int = 2_000,
    progress: Optional[Callable[[int, int], None]] = None,
) -> int:
    """Write the catalog (taxonomy, policies, products) as N-Triples, a batch of products at a time; return the triple count.

    Uses the demo store's own graph builder, so the shape is exactly the demo store's; memory stays small.
    """
    total = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, max(len(products), 1), batch):
            chunk = products[start:start + batch]
            graph: Graph = build_graph(chunk) if start == 0 else _products_graph(chunk)
            out.write(graph.serialize(format="nt"))
            total += len(graph)
            if progress:
                progress(min(start + batch, len(products)), len(products))
    return total


def _products_graph(products: list[Product]) -> Graph:
    from knowledge.demo_store import _add_product  # the demo store's exact triples for one product

    graph = Graph()
    for product in products:
        _add_product(graph, product)
    return graph

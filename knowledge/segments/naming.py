"""Naming and describing a segment from its centroid, in shopper terms, deterministically."""

from __future__ import annotations

from typing import Mapping, Sequence

from knowledge.segments.features import SHARE_PREFIX

#: How far (in standard deviations of the scaled feature) a centroid must sit from the mean to count.
NOTABLE = 0.5
#: A category names the segment anyway when its typical share of spend reaches this.
PERSONA_SHARE = 0.35
#: A category over-bought by the segment (z >= NOTABLE) names it when its typical share reaches this.
MIN_SHARE = 0.15

PERSONAS = {
    "running-shoes": "Runners", "jackets": "Outerwear buyers", "t-shirts": "Tee lovers",
    "backpacks": "Bag carriers", "headphones": "Audio fans", "smartwatches": "Gadget fans",
    "coffee-makers": "Coffee lovers", "skincare": "Skincare fans", "yoga-mats": "Yogis",
    "sunglasses": "Sun seekers",
}

# Short tags per feature: (high, low), for telling apart segments that got the same name.
TAGS = {
    "recency_days": ("lapsing", "recent"), "frequency": ("frequent", "infrequent"),
    "monetary": ("high spend", "low spend"), "avg_order_value": ("big baskets", "small baskets"),
    "relative_price": ("premium", "price-conscious"), "tenure_days": ("long-standing", "new"),
    "views_per_order": ("heavy browsers", "decisive"), "cart_rate": ("cart-happy", "rarely carts"),
}


def _label(slug: str, labels: Mapping[str, str]) -> str:
    return labels.get(slug, slug.replace("-", " ").title())


def _money(value: float, currency: str) -> str:
    return f"{value:,.0f} {currency}".strip()


def phrase(feature: str, value: float, z: float, labels: Mapping[str, str], currency: str = "") -> str:
    """One feature of a centroid in shopper terms, with how far it sits from the mean."""
    side = "high" if z >= 0 else "low"
    texts = {
        "recency_days": f"{'long since' if z >= 0 else 'recent'} last purchase ({value:.0f} days ago)",
        "frequency": f"{side} frequency ({value:.1f} orders)",
        "monetary": f"{side} total spend ({_money(value, currency)})",
        "avg_order_value": f"{'big' if z >= 0 else 'small'} baskets ({_money(value, currency)} per order)",
        "relative_price": f"pays {value:.2f}× the category mean price"
                          f" ({'premium' if z >= 0 else 'price-sensitive'})",
        "tenure_days": f"{'long-standing' if z >= 0 else 'new'} customer (first order {value:.0f} days ago)",
        "views_per_order": f"{value:.1f} product views per order",
        "cart_rate": f"carts {value:.0%} of viewed products",
    }
    if feature.startswith(SHARE_PREFIX):
        text = f"{value:.0%} of spend on {_label(feature[len(SHARE_PREFIX):], labels)}"
    else:
        text = texts.get(feature, f"{feature} {value:.2f}")
    return f"{text}, {z:+.1f} SD"


def tier(z: Mapping[str, float], typical: Mapping[str, float]) -> str:
    """The value/loyalty part of a name, from the first rule the centroid meets."""
    get = lambda name: z.get(name, 0.0)  # noqa: E731 - a one-line accessor read more easily inline
    if get("recency_days") >= NOTABLE:
        if typical.get("frequency", 0.0) < 1.5:
            return "Lapsed one-timers"
        return "Lapsing regulars" if get("frequency") >= 0 else "Lapsing occasional shoppers"
    if get("frequency") >= NOTABLE and get("monetary") >= NOTABLE:
        return "Loyal big spenders"
    if get("relative_price") <= -NOTABLE:
        return "Bargain hunters"
    if get("relative_price") >= NOTABLE:
        return "Premium seekers"
    if get("avg_order_value") >= NOTABLE or get("monetary") >= NOTABLE:
        return "Big-basket buyers"
    if get("frequency") >= NOTABLE:
        return "Frequent shoppers"
    if get("tenure_days") <= -NOTABLE:
        return "Newcomers"
    if get("monetary") <= -NOTABLE or get("frequency") <= -NOTABLE:
        return "Light spenders"
    return "Steady shoppers"


def persona(z: Mapping[str, float], typical: Mapping[str, float], labels: Mapping[str, str]) -> str:
    """The category part of a name: the dominant or notably over-bought categories, "mixed basket", or ""."""
    shares = sorted(
        ((value, name) for name, value in typical.items() if name.startswith(SHARE_PREFIX)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if not shares:
        return ""
    notable = [name for value, name in shares if z.get(name, 0.0) >= NOTABLE and value >= MIN_SHARE][:2]
    if not notable and shares[0][0] >= PERSONA_SHARE:
        notable = [shares[0][1]]
    slugs = [name[len(SHARE_PREFIX):] for name in notable]
    if len(slugs) == 1:
        return PERSONAS.get(slugs[0], f"{_label(slugs[0], labels)} shoppers")
    if len(slugs) == 2:
        return f"{_label(slugs[0], labels)} & {_label(slugs[1], labels)} shoppers"
    return "mixed basket"


def describe(z: Mapping[str, float], typical: Mapping[str, float], labels: Mapping[str, str],
             currency: str = "", count: int = 3) -> str:
    """The ``count`` features that set the centroid furthest apart from the mean, as one sentence."""
    ranked = sorted(z, key=lambda name: (-abs(z[name]), name))[:count]
    return "Stands out for: " + "; ".join(phrase(n, typical[n], z[n], labels, currency) for n in ranked) + "."


def _tag(z: Mapping[str, float], labels: Mapping[str, str], skip: set[str]) -> str:
    """The strongest feature not yet used, as a short tag."""
    for name in sorted(z, key=lambda n: (-abs(z[n]), n)):
        if name in skip:
            continue
        if name.startswith(SHARE_PREFIX):
            label = _label(name[len(SHARE_PREFIX):], labels)
            return f"{label}-heavy" if z[name] >= 0 else f"few {label}"
        if name in TAGS:
            return TAGS[name][0 if z[name] >= 0 else 1]
    return ""


def name_segments(
    zs: Sequence[Mapping[str, float]], typicals: Sequence[Mapping[str, float]], labels: Mapping[str, str]
) -> list[str]:
    """A distinct name per centroid: tier and persona, then a tag or a number for names that clash."""
    names = []
    for z, typical in zip(zs, typicals):
        who = persona(z, typical, labels)
        names.append(f"{tier(z, typical)} ({who})" if who else tier(z, typical))
    for name in sorted(set(names)):
        clashing = [i for i, n in enumerate(names) if n == name]
        if len(clashing) > 1:
            for i in clashing:
                tag = _tag(zs[i], labels, skip=set())
                names[i] = f"{name}, {tag}" if tag else name
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1 or names.count(name) > 1:
            names[i] = f"{name} #{seen[name]}"
    return names

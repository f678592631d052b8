"""Cleaning purchases and engineering one row of shopper features per customer (RFM, shares, prices, browsing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from knowledge.segments.collect import SECONDS_PER_DAY, Purchases

#: Order statuses that are not purchases: the money never stayed with the shop.
EXCLUDED_STATUSES = ("cancelled", "returned")
#: Outlier rule on total spend: above the 99.5th percentile or above Q3 + 3·IQR (whichever is lower).
OUTLIER_QUANTILE = 99.5
OUTLIER_IQR_FACTOR = 3.0

BASE_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "relative_price", "tenure_days")
BROWSING_FEATURES = ("views_per_order", "cart_rate")
#: Skewed counts and money: log1p before standard scaling.
LOG_FEATURES = ("frequency", "monetary", "avg_order_value", "views_per_order")
#: Price ratios: log, so paying half and paying double sit equally far from 1.
RATIO_FEATURES = ("relative_price",)
SHARE_PREFIX = "share:"


@dataclass
class CustomerFeatures:
    """One row of features per customer with at least one kept purchase."""

    customers: np.ndarray  # ids, sorted
    names: list[str]
    values: np.ndarray  # customers × features, raw units (days, orders, money, ratios)
    outliers: np.ndarray  # bool per customer: kept out of fitting, still assigned a segment
    as_of: np.datetime64

    def __len__(self) -> int:
        return len(self.customers)

    def column(self, name: str) -> np.ndarray:
        """One feature for every customer."""
        return self.values[:, self.names.index(name)]


def clean(purchases: Purchases) -> Purchases:
    """Drop cancelled and returned orders and lines with a non-positive (or unknown) quantity, price or baseline."""
    amount = purchases.quantities * purchases.prices
    keep = (
        ~np.isin(purchases.statuses, EXCLUDED_STATUSES)
        & (purchases.quantities > 0)
        & (purchases.prices > 0)
        & np.isfinite(amount)
        & (purchases.reference_prices > 0)
    )
    return purchases.subset(np.flatnonzero(keep))


def spend_outliers(
    monetary: np.ndarray, quantile: float = OUTLIER_QUANTILE, iqr_factor: float = OUTLIER_IQR_FACTOR
) -> np.ndarray:
    """Customers whose total spend lies beyond the ``quantile``-th percentile or Q3 + ``iqr_factor``·IQR."""
    if len(monetary) < 20:
        return np.zeros(len(monetary), dtype=bool)
    q1, q3, top = np.percentile(monetary, [25, 75, quantile])
    return monetary > min(top, q3 + iqr_factor * (q3 - q1))


def share_name(category: str) -> str:
    """The feature name of a category's share of spend."""
    return f"{SHARE_PREFIX}{category}"


def engineer_features(purchases: Purchases, as_of: Optional[np.datetime64] = None) -> CustomerFeatures:
    """Per customer: recency, frequency, monetary, AOV, relative price, tenure, category shares, browsing ratios."""
    as_of = purchases.as_of if as_of is None else as_of
    customers, who = np.unique(purchases.customers, return_inverse=True)
    n = len(customers)
    seconds = purchases.dates.astype("datetime64[s]").astype(np.int64)
    last = np.full(n, np.iinfo(np.int64).min)
    first = np.full(n, np.iinfo(np.int64).max)
    np.maximum.at(last, who, seconds)
    np.minimum.at(first, who, seconds)
    now = np.datetime64(as_of, "s").astype(np.int64)
    recency = np.maximum(now - last, 0) / SECONDS_PER_DAY
    tenure = np.maximum(now - first, 0) / SECONDS_PER_DAY
    order_ids, order_index = np.unique(purchases.orders, return_inverse=True)
    pairs = np.unique(who.astype(np.int64) * max(len(order_ids), 1) + order_index)
    frequency = np.bincount(pairs // max(len(order_ids), 1), minlength=n).astype(np.float64)
    amount = purchases.quantities * purchases.prices
    monetary = np.bincount(who, weights=amount, minlength=n)
    relative = np.bincount(who, weights=purchases.prices / purchases.reference_prices, minlength=n)
    relative /= np.bincount(who, minlength=n)
    columns = [recency, frequency, monetary, monetary / frequency, relative, tenure]
    names = list(BASE_FEATURES)
    slugs = sorted(set(purchases.categories.tolist()) - {""})
    if slugs:
        slot = {slug: k for k, slug in enumerate(slugs)}
        known = purchases.categories != ""
        cats = np.array([slot[c] for c in purchases.categories[known].tolist()], dtype=np.int64)
        spend = np.bincount(who[known] * len(slugs) + cats, weights=amount[known], minlength=n * len(slugs))
        spend = spend.reshape(n, len(slugs))
        shares = spend / np.maximum(spend.sum(axis=1, keepdims=True), 1e-12)
        columns.extend(shares.T)
        names.extend(share_name(slug) for slug in slugs)
    if purchases.views is not None and purchases.carts is not None:
        position = np.searchsorted(purchases.all_customers, customers)
        views, carts = purchases.views[position], purchases.carts[position]
        columns.extend([views / frequency, carts / np.maximum(views, 1.0)])
        names.extend(BROWSING_FEATURES)
    values = np.column_stack(columns).astype(np.float64) if n else np.zeros((0, len(names)))
    return CustomerFeatures(customers, names, values, spend_outliers(monetary), np.datetime64(as_of, "s"))

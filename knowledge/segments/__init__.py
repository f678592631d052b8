"""Shopper segments: K-means on engineered customer features (recency, frequency, spend, categories, prices).

    model = build_segments(connect(), generate_products())   # collect, clean, features, scale, k by silhouette
    store_segments(db, model)                                 # the customer_segments table
    segment_of(db, "C0001")                                   # Segment(id, name, size)
    report(model, "var/segments.html")                        # self-contained HTML

Steps live in small modules: ``collect`` (shop database, Online Retail), ``features`` (cleaning, outliers,
features), ``model`` (scaling, K-means, silhouette, saving), ``naming``, ``storage``, ``report``, ``retail``.
"""

from knowledge.segments.collect import Purchases, collect_online_retail, collect_shop
from knowledge.segments.features import CustomerFeatures, clean, engineer_features, spend_outliers
from knowledge.segments.model import (
    NO_PURCHASE,
    Segment,
    SegmentModel,
    build_segments,
    choose_k,
    fit_segments,
)
from knowledge.segments.report import report
from knowledge.segments.retail import evaluate_online_retail, online_retail_segments
from knowledge.segments.storage import CUSTOMER_SEGMENTS, segment_members, segment_of, store_segments

__all__ = [
    "CUSTOMER_SEGMENTS",
    "NO_PURCHASE",
    "CustomerFeatures",
    "Purchases",
    "Segment",
    "SegmentModel",
    "build_segments",
    "choose_k",
    "clean",
    "collect_online_retail",
    "collect_shop",
    "engineer_features",
    "evaluate_online_retail",
    "fit_segments",
    "online_retail_segments",
    "report",
    "segment_members",
    "segment_of",
    "spend_outliers",
    "store_segments",
]

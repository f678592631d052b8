"""Shopper segments: K-means on engineered customer features (recency, frequency, spend, categories, prices).

    model = build_segments_from_graph(connect(), kg)          # the live catalog; collect, clean, scale, k by silhouette
    store_segments(db, model)                                 # the customer_segments table
    segment_of(db, "C0001")                                   # Segment(id, name, size)
    report(model, "var/segments.html")                        # self-contained HTML

Steps live in small modules: ``collect`` (shop database, Online Retail), ``features`` (cleaning, outliers,
features), ``model`` (scaling, K-means, silhouette, saving), ``naming``, ``storage``, ``report``, ``retail``.
"""

from knowledge.segments.catalog import CatalogItem, as_catalog, catalog_items
from knowledge.segments.collect import Purchases, collect_online_retail, collect_shop
from knowledge.segments.features import CustomerFeatures, clean, engineer_features, spend_outliers
from knowledge.segments.model import (
    NO_PURCHASE,
    Segment,
    SegmentModel,
    build_segments,
    build_segments_from_graph,
    choose_k,
    fit_segments,
)
from knowledge.segments.report import report
from knowledge.segments.retail import evaluate_online_retail, online_retail_segments
from knowledge.segments.storage import (
    CUSTOMER_SEGMENTS,
    customer_segments,
    segment_members,
    segment_of,
    segment_sizes,
    store_segments,
)

__all__ = [
    "CUSTOMER_SEGMENTS",
    "CatalogItem",
    "NO_PURCHASE",
    "CustomerFeatures",
    "Purchases",
    "Segment",
    "as_catalog",
    "build_segments_from_graph",
    "catalog_items",
    "customer_segments",
    "segment_sizes",
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

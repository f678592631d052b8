"""Shopper segments on the UCI Online Retail data: RFM, basket, relative price and tenure (no category shares)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Union

from knowledge.segments.collect import collect_online_retail
from knowledge.segments.model import K_RANGE, SEED, Progress, SegmentModel, fit_segments

PathLike = Union[str, "os.PathLike[str]"]


def online_retail_segments(
    path: PathLike, k_range: Iterable[int] = K_RANGE, seed: int = SEED, progress: Progress = None
) -> SegmentModel:
    """Segments of the Online Retail customers (raises ``DatasetMissing`` when the folder is absent)."""
    from knowledge.recommend.evaluation import load_online_retail

    data = load_online_retail(Path(path))
    return fit_segments(collect_online_retail(data), k_range, seed, progress=progress)


def summary(model: SegmentModel) -> dict[str, Any]:
    """The figures of a segment model: k, silhouette (by k), J, customers and the segments' names and sizes."""
    return {
        "k": model.k,
        "silhouette": model.silhouette,
        "inertia": model.inertia,
        "silhouettes": dict(model.silhouettes),
        "customers": len(model.customer_ids),
        "segments": [{"id": s.id, "name": s.name, "size": s.size} for s in model.segments],
    }


def evaluate_online_retail(
    path: PathLike, k_range: Iterable[int] = K_RANGE, seed: int = SEED, progress: Progress = None
) -> dict[str, Any]:
    """Segment count and silhouette (plus J and the segments) of K-means shopper segments on Online Retail."""
    return summary(online_retail_segments(path, k_range, seed, progress))

"""K-means shopper segments: scaling, k by silhouette, canonical labels, names, and saving to ``.npz``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from knowledge.recommend.base import write_npz_atomically
from knowledge.segments.collect import Purchases
from knowledge.segments.features import (
    BROWSING_FEATURES,
    LOG_FEATURES,
    RATIO_FEATURES,
    SHARE_PREFIX,
    CustomerFeatures,
    clean,
    engineer_features,
)
from knowledge.segments.naming import describe, name_segments
from knowledge.shopdb.engine import DB

if TYPE_CHECKING:
    from knowledge.sparql import SparqlEndpoint

SEED = 42
RATIO_FLOOR = 1e-3
K_RANGE = range(2, 9)
SILHOUETTE_SAMPLE = 2000
#: The segment of customers without a kept purchase: they have no features, so they are not clustered.
NO_PURCHASE = -1
NO_PURCHASE_NAME = "Browsers without a purchase"
#: Features engineered for the profile only (not clustered by default): too noisy on the demo shop.
PROFILE_ONLY = BROWSING_FEATURES
#: Small data: one thread avoids OpenMP oversubscription (measured 0.06 s instead of 3.6 s a fit on 2 busy cores).
THREADS = 1
_FORMAT_VERSION = 1

Progress = Optional[Callable[[str], None]]
PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Segment:
    """A shopper segment: its id, name, description and how many customers it holds."""

    id: int
    name: str
    description: str = ""
    size: int = 0


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


def log_transform(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """A copy with ``log1p`` on the skewed columns (counts, money) and ``log`` on price ratios."""
    out = np.array(values, dtype=np.float64, copy=True)
    for j, name in enumerate(names):
        if name in LOG_FEATURES:
            out[:, j] = np.log1p(out[:, j])
        elif name in RATIO_FEATURES:
            out[:, j] = np.log(np.maximum(out[:, j], RATIO_FLOOR))
    return out


def inverse_log_transform(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Undo :func:`log_transform`."""
    out = np.array(values, dtype=np.float64, copy=True)
    for j, name in enumerate(names):
        if name in LOG_FEATURES:
            out[:, j] = np.expm1(out[:, j])
        elif name in RATIO_FEATURES:
            out[:, j] = np.exp(out[:, j])
    return out


def silhouette(x: np.ndarray, labels: np.ndarray, seed: int = SEED, sample: int = SILHOUETTE_SAMPLE) -> float:
    """Mean silhouette, on a seeded sample of at most ``sample`` rows."""
    size = sample if len(x) > sample else None
    return float(silhouette_score(x, labels, sample_size=size, random_state=seed))


def choose_k(
    x: np.ndarray, k_range: Iterable[int] = K_RANGE, seed: int = SEED, progress: Progress = None
) -> tuple[int, dict[int, float], dict[int, KMeans]]:
    """Fit K-means for every k (n_init=10, fixed seed); return the k of highest silhouette, all scores and fits."""
    ks = sorted({int(k) for k in k_range if 2 <= k < len(x)})
    if not ks:
        raise ValueError(f"cannot cluster {len(x)} customers into any k of {list(k_range)}")
    scores: dict[int, float] = {}
    fits: dict[int, KMeans] = {}
    with threadpool_limits(limits=THREADS):
        for k in ks:
            fits[k] = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
            scores[k] = silhouette(x, fits[k].labels_, seed) if len(set(fits[k].labels_)) > 1 else -1.0
            _say(progress, f"  k={k}: silhouette {scores[k]:.3f}, J {fits[k].inertia_:.1f}")
    best = max(ks, key=lambda k: (scores[k], -k))  # ties: the smaller k
    return best, scores, fits


def canonical_order(kmeans: KMeans) -> np.ndarray:
    """Relabel a fit in place so segment 0 is the largest (ties by centroid); return old id per new id."""
    sizes = np.bincount(kmeans.labels_, minlength=kmeans.n_clusters)
    centers = kmeans.cluster_centers_
    order = np.array(sorted(range(kmeans.n_clusters), key=lambda c: (-sizes[c], tuple(np.round(centers[c], 9)))))
    new_id = np.empty_like(order)
    new_id[order] = np.arange(len(order))
    kmeans.cluster_centers_ = centers[order].copy()
    kmeans.labels_ = new_id[kmeans.labels_]
    return order


@dataclass
class SegmentModel:
    """Fitted segments: features, scaler, K-means, silhouette by k, names and every customer's label."""

    features: CustomerFeatures
    feature_names: list[str]  # the clustered features (a subset of features.names, in that order)
    scaler: StandardScaler
    centers: np.ndarray  # k × features, scaled space, canonical order
    k: int
    silhouettes: dict[int, float]
    inertia: float  # J = Σ_i Σ_{x∈C_i} ‖x − μ_i‖² over the fitted (non-outlier) customers
    customer_ids: np.ndarray  # every customer, sorted
    labels: np.ndarray  # segment per customer; NO_PURCHASE for those without a kept purchase
    segments: list[Segment]
    seed: int = SEED
    currency: str = ""
    category_labels: dict[str, str] = field(default_factory=dict)
    top_terms: dict[int, list[tuple[str, float]]] = field(default_factory=dict)  # top categories/keywords
    kmeans: Optional[KMeans] = None  # None on a model loaded from disk (``centers`` hold the same)
    category_prices: dict[str, float] = field(default_factory=dict)  # slug -> mean catalog price

    @property
    def silhouette(self) -> float:
        """The silhouette of the chosen k."""
        return self.silhouettes[self.k]

    @property
    def columns(self) -> list[int]:
        """Positions of the clustered features in ``features.names``."""
        return [self.features.names.index(name) for name in self.feature_names]

    def scaled(self, values: Optional[np.ndarray] = None) -> np.ndarray:
        """Raw feature rows (default: every buyer) in the scaled space K-means works in."""
        values = self.features.values[:, self.columns] if values is None else values
        return self.scaler.transform(log_transform(values, self.feature_names))

    def assign(self, values: np.ndarray) -> np.ndarray:
        """The nearest centroid of raw feature rows (clustered features only)."""
        x = self.scaled(values)
        return ((x[:, None, :] - self.centers[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)

    def place(self, category_counts: Mapping[str, float], relative_price: Optional[float] = None) -> Optional[int]:
        """The nearest centroid of a shopper known only from browsing: on the features browsing shows.

        ``category_counts`` are products looked at per category slug (their shares stand in for the
        shares of spend), ``relative_price`` the mean of price ÷ category mean price over them. Only
        those dimensions are compared (recency, frequency and spend are unknown); None when none of them
        is a clustered feature.
        """
        total = float(sum(v for v in category_counts.values() if v > 0))
        known: dict[str, float] = {}
        if total > 0:
            for name in self.feature_names:
                if name.startswith(SHARE_PREFIX):
                    known[name] = max(float(category_counts.get(name[len(SHARE_PREFIX):], 0.0)), 0.0) / total
        if relative_price is not None and relative_price > 0 and "relative_price" in self.feature_names:
            known["relative_price"] = float(relative_price)
        if not known or self.k == 0:
            return None
        columns = [self.feature_names.index(name) for name in known]
        raw = np.zeros((1, len(self.feature_names)))
        raw[0, columns] = list(known.values())
        x = self.scaled(raw)[0, columns]
        distances = ((self.centers[:, columns] - x) ** 2).sum(axis=1)
        return int(distances.argmin())

    def place_by_products(self, products: Sequence[Any]) -> Optional[int]:
        """:meth:`place` for the products a shopper looked at (catalog items, graph or demo products)."""
        from knowledge.segments.catalog import as_catalog

        items = as_catalog(products)
        counts: dict[str, float] = {}
        ratios = []
        for item in items:
            counts[item.category] = counts.get(item.category, 0.0) + 1.0
            reference = self.category_prices.get(item.category)
            if reference:
                ratios.append(item.price / reference)
        return self.place(counts, float(np.mean(ratios)) if ratios else None)

    def typical(self) -> np.ndarray:
        """The centroids in raw units (inverse scaling and log)."""
        return inverse_log_transform(self.scaler.inverse_transform(self.centers), self.feature_names)

    def segment(self, segment_id: int) -> Optional[Segment]:
        """A segment by id."""
        return next((s for s in self.segments if s.id == segment_id), None)

    def label_of(self, customer_id: str) -> Optional[int]:
        """A customer's segment id, or None for an unknown customer."""
        pos = int(np.searchsorted(self.customer_ids, customer_id))
        if pos < len(self.customer_ids) and self.customer_ids[pos] == customer_id:
            return int(self.labels[pos])
        return None

    def members(self, segment_id: int) -> list[str]:
        """The customers of a segment."""
        return self.customer_ids[self.labels == segment_id].tolist()

    def save(self, path: PathLike) -> Path:
        """Write the model to one ``.npz`` (numpy arrays and a JSON header; loading unpickles nothing)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        header = {
            "format": _FORMAT_VERSION, "feature_names": self.feature_names, "names": self.features.names,
            "as_of": str(self.features.as_of), "k": self.k,
            "silhouettes": {str(k): v for k, v in self.silhouettes.items()}, "inertia": self.inertia,
            "seed": self.seed, "currency": self.currency,
            "category_labels": self.category_labels, "segments": [asdict(s) for s in self.segments],
            "top_terms": {str(k): v for k, v in self.top_terms.items()},
            "category_prices": self.category_prices,
        }
        arrays = {
            "feature_customers": self.features.customers, "feature_values": self.features.values,
            "outliers": self.features.outliers, "centers": self.centers, "customer_ids": self.customer_ids,
            "labels": self.labels, "scaler_mean": self.scaler.mean_, "scaler_scale": self.scaler.scale_,
            "scaler_var": self.scaler.var_,
        }
        write_npz_atomically(path, header, arrays)
        return path

    @classmethod
    def load(cls, path: PathLike) -> "SegmentModel":
        """Read a model written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        header = json.loads(str(arrays.pop("__header__")))
        if header.get("format") != _FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported segment model format {header.get('format')!r}")
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_, scaler.var_ = arrays["scaler_mean"], arrays["scaler_scale"], arrays["scaler_var"]
        scaler.n_features_in_ = len(scaler.mean_)
        scaler.n_samples_seen_ = int((~arrays["outliers"]).sum())
        features = CustomerFeatures(arrays["feature_customers"], header["names"], arrays["feature_values"],
                                    arrays["outliers"], np.datetime64(header["as_of"], "s"))
        return cls(
            features=features, feature_names=header["feature_names"], scaler=scaler, centers=arrays["centers"],
            k=int(header["k"]), silhouettes={int(k): float(v) for k, v in header["silhouettes"].items()},
            inertia=float(header["inertia"]), customer_ids=arrays["customer_ids"], labels=arrays["labels"],
            segments=[Segment(**s) for s in header["segments"]], seed=int(header["seed"]),
            currency=header["currency"], category_labels=header["category_labels"],
            top_terms={int(k): [tuple(t) for t in v] for k, v in header["top_terms"].items()},
            category_prices={str(k): float(v) for k, v in header.get("category_prices", {}).items()},
        )


def _words(text: str) -> set[str]:
    """Distinct keywords of a product description (letters only, 3+ characters)."""
    return {w for w in "".join(c if c.isalpha() else " " for c in text.upper()).split() if len(w) >= 3}


def top_terms(model: SegmentModel, purchases: Purchases, count: int = 3) -> dict[int, list[tuple[str, float]]]:
    """Per segment: its top categories by mean share of spend, else its most over-represented description words."""
    terms: dict[int, list[tuple[str, float]]] = {}
    shares = [j for j, n in enumerate(model.features.names) if n.startswith(SHARE_PREFIX)]
    labels = model.labels[np.searchsorted(model.customer_ids, model.features.customers)]
    if shares:
        for segment in range(model.k):
            mean = model.features.values[labels == segment][:, shares].mean(axis=0)
            best = sorted(range(len(shares)), key=lambda j: (-mean[j], j))[:count]
            terms[segment] = [(model.features.names[shares[j]][len(SHARE_PREFIX):], float(mean[j])) for j in best]
        return terms
    if purchases.descriptions is None or not len(purchases):
        return terms
    line_segment = model.labels[np.searchsorted(model.customer_ids, purchases.customers)]
    unique, index = np.unique(purchases.descriptions, return_inverse=True)
    words = [_words(text) for text in unique.tolist()]
    overall: dict[str, float] = {}
    per_segment: dict[int, dict[str, float]] = {s: {} for s in range(model.k)}
    for line, segment in zip(index.tolist(), line_segment.tolist()):
        for word in words[line]:
            overall[word] = overall.get(word, 0.0) + 1
            if segment >= 0:
                per_segment[segment][word] = per_segment[segment].get(word, 0.0) + 1
    total = len(purchases)
    for segment, counts in per_segment.items():
        lines = max(int((line_segment == segment).sum()), 1)
        lift = {w: c / lines - overall[w] / total for w, c in counts.items()}
        best = sorted(lift, key=lambda w: (-lift[w], w))[:count]
        terms[segment] = [(w, counts[w] / lines) for w in best]
    return terms


def fit_segments(
    purchases: Purchases,
    k_range: Iterable[int] = K_RANGE,
    seed: int = SEED,
    cluster_features: Optional[Sequence[str]] = None,
    progress: Progress = None,
) -> SegmentModel:
    """Clean, engineer, scale (log1p + standard), choose k by silhouette, fit, name: a :class:`SegmentModel`."""
    kept = clean(purchases)
    _say(progress, f"{len(purchases)} order lines, {len(kept)} kept after dropping cancelled/returned orders "
                   "and non-positive amounts")
    features = engineer_features(kept)
    names = [n for n in features.names if n not in PROFILE_ONLY] if cluster_features is None else list(cluster_features)
    unknown = [n for n in names if n not in features.names]
    if unknown:
        raise ValueError(f"unknown features {unknown}; choose from {features.names}")
    inliers = ~features.outliers
    _say(progress, f"{len(features)} customers with purchases ({int(features.outliers.sum())} spend outliers kept "
                   f"out of fitting), {len(purchases.all_customers) - len(features)} without; "
                   f"{len(names)} features")
    raw = features.values[:, [features.names.index(n) for n in names]]
    scaler = StandardScaler().fit(log_transform(raw[inliers], names))
    x = scaler.transform(log_transform(raw, names))
    k, scores, fits = choose_k(x[inliers], k_range, seed, progress)
    kmeans = fits[k]
    canonical_order(kmeans)
    buyer_labels = kmeans.labels_.copy() if inliers.all() else np.empty(len(features), dtype=np.int64)
    buyer_labels[inliers] = kmeans.labels_
    if not inliers.all():
        with threadpool_limits(limits=THREADS):
            buyer_labels[~inliers] = kmeans.predict(x[~inliers])
    customer_ids = np.union1d(purchases.all_customers, features.customers)
    labels = np.full(len(customer_ids), NO_PURCHASE, dtype=np.int64)
    labels[np.searchsorted(customer_ids, features.customers)] = buyer_labels
    model = SegmentModel(
        features=features, feature_names=names, scaler=scaler, centers=kmeans.cluster_centers_.copy(), k=k,
        silhouettes=scores, inertia=float(kmeans.inertia_), customer_ids=customer_ids, labels=labels, segments=[],
        seed=seed, currency=purchases.currency, category_labels=dict(purchases.category_labels), kmeans=kmeans,
        category_prices=dict(purchases.category_prices),
    )
    model.segments = _named_segments(model, purchases)
    model.top_terms = top_terms(model, kept)
    _say(progress, f"chose k={k}: silhouette {scores[k]:.3f}, J {model.inertia:.1f}")
    return model


def _named_segments(model: SegmentModel, purchases: Purchases) -> list[Segment]:
    """The fitted segments (and the no-purchase one, when it has members) with names and descriptions."""
    typical = model.typical()
    zs = [dict(zip(model.feature_names, row.tolist())) for row in model.centers]
    typicals = [dict(zip(model.feature_names, row.tolist())) for row in typical]
    names = name_segments(zs, typicals, model.category_labels)
    sizes = np.bincount(model.labels[model.labels >= 0], minlength=model.k)
    segments = [
        Segment(i, names[i], describe(zs[i], typicals[i], model.category_labels, model.currency), int(sizes[i]))
        for i in range(model.k)
    ]
    idle = int((model.labels == NO_PURCHASE).sum())
    if idle:
        detail = "no orders, or only cancelled/returned ones"
        if purchases.views is not None:
            mask = np.isin(purchases.all_customers, model.customer_ids[model.labels == NO_PURCHASE])
            detail += f"; {purchases.views[mask].mean():.1f} product views on average"
        segments.append(Segment(NO_PURCHASE, NO_PURCHASE_NAME, f"Not clustered: {detail}.", idle))
    return segments


def build_segments(
    db: DB,
    products: Sequence[Any],
    k_range: Iterable[int] = K_RANGE,
    seed: int = SEED,
    currency: str = "",
    progress: Progress = None,
) -> SegmentModel:
    """Shopper segments of the shop database (``products``: the catalog, for categories and their mean prices)."""
    from knowledge.segments.collect import collect_shop

    purchases = collect_shop(db, products, currency=currency)
    return fit_segments(purchases, k_range, seed, progress=progress)


def build_segments_from_graph(
    db: DB,
    kg: "SparqlEndpoint",
    k_range: Iterable[int] = K_RANGE,
    seed: int = SEED,
    currency: str = "",
    progress: Progress = None,
) -> SegmentModel:
    """Shopper segments of the shop database against the catalog the live graph holds now (any shop's)."""
    from knowledge.segments.catalog import catalog_items

    items = catalog_items(kg)
    _say(progress, f"catalog: {len(items)} products in {len({i.category for i in items})} categories from the graph")
    return build_segments(db, items, k_range, seed, currency, progress)

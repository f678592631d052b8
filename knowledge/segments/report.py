"""A self-contained HTML report of the segments: silhouette by k, a PCA map, centroid heat map and profiles."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any, Union

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from knowledge.segments.features import SHARE_PREFIX
from knowledge.segments.model import NO_PURCHASE, SegmentModel

PathLike = Union[str, "os.PathLike[str]"]
PROFILE_COLUMNS = (
    ("recency_days", "recency (days)", "{:.0f}"), ("frequency", "orders", "{:.1f}"),
    ("monetary", "spend", "{:,.0f}"), ("avg_order_value", "AOV", "{:,.0f}"),
    ("relative_price", "price paid ÷ category mean", "{:.2f}"), ("tenure_days", "tenure (days)", "{:.0f}"),
    ("views_per_order", "views / order", "{:.1f}"), ("cart_rate", "cart rate", "{:.0%}"),
)
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
h1{margin-bottom:.2rem} .meta{color:#555} figure{margin:1rem 0} img{max-width:100%;border:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9rem} th,td{border:1px solid #ddd;padding:.35rem .5rem;
text-align:right;vertical-align:top} th{background:#f4f4f4} td.text{text-align:left} .swatch{display:inline-block;
width:.9rem;height:.9rem;border-radius:2px;margin-right:.3rem;vertical-align:middle}
"""


def _png(figure: Figure) -> str:
    """A figure as an ``<img>`` with the PNG embedded in base64."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="">'


def _colors(count: int) -> list[tuple[float, float, float, float]]:
    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(count)]


def silhouette_figure(model: SegmentModel) -> Figure:
    """Silhouette by k, the chosen k marked."""
    figure = Figure(figsize=(6, 3.4))
    axes = figure.subplots()
    ks = sorted(model.silhouettes)
    axes.plot(ks, [model.silhouettes[k] for k in ks], marker="o")
    axes.scatter([model.k], [model.silhouette], s=160, facecolors="none", edgecolors="crimson", linewidths=2,
                 label=f"chosen k={model.k}")
    axes.set_xlabel("k (number of segments)")
    axes.set_ylabel("mean silhouette")
    axes.set_xticks(ks)
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def pca_figure(model: SegmentModel) -> Figure:
    """Customers with purchases on the first two principal components of the scaled features, by segment."""
    x = model.scaled()
    labels = model.labels[np.searchsorted(model.customer_ids, model.features.customers)]
    inliers = ~model.features.outliers
    pca = PCA(n_components=min(2, x.shape[1]), random_state=model.seed).fit(x[inliers])
    points, centers = pca.transform(x), pca.transform(model.centers)
    if points.shape[1] == 1:
        points, centers = np.c_[points, np.zeros(len(points))], np.c_[centers, np.zeros(len(centers))]
    figure = Figure(figsize=(7.5, 5.5))
    axes = figure.subplots()
    colors = _colors(model.k)
    for segment in range(model.k):
        mine = labels == segment
        found = model.segment(segment)
        name = found.name if found else str(segment)
        axes.scatter(points[mine & inliers, 0], points[mine & inliers, 1], s=10, alpha=0.6, color=colors[segment],
                     label=f"{segment}: {name}")
        axes.scatter(points[mine & ~inliers, 0], points[mine & ~inliers, 1], s=40, marker="x", color=colors[segment])
        axes.scatter(centers[segment, 0], centers[segment, 1], s=220, marker="*", color=colors[segment],
                     edgecolors="black", linewidths=1)
    explained = pca.explained_variance_ratio_
    axes.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    axes.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)" if len(explained) > 1 else "")
    axes.set_title("customers by segment (★ centroid, × spend outlier, assigned after fitting)", fontsize=10)
    axes.legend(fontsize=8, loc="best", markerscale=2)
    return figure


def centroid_figure(model: SegmentModel) -> Figure:
    """Centroids as a heat map of z-scores (segments × clustered features)."""
    figure = Figure(figsize=(max(6.0, 0.55 * len(model.feature_names) + 3), 0.5 * model.k + 2.2))
    axes = figure.subplots()
    limit = max(1.0, float(np.abs(model.centers).max()))
    image = axes.imshow(model.centers, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    axes.set_xticks(range(len(model.feature_names)))
    axes.set_xticklabels([n.replace(SHARE_PREFIX, "") for n in model.feature_names], rotation=45, ha="right")
    axes.set_yticks(range(model.k))
    axes.set_yticklabels([f"{s}: {getattr(model.segment(s), 'name', s)}" for s in range(model.k)], fontsize=8)
    for (row, col), value in np.ndenumerate(model.centers):
        axes.text(col, row, f"{value:+.1f}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, ax=axes, label="centroid (SD from the mean)")
    return figure


def profiles(model: SegmentModel) -> list[dict[str, Any]]:
    """Per segment: size, share of customers, outliers, and mean raw features of its members."""
    total = len(model.customer_ids)
    labels = model.labels[np.searchsorted(model.customer_ids, model.features.customers)]
    rows = []
    for segment in model.segments:
        row: dict[str, Any] = {"id": segment.id, "name": segment.name, "description": segment.description,
                               "size": segment.size, "share": segment.size / total if total else 0.0}
        mine = labels == segment.id
        row["outliers"] = int((mine & model.features.outliers).sum())
        for name, _, _ in PROFILE_COLUMNS:
            if name in model.features.names and mine.any():
                row[name] = float(model.features.column(name)[mine].mean())
        row["top"] = model.top_terms.get(segment.id, [])
        rows.append(row)
    return rows


def _profile_table(model: SegmentModel) -> str:
    columns = [(n, label, fmt) for n, label, fmt in PROFILE_COLUMNS if n in model.features.names]
    colors = _colors(model.k)
    money = f" ({model.currency})" if model.currency else ""
    head = "".join(f"<th>{html.escape(label + (money if n in ('monetary', 'avg_order_value') else ''))}</th>"
                   for n, label, _ in columns)
    top_label = "top categories (mean share)" if any(n.startswith(SHARE_PREFIX) for n in model.features.names) \
        else "over-represented keywords (share of lines)"
    lines = [f"<table><tr><th>id</th><th>segment</th><th>size</th><th>share</th><th>outliers</th>{head}"
             f"<th>{top_label}</th></tr>"]
    for row in profiles(model):
        swatch = ""
        if row["id"] >= 0:
            r, g, b, _ = colors[row["id"]]
            swatch = f'<span class="swatch" style="background:rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})"></span>'
        cells = "".join(f"<td>{fmt.format(row[n])}</td>" if n in row else "<td>–</td>" for n, _, fmt in columns)
        top = ", ".join(f"{html.escape(model.category_labels.get(t, t))} {v:.0%}" for t, v in row["top"])
        lines.append(
            f"<tr><td>{row['id']}</td><td class='text'>{swatch}<b>{html.escape(row['name'])}</b><br>"
            f"<small>{html.escape(row['description'])}</small></td><td>{row['size']}</td><td>{row['share']:.1%}</td>"
            f"<td>{row['outliers']}</td>{cells}<td class='text'>{top}</td></tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)


def render(model: SegmentModel, title: str = "Shopper segments") -> str:
    """The report as one HTML page (images embedded, no external files)."""
    buyers, fitted = len(model.features), int((~model.features.outliers).sum())
    idle = int((model.labels == NO_PURCHASE).sum())
    ks = sorted(model.silhouettes)
    silhouettes = ", ".join(f"k={k}: {model.silhouettes[k]:.3f}" for k in ks)
    features = ", ".join(html.escape(n) for n in model.feature_names)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">{len(model.customer_ids)} customers, snapshot {html.escape(str(model.features.as_of))};
{buyers} with kept purchases ({fitted} fitted, {buyers - fitted} spend outliers assigned afterwards), {idle} without.
K-means (n_init=10, seed {model.seed}) on {len(model.feature_names)} scaled features: {features}.</p>
<p><b>k = {model.k}</b> (highest silhouette over k = {ks[0]}..{ks[-1]}), silhouette {model.silhouette:.3f},
objective J = Σ‖x − μ‖² = {model.inertia:,.1f} over the fitted customers.</p>
<h2>Segments</h2>
{_profile_table(model)}
<p class="meta">Means over every member (outliers included). Names come from the centroids: value rules on the
scaled recency, frequency, spend, basket and relative price (±0.5 SD), then the over-bought categories.</p>
<h2>Choosing k</h2>
<figure>{_png(silhouette_figure(model))}<figcaption>{silhouettes}</figcaption></figure>
<h2>Customers on two principal components</h2>
<figure>{_png(pca_figure(model))}</figure>
<h2>Centroids</h2>
<figure>{_png(centroid_figure(model))}<figcaption>Each centroid in standard deviations from the mean of the fitted
customers (log1p for frequency, spend and basket value).</figcaption></figure>
</body></html>
"""


def report(model: SegmentModel, path: PathLike, title: str = "Shopper segments") -> Path:
    """Write the HTML report to ``path`` (folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(model, title), encoding="utf-8")
    return path

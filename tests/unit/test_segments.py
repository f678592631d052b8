"""Unit tests of knowledge.segments and ``shopbot segments``: features, cleaning, k, names, storage, report."""

from __future__ import annotations

import argparse
import html
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import silhouette_score
from sqlalchemy import select

from bot.cli_segments import register
from knowledge.settings import get_settings
from knowledge.demo_store import CATEGORIES, generate_products
from knowledge.segments import (
    NO_PURCHASE,
    Purchases,
    SegmentModel,
    build_segments,
    clean,
    collect_online_retail,
    collect_shop,
    engineer_features,
    evaluate_online_retail,
    report,
    segment_members,
    segment_of,
    spend_outliers,
    store_segments,
)
from knowledge.segments.features import (
    BASE_FEATURES,
    BROWSING_FEATURES,
    EXCLUDED_STATUSES,
    LOG_FEATURES,
    RATIO_FEATURES,
    share_name,
)
from knowledge.segments.model import log_transform
from knowledge.segments.naming import name_segments, persona, tier
from knowledge.shopdb import connect
from knowledge.shopdb.generate import generate_shop
from knowledge.shopdb.models import Customer

SEED = 7
TODAY = date(2026, 11, 29)


@pytest.fixture(scope="module")
def products():  # noqa: ANN201 - list[Product]
    return generate_products()


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory: pytest.TempPathFactory, products) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('segments') / 'shop.db'}"
    generate_shop(url, products, today=TODAY, customers=200, orders=1500)
    return url


@pytest.fixture(scope="module")
def db(shop_url: str):  # noqa: ANN201 - ShopDB
    shop = connect(shop_url)
    yield shop
    shop.dispose()


@pytest.fixture(scope="module")
def purchases(db, products) -> Purchases:
    return collect_shop(db, products, currency="USD")


@pytest.fixture(scope="module")
def model(db, products) -> SegmentModel:
    return build_segments(db, products, seed=SEED, currency="USD")


def _customer_ids(db) -> list[str]:
    with db.session() as session:
        return sorted(session.execute(select(Customer.id)).scalars())


# --- collect, clean, features ---------------------------------------------------------------------


def test_features_have_the_right_columns_and_no_nan(purchases: Purchases) -> None:
    features = engineer_features(clean(purchases))
    slugs = sorted({c.slug for c in CATEGORIES})
    assert features.names == [*BASE_FEATURES, *(share_name(s) for s in slugs), *BROWSING_FEATURES]
    assert features.values.shape == (len(features.customers), len(features.names))
    assert not np.isnan(features.values).any() and np.isfinite(features.values).all()
    assert list(features.customers) == sorted(set(clean(purchases).customers.tolist()))
    shares = features.values[:, [features.names.index(share_name(s)) for s in slugs]]
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert (features.column("frequency") >= 1).all() and (features.column("monetary") > 0).all()
    assert np.allclose(features.column("avg_order_value") * features.column("frequency"), features.column("monetary"))
    assert (features.column("recency_days") <= features.column("tenure_days") + 1e-9).all()


def test_features_match_a_hand_computed_customer(purchases: Purchases) -> None:
    kept = clean(purchases)
    features = engineer_features(kept)
    customer = features.customers[0]
    mine = kept.customers == customer
    row = features.values[0]
    assert row[features.names.index("frequency")] == len(set(kept.orders[mine].tolist()))
    assert row[features.names.index("monetary")] == pytest.approx((kept.quantities * kept.prices)[mine].sum())
    assert row[features.names.index("relative_price")] == pytest.approx(
        (kept.prices / kept.reference_prices)[mine].mean()
    )
    last = kept.dates[mine].max()
    assert row[features.names.index("recency_days")] == pytest.approx((kept.as_of - last) / np.timedelta64(1, "D"))


def test_cleaning_drops_cancelled_and_returned_orders(purchases: Purchases) -> None:
    statuses = set(purchases.statuses.tolist())
    assert {"cancelled", "returned"} <= statuses
    kept = clean(purchases)
    assert not np.isin(kept.statuses, EXCLUDED_STATUSES).any()
    assert len(kept) == int((~np.isin(purchases.statuses, EXCLUDED_STATUSES)).sum())
    cancelled = set(purchases.orders[purchases.statuses == "cancelled"].tolist())
    assert cancelled and not cancelled & set(kept.orders.tolist())


def test_cleaning_drops_non_positive_amounts(purchases: Purchases) -> None:
    head = purchases.subset(np.arange(6))
    head = replace(head, statuses=np.full(6, "delivered"), quantities=np.array([1.0, 0.0, -2.0, 1.0, 1.0, 2.0]),
                   prices=np.array([10.0, 10.0, 10.0, 0.0, -5.0, 3.0]))
    assert clean(head).quantities.tolist() == [1.0, 2.0]


def test_spend_outliers_flag_the_extreme_tail() -> None:
    spend = np.r_[np.linspace(100, 200, 199), 10_000.0]
    flagged = spend_outliers(spend)
    assert flagged.tolist() == [False] * 199 + [True]
    assert not spend_outliers(np.array([1.0, 1e6])).any()  # too few customers to call anyone an outlier


# --- the model ------------------------------------------------------------------------------------


def test_k_is_the_silhouette_argmax(model: SegmentModel) -> None:
    assert sorted(model.silhouettes) == list(range(2, 9))
    assert model.k == max(model.silhouettes, key=lambda k: model.silhouettes[k])
    fitted = ~model.features.outliers
    labels = model.labels[np.searchsorted(model.customer_ids, model.features.customers)]
    assert len(model.features) < 2000  # no sampling: the score is exact
    assert model.silhouette == pytest.approx(silhouette_score(model.scaled()[fitted], labels[fitted]))


def test_labels_cover_every_customer_outliers_included(model: SegmentModel, db) -> None:
    assert model.customer_ids.tolist() == _customer_ids(db)
    labels = model.labels[np.searchsorted(model.customer_ids, model.features.customers)]
    assert (labels >= 0).all()  # every buyer, outliers included, has a K-means segment
    assert set(model.labels.tolist()) <= {s.id for s in model.segments}
    assert sum(s.size for s in model.segments) == len(model.customer_ids)
    non_buyers = set(model.customer_ids.tolist()) - set(model.features.customers.tolist())
    assert {c for c in model.customer_ids.tolist() if model.label_of(c) == NO_PURCHASE} == non_buyers
    outliers = model.features.outliers
    if outliers.any():
        assert (labels[outliers] == model.assign(model.features.values[outliers][:, model.columns])).all()


def test_outliers_are_kept_out_of_fitting(model: SegmentModel) -> None:
    fitted = log_transform(model.features.values[~model.features.outliers][:, model.columns], model.feature_names)
    assert np.allclose(model.scaler.mean_, fitted.mean(axis=0))
    assert model.kmeans is not None and len(model.kmeans.labels_) == int((~model.features.outliers).sum())


def test_objective_j_is_the_sum_of_squared_distances(model: SegmentModel) -> None:
    x = model.scaled()[~model.features.outliers]
    labels = model.kmeans.labels_
    j = sum(float(((x[labels == i] - x[labels == i].mean(axis=0)) ** 2).sum()) for i in range(model.k))
    assert model.inertia == pytest.approx(float(((x - model.centers[labels]) ** 2).sum()), rel=1e-9)
    assert model.inertia == pytest.approx(j, rel=1e-6)  # the centroids are the means of their members
    assert model.inertia == model.kmeans.inertia_


def test_segments_are_canonical_and_named_deterministically(model: SegmentModel, db, products) -> None:
    again = build_segments(db, products, seed=SEED, currency="USD")
    assert [s.name for s in again.segments] == [s.name for s in model.segments]
    assert [s.description for s in again.segments] == [s.description for s in model.segments]
    assert np.array_equal(again.labels, model.labels)
    sizes = [s.size for s in model.segments if s.id >= 0]
    assert sizes == sorted(sizes, reverse=True)  # segment 0 is the largest
    names = [s.name for s in model.segments]
    assert len(set(names)) == len(names) and all(names)
    # centroids made by hand: the mean of each segment's members in the scaled space, from the labels the
    # model gave the customers (not from its own centres); named by the rules, they give the model's names
    fitted = ~model.features.outliers
    x = model.scaled()[fitted]
    labels = model.labels[np.searchsorted(model.customer_ids, model.features.customers)][fitted]
    centroids = np.array([x[labels == i].mean(axis=0) for i in range(model.k)])
    typical = model.scaler.inverse_transform(centroids)
    for j, name in enumerate(model.feature_names):  # log1p on counts and money, log on price ratios, undone
        typical[:, j] = np.expm1(typical[:, j]) if name in LOG_FEATURES else (
            np.exp(typical[:, j]) if name in RATIO_FEATURES else typical[:, j])
    zs = [dict(zip(model.feature_names, row)) for row in centroids.tolist()]
    typicals = [dict(zip(model.feature_names, row)) for row in typical.tolist()]
    assert name_segments(zs, typicals, model.category_labels) == names[: model.k]
    assert [s.size for s in model.segments if s.id >= 0] == [int((model.labels == i).sum()) for i in range(model.k)]


def test_naming_rules_read_the_centroid() -> None:
    assert tier({"recency_days": 1.2, "frequency": -0.8}, {"frequency": 1.0}) == "Lapsed one-timers"
    assert tier({"frequency": 0.9, "monetary": 1.1}, {"frequency": 12.0}) == "Loyal big spenders"
    assert tier({"relative_price": -0.7}, {}) == "Bargain hunters"
    assert tier({}, {}) == "Steady shoppers"
    assert persona({"share:running-shoes": 1.5}, {"share:running-shoes": 0.6, "share:jackets": 0.1}, {}) == "Runners"
    assert persona({}, {"share:running-shoes": 0.2, "share:jackets": 0.2}, {}) == "mixed basket"
    assert persona({}, {}, {}) == ""
    assert name_segments([{}, {}], [{}, {}], {}) == ["Steady shoppers #1", "Steady shoppers #2"]


def test_save_and_load_round_trip(model: SegmentModel, tmp_path: Path) -> None:
    loaded = SegmentModel.load(model.save(tmp_path / "segments"))
    assert loaded.segments == model.segments and loaded.k == model.k and loaded.silhouettes == model.silhouettes
    assert np.array_equal(loaded.labels, model.labels) and loaded.inertia == model.inertia
    inliers = ~model.features.outliers
    values = model.features.values[inliers][:, model.columns]
    assert np.array_equal(loaded.assign(values), model.kmeans.labels_)


# --- storage --------------------------------------------------------------------------------------


def test_store_and_segment_of_round_trip(model: SegmentModel, shop_url: str, tmp_path: Path) -> None:
    db = connect(shop_url)
    try:
        assert store_segments(db, model) == len(model.customer_ids)
        assert store_segments(db.engine, model) == len(model.customer_ids)  # replaces, never duplicates
        for customer in ("C0001", "C0002", model.features.customers[-1], model.customer_ids[-1]):
            segment = segment_of(db, customer)
            expected = model.segment(model.label_of(customer))
            assert segment is not None and (segment.id, segment.name, segment.size) == (
                expected.id, expected.name, expected.size)
        assert segment_of(db, "nobody") is None
        for segment in model.segments:
            assert segment_members(db, segment.id) == model.members(segment.id)
    finally:
        db.dispose()
    fresh = connect(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert segment_of(fresh, "C0001") is None and segment_members(fresh, 0) == []
    finally:
        fresh.dispose()


# --- report ---------------------------------------------------------------------------------------


def test_report_is_self_contained_html(model: SegmentModel, tmp_path: Path) -> None:
    path = report(model, tmp_path / "out" / "segments.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count('<img src="data:image/png;base64,') == 3
    for segment in model.segments:
        assert html.escape(segment.name) in text
    assert 'src="http' not in text and "<link" not in text and "<script" not in text  # nothing fetched


# --- online retail --------------------------------------------------------------------------------


def test_online_retail_adapter_on_a_few_invoices() -> None:
    from knowledge.recommend.evaluation import RetailData

    dates = np.array(["2011-01-01T10:00", "2011-01-01T10:00", "2011-01-20T09:00", "2011-01-05T12:00"],
                     dtype="datetime64[s]")
    data = RetailData(
        invoices=np.array(["1", "1", "2", "3"]), customers=np.array(["a", "a", "a", "b"]),
        items=np.array(["X", "Y", "X", "X"]), descriptions=np.array(["RED MUG", "BLUE MUG", "RED MUG", "RED MUG"]),
        quantities=np.array([2.0, 1.0, 1.0, 4.0]), prices=np.array([1.0, 3.0, 2.0, 1.5]), dates=dates,
        countries=np.array(["UK"] * 4),
    )
    features = engineer_features(clean(collect_online_retail(data)))
    assert features.names == list(BASE_FEATURES)
    a = features.values[0]
    assert a[features.names.index("frequency")] == 2 and a[features.names.index("monetary")] == pytest.approx(7.0)
    assert a[features.names.index("tenure_days")] == pytest.approx(19 - 1 / 24)
    assert a[features.names.index("relative_price")] == pytest.approx((1 / 1.5 + 1 + 2 / 1.5) / 3)


def test_evaluate_online_retail() -> None:
    path = get_settings().datasets_dir / "online-retail"
    if not path.is_dir():
        pytest.skip(f"no Online Retail data at {path}")
    result = evaluate_online_retail(path)
    assert 2 <= result["k"] <= 8 and -1 <= result["silhouette"] <= 1
    assert result["silhouette"] == max(result["silhouettes"].values())
    assert sum(s["size"] for s in result["segments"]) == result["customers"]


# --- command line ---------------------------------------------------------------------------------


def test_cli_build_and_report(shop_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str], sparql_server) -> None:
    monkeypatch.setenv("DATABASE_URL", shop_url)
    monkeypatch.setenv("SPARQL_QUERY_URL", sparql_server.query_url)  # the catalog comes from the live graph
    monkeypatch.setenv("SPARQL_UPDATE_URL", sparql_server.update_url)
    monkeypatch.setenv("SHOPBOT_VAR_DIR", str(tmp_path / "var"))
    parser = argparse.ArgumentParser(prog="shopbot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["segments", "build", "--seed", str(SEED)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "k = " in printed and "silhouette" in printed and "J = " in printed
    assert (tmp_path / "var" / "models" / "segments.npz").exists()
    out = tmp_path / "report.html"
    args = parser.parse_args(["segments", "report", "--out", str(out)])
    assert args.func(args) == 0
    assert "loading segments" in capsys.readouterr().out and out.exists()
    db = connect(shop_url)
    try:
        assert segment_of(db, "C0001") is not None
    finally:
        db.dispose()

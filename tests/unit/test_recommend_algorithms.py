"""Unit tests of knowledge.recommend: Pearson formulas, predictions, recommend, save/load, cold start, hybrid."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from knowledge.recommend import (
    SVD,
    ContentBased,
    Hybrid,
    IdIndex,
    ImplicitItemCF,
    InteractionArrays,
    ItemKNN,
    NotFittedError,
    Popularity,
    Recommender,
    UserKNN,
    interaction_matrix,
    load_model,
    pearson_similarity,
)

# A tiny ratings matrix: rows users u0..u4, columns items i0..i5, NaN = not rated.
TINY = np.array(
    [
        [5, 3, np.nan, 1, 4, np.nan],
        [4, np.nan, np.nan, 1, 5, 2],
        [1, 1, np.nan, 5, np.nan, 4],
        [np.nan, 1, 5, 4, 2, np.nan],
        [2, 2, 4, np.nan, 1, 5],
    ]
)


def tiny_interactions() -> list[tuple[str, str, float]]:
    """TINY as (user, item, rating) tuples."""
    return [(f"u{u}", f"i{i}", float(TINY[u, i])) for u, i in zip(*np.nonzero(~np.isnan(TINY)))]


def reference_pearson(ratings: np.ndarray) -> np.ndarray:
    """DESIGN.md's Pearson between the rows, written out literally: co-rated columns, means over all of a row."""
    n = ratings.shape[0]
    means = [np.nanmean(row) for row in ratings]
    sims = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            common = [c for c in range(ratings.shape[1]) if not np.isnan(ratings[a, c]) and not np.isnan(ratings[b, c])]
            num = sum((ratings[a, c] - means[a]) * (ratings[b, c] - means[b]) for c in common)
            den = math.sqrt(sum((ratings[a, c] - means[a]) ** 2 for c in common)) * math.sqrt(
                sum((ratings[b, c] - means[b]) ** 2 for c in common)
            )
            sims[a, b] = num / den if den > 0 else 0.0
    return sims


def reference_user_prediction(ratings: np.ndarray, sims: np.ndarray, u: int, i: int, k: int) -> float:
    """r̄_u + Σ sim·(r_vi − r̄_v)/Σ|sim| over the k most similar users who rated i (positive similarities)."""
    means = [np.nanmean(row) for row in ratings]
    raters = [v for v in range(ratings.shape[0]) if v != u and not np.isnan(ratings[v, i])]
    neighbours = sorted(raters, key=lambda v: -sims[u, v])[:k]
    weights = [(max(sims[u, v], 0.0), ratings[v, i] - means[v]) for v in neighbours]
    den = sum(abs(w) for w, _ in weights)
    return means[u] + (sum(w * d for w, d in weights) / den if den > 0 else 0.0)


def synthetic_ratings(n_users: int = 60, n_items: int = 40, density: float = 0.3, seed: int = 0) -> InteractionArrays:
    """Low-rank ratings 1..5 on a random subset of user × item pairs."""
    rng = np.random.default_rng(seed)
    users_f, items_f = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    full = np.clip(np.rint(3 + users_f @ items_f.T * 0.8 + rng.normal(0, 0.3, (n_users, n_items))), 1, 5)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(mask)
    return InteractionArrays(np.char.add("u", u.astype(str)), np.char.add("i", i.astype(str)), full[u, i])


def purchases(seed: int = 1) -> InteractionArrays:
    """Implicit data with two taste groups: users 0..19 buy items a*, users 20..39 buy items b*."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(40):
        group = "a" if user < 20 else "b"
        for item in rng.choice(10, size=4, replace=False):
            rows.append((f"c{user}", f"{group}{item}", float(rng.integers(1, 4))))
    rows += [("c0", "b0", 1.0), ("c39", "a0", 1.0)]
    return InteractionArrays.from_tuples(rows)


FEATURES = {
    **{f"a{n}": {"category": "kitchen", "colour": "red", "price": 5.0 + n, "description": "red enamel mug"} for n in range(10)},
    **{f"b{n}": {"category": "garden", "color": "green", "price": 50.0 + n, "description": "green garden hose"}
       for n in range(10)},
    "a_new": {"category": "kitchen", "colour": "red", "price": 7.0, "description": "red enamel teapot"},
}


# --- indexing and base ----------------------------------------------------------------------------


def test_id_index_round_trip_and_unknown_ids() -> None:
    index = IdIndex(["b", "a", "c", "a"])
    assert index.ids.tolist() == ["a", "b", "c"]
    assert index.encode(["c", "zz", "a"]).tolist() == [2, -1, 0]
    assert index.get("b") == 1 and index.get("nope") == -1 and "a" in index
    assert index.decode([2, 0]) == ["c", "a"]
    assert IdIndex().encode(["a"]).tolist() == [-1]


def test_interaction_matrix_aggregates_duplicates() -> None:
    rows, cols, vals = np.array([0, 0, 1]), np.array([1, 1, 0]), np.array([2.0, 4.0, 5.0])
    assert interaction_matrix(rows, cols, vals, (2, 2), "sum").toarray().tolist() == [[0, 6], [5, 0]]
    assert interaction_matrix(rows, cols, vals, (2, 2), "mean").toarray().tolist() == [[0, 3], [5, 0]]
    assert interaction_matrix(rows, cols, vals, (2, 2), "max").toarray().tolist() == [[0, 4], [5, 0]]


def test_tuples_and_arrays_fit_the_same_model() -> None:
    from_tuples = ItemKNN(k=3).fit(tiny_interactions())
    from_arrays = ItemKNN(k=3).fit(InteractionArrays.from_tuples(tiny_interactions()))
    np.testing.assert_allclose(from_tuples.similarities_, from_arrays.similarities_)


def test_unfitted_model_raises() -> None:
    with pytest.raises(NotFittedError):
        SVD().predict("u", "i")


# --- Pearson exactly as DESIGN.md ----------------------------------------------------------------


def test_user_pearson_matches_the_design_formula() -> None:
    from scipy.sparse import csr_matrix

    ref = reference_pearson(TINY)
    sims, common = pearson_similarity(csr_matrix(np.nan_to_num(TINY)))  # no zero ratings in TINY
    np.testing.assert_allclose(sims, ref, atol=1e-12)
    assert common[0, 1] == 3  # u0 and u1 both rated i0, i3, i4
    model = UserKNN(k=2).fit(tiny_interactions())
    expected = ref.copy()
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.similarities_, expected, atol=1e-12)


def test_item_pearson_matches_the_design_formula() -> None:
    model = ItemKNN(k=2).fit(tiny_interactions())
    expected = reference_pearson(TINY.T)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.similarities_, expected, atol=1e-12)


def test_shrinkage_and_min_support() -> None:
    ref = reference_pearson(TINY)
    counts = (~np.isnan(TINY)).astype(float) @ (~np.isnan(TINY)).astype(float).T
    model = UserKNN(shrinkage=2.0, min_support=3).fit(tiny_interactions())
    expected = np.where(counts >= 3, ref * counts / (counts + 2.0), 0.0)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.similarities_, expected, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_user_knn_prediction_matches_the_formula(k: int) -> None:
    model = UserKNN(k=k).fit(tiny_interactions())
    sims = model.similarities_
    for u, i in [(0, 2), (1, 1), (2, 4), (3, 0), (4, 3)]:
        expected = float(np.clip(reference_user_prediction(TINY, sims, u, i, k), 1, 5))
        assert model.predict(f"u{u}", f"i{i}").estimate == pytest.approx(expected, abs=1e-12)
        # the all-items scoring path agrees with the pair path
        assert model.scores(f"u{u}")[i] == pytest.approx(expected, abs=1e-12)


def test_item_knn_prediction_matches_the_formula() -> None:
    model = ItemKNN(k=2).fit(tiny_interactions())
    sims, means = model.similarities_, np.nanmean(TINY, axis=0)
    u, i = 0, 2
    rated = [j for j in range(TINY.shape[1]) if not np.isnan(TINY[u, j])]
    neighbours = sorted(rated, key=lambda j: -sims[i, j])[:2]
    num = sum(max(sims[i, j], 0) * (TINY[u, j] - means[j]) for j in neighbours)
    den = sum(max(sims[i, j], 0) for j in neighbours)
    expected = np.clip(means[i] + (num / den if den else 0.0), 1, 5)
    assert model.predict("u0", "i2").estimate == pytest.approx(expected, abs=1e-12)
    assert model.scores("u0")[i] == pytest.approx(expected, abs=1e-12)


# --- every model ----------------------------------------------------------------------------------


EXPLICIT_MODELS = [
    lambda: UserKNN(k=10),
    lambda: UserKNN(k=10, positive_only=False, shrinkage=5),
    lambda: ItemKNN(k=10),
    lambda: SVD(n_factors=8, n_epochs=10, batch_size=64),
    lambda: Popularity(),
    lambda: Hybrid([("svd", SVD(n_factors=4, n_epochs=5), 0.5), ("knn", ItemKNN(k=5), 0.5)]),
]


@pytest.fixture(scope="module")
def ratings() -> InteractionArrays:
    """Synthetic explicit ratings."""
    return synthetic_ratings()


@pytest.mark.parametrize("make", EXPLICIT_MODELS)
def test_predictions_stay_in_the_rating_range(make, ratings: InteractionArrays) -> None:
    model = make().fit(ratings)
    users = np.repeat(np.unique(ratings.users), 40)
    items = np.tile(np.char.add("i", np.arange(40).astype(str)), len(np.unique(ratings.users)))
    predicted = model.predict_many(users, items)
    assert np.isfinite(predicted).all()
    assert predicted.min() >= 1.0 - 1e-9 and predicted.max() <= 5.0 + 1e-9


@pytest.mark.parametrize("make", EXPLICIT_MODELS)
def test_recommend_excludes_seen_items(make, ratings: InteractionArrays) -> None:
    model = make().fit(ratings)
    seen = set(ratings.items[ratings.users == "u3"].tolist())
    recs = model.recommend("u3", n=10)
    assert len(recs) == 10 and not seen & {item for item, _ in recs}
    scores = [score for _, score in recs]
    assert scores == sorted(scores, reverse=True)
    everything = model.recommend("u3", n=40, exclude_seen=False)
    assert len(everything) == 40 and seen <= {item for item, _ in everything}


def test_svd_learns_better_than_the_mean(ratings: InteractionArrays) -> None:
    model = SVD(n_factors=8, n_epochs=40, lr=0.02, reg=0.02, batch_size=128).fit(ratings)
    fitted = model.predict_many(ratings.users, ratings.items)
    baseline = np.sqrt(np.mean((ratings.values - ratings.values.mean()) ** 2))
    assert np.sqrt(np.mean((fitted - ratings.values) ** 2)) < 0.7 * baseline


@pytest.mark.parametrize("make", EXPLICIT_MODELS)
def test_cold_start_fallbacks(make, ratings: InteractionArrays) -> None:
    model = make().fit(ratings)
    # expected values from the arrays themselves, not from the fitted model's statistics
    assert model.predict("nobody", "i0").estimate == pytest.approx(ratings.values[ratings.items == "i0"].mean())
    assert model.predict("u0", "no-such-item").estimate == pytest.approx(ratings.values[ratings.users == "u0"].mean())
    assert model.predict("nobody", "no-such-item").estimate == pytest.approx(ratings.values.mean())
    recs = model.recommend("nobody", n=5)
    items, counts = np.unique(ratings.items, return_counts=True)
    raters = dict(zip(items.tolist(), counts.tolist()))
    assert [raters[item] for item, _ in recs] == sorted(counts.tolist(), reverse=True)[:5]  # the most rated


def _round_trip(model: Recommender, tmp_path: Path) -> Recommender:
    path = model.save(tmp_path / "model")
    assert path.suffix == ".npz"
    loaded = load_model(path)
    assert type(loaded) is type(model)
    return loaded


@pytest.mark.parametrize("make", EXPLICIT_MODELS)
def test_save_load_round_trip_explicit(make, ratings: InteractionArrays, tmp_path: Path) -> None:
    model = make().fit(ratings)
    loaded = _round_trip(model, tmp_path)
    users = np.append(ratings.users[:200], "nobody")
    items = np.append(ratings.items[::-1][:200], "i0")
    np.testing.assert_array_equal(loaded.predict_many(users, items), model.predict_many(users, items))
    assert loaded.recommend("u5", 10) == model.recommend("u5", 10)
    assert repr(loaded.get_params()) == repr(model.get_params())  # components are equal models, not the same objects


def test_load_checks_the_class(ratings: InteractionArrays, tmp_path: Path) -> None:
    path = Popularity().fit(ratings).save(tmp_path / "pop.npz")
    assert isinstance(Popularity.load(path), Popularity)
    with pytest.raises(TypeError):
        SVD.load(path)


def test_similar_items() -> None:
    data = purchases()
    for model in (ImplicitItemCF(k=5), ContentBased().fit(data, item_features=FEATURES)):
        if not model.is_fitted:
            model.fit(data)
        similar = model.similar_items("a1", n=3)
        assert len(similar) == 3 and "a1" not in {item for item, _ in similar}
        assert all(item.startswith("a") for item, _ in similar)
    knn = ItemKNN(k=3).fit(tiny_interactions())
    best = knn.similar_items("i0", n=2)
    sims = knn.similarities_[0]
    assert best[0] == (f"i{int(np.argmax(sims))}", pytest.approx(sims.max()))
    assert ItemKNN().fit(tiny_interactions()).similar_items("unknown") == []
    with pytest.raises(NotImplementedError):
        Popularity().fit(tiny_interactions()).similar_items("i0")


# --- implicit, content, hybrid --------------------------------------------------------------------


@pytest.mark.parametrize("weighting", ["none", "bm25", "tfidf"])
def test_implicit_item_cf_recommends_the_users_taste(weighting: str) -> None:
    model = ImplicitItemCF(k=5, weighting=weighting).fit(purchases())
    recs = [item for item, _ in model.recommend("c3", n=3)]
    assert recs and all(item.startswith("a") for item in recs)
    assert model.predict("c3", recs[0]).estimate == pytest.approx(model.recommend("c3", 1)[0][1])


def test_implicit_item_cf_cosine_reference() -> None:
    data = purchases()
    model = ImplicitItemCF(k=100, weighting="none").fit(data)
    dense = (model.matrix_.toarray() > 0).astype(float)
    norms = np.linalg.norm(dense, axis=0)
    cos = dense.T @ dense / np.outer(norms, norms)
    np.fill_diagonal(cos, 0.0)
    np.testing.assert_allclose(model.similarities_.toarray(), cos, atol=1e-12)


def test_content_based_uses_attributes_and_reaches_new_items() -> None:
    data = purchases()
    model = ContentBased().fit(data, item_features=FEATURES)
    assert "a_new" in model.item_index_
    recs = [item for item, _ in model.recommend("c2", n=7)]
    assert "a_new" in recs and all(item.startswith("a") for item in recs)
    assert model.predict("c2", "a_new").estimate > model.predict("c2", "b3").estimate
    with pytest.raises(ValueError):
        ContentBased().fit(data)


def test_hybrid_with_item_features() -> None:
    data = purchases()
    model = Hybrid().fit(data, item_features=FEATURES)
    assert [name for name, _, _ in model.components_] == ["ease", "itemcf", "content", "trending"]
    assert model.components is None  # fitting leaves the parameters alone (scikit-learn convention)
    recs = [item for item, _ in model.recommend("c4", n=5)]
    assert len(recs) == 5 and all(item.startswith("a") for item in recs)
    assert not set(recs) & set(data.items[data.users == "c4"].tolist())


def test_hybrid_without_item_features_falls_back_to_cf() -> None:
    data = purchases()
    model = Hybrid().fit(data)
    assert "content" not in [name for name, _, _ in model.components_]
    recs = [item for item, _ in model.recommend("c25", n=5)]
    assert len(recs) == 5 and all(item.startswith("b") for item in recs)


def test_hybrid_segment_fallback_for_cold_start_users(tmp_path: Path) -> None:
    data = purchases()
    segments = {f"c{n}": ("kitchen" if n < 20 else "garden") for n in range(40)}
    segments["newbie"] = "garden"
    model = Hybrid().fit(data, item_features=FEATURES, user_segments=segments)
    assert model.is_cold("newbie") and model.segment_of("newbie") == "garden"
    garden = [item for item, _ in model.recommend("newbie", n=5)]
    assert all(item.startswith("b") for item in garden)
    kitchen = [item for item, _ in model.recommend("stranger", n=5, segment="kitchen")]
    assert all(item.startswith("a") for item in kitchen)
    unknown = [item for item, _ in model.recommend("stranger", n=3)]
    buyers = {item: len(set(data.users[data.items == item].tolist())) for item in set(data.items.tolist())}
    assert [buyers[item] for item in unknown] == sorted(buyers.values(), reverse=True)[:3]  # the most bought
    loaded = _round_trip(model, tmp_path)
    assert loaded.recommend("newbie", 5) == model.recommend("newbie", 5)
    assert loaded.recommend("c7", 5) == model.recommend("c7", 5)
    assert loaded.similar_items("a1", 3) == model.similar_items("a1", 3)


def test_hybrid_min_interactions_and_prefitted_components() -> None:
    data = purchases()
    cf = ImplicitItemCF(k=5).fit(data)
    model = Hybrid([("cf", cf, 1.0)], fit_components=False, min_interactions=100).fit(data)
    assert model.is_cold("c1")  # four purchases < 100: popularity
    assert model.recommend("c1", 3, exclude_seen=False) == Popularity().fit(data).recommend("c1", 3, exclude_seen=False)
    with pytest.raises(ValueError):
        Hybrid([("cf", ImplicitItemCF(), 1.0)], fit_components=False).fit(data)


@pytest.mark.parametrize(
    "make",
    [lambda: ImplicitItemCF(k=5), lambda: ContentBased(weighting="binary"), lambda: Popularity()],
)
def test_save_load_round_trip_implicit(make, tmp_path: Path) -> None:
    data = purchases()
    model = make()
    model.fit(data, item_features=FEATURES) if isinstance(model, ContentBased) else model.fit(data)
    loaded = _round_trip(model, tmp_path)
    for user in ("c0", "c21", "nobody"):
        assert loaded.recommend(user, 5) == model.recommend(user, 5)
    np.testing.assert_array_equal(
        loaded.predict_many(data.users, data.items), model.predict_many(data.users, data.items)
    )


@pytest.mark.parametrize("size", [6, 1000])
def test_svd_scatter_add_matches_numpy(size: int) -> None:
    from knowledge.recommend.mf import _ScatterAdd

    rng = np.random.default_rng(size)
    scatter = _ScatterAdd(size)
    for _ in range(3):  # the cached matrix is reused with new indices
        index, values = rng.integers(0, size, 20), rng.normal(size=(20, 4))
        expected = np.zeros((size, 4))
        np.add.at(expected, index, values)
        got = np.zeros((size, 4))
        rows, sums = scatter(index, values)
        got[rows] += sums
        np.testing.assert_allclose(got, expected)

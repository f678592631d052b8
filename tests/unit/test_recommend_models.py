"""Unit tests of the recommenders added for implicit feedback (user CF, Pearson over purchase vectors, EASE,
trending popularity, ALS through ``implicit``) and of the scikit-learn conventions every recommender follows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.recommend import (
    EASE,
    Hybrid,
    ImplicitALS,
    ImplicitItemCF,
    ImplicitUserCF,
    InteractionArrays,
    MissingDependency,
    Popularity,
    TrendingPopularity,
    als_available,
    clone,
    load_model,
)
from knowledge.recommend.base import read_header
from knowledge.recommend.hybrid import blend, segment_factor
from tests.unit.test_recommend_algorithms import FEATURES, purchases


def binary(model) -> np.ndarray:
    return (model.matrix_.toarray() > 0).astype(float)


def test_user_cf_cosine_matches_the_formula() -> None:
    model = ImplicitUserCF(k=100).fit(purchases())
    x = binary(model)
    norms = np.linalg.norm(x, axis=1)
    expected = x @ x.T / np.outer(norms, norms)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.similarities_.toarray(), expected, atol=1e-12)
    u = model.user_index_.get("c3")
    np.testing.assert_allclose(model.scores("c3"), expected[u] @ x, atol=1e-12)
    recs = [item for item, _ in model.recommend("c3", 3)]
    assert recs and all(item.startswith("a") for item in recs)  # c3 is in the "a" taste group


@pytest.mark.parametrize("make", [lambda: ImplicitUserCF(k=100, similarity="pearson"),
                                  lambda: ImplicitItemCF(k=100, weighting="none", similarity="pearson")])
def test_pearson_over_whole_purchase_vectors(make) -> None:
    model = make().fit(purchases())
    x = binary(model)
    rows = x if isinstance(model, ImplicitUserCF) else x.T
    expected = np.corrcoef(rows)
    np.fill_diagonal(expected, 0.0)
    expected[expected < 0] = 0.0  # only positive neighbours are kept
    np.testing.assert_allclose(model.similarities_.toarray(), expected, atol=1e-9)


def test_ease_is_the_closed_form_solution() -> None:
    model = EASE(l2=5.0).fit(purchases())
    x = binary(model)
    gram = x.T @ x + 5.0 * np.eye(x.shape[1])
    inverse = np.linalg.inv(gram)
    expected = -inverse / np.diag(inverse)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights_, expected, atol=1e-10)
    u = model.user_index_.get("c25")
    np.testing.assert_allclose(model.scores("c25"), x[u] @ expected, atol=1e-10)
    assert all(item.startswith("b") for item, _ in model.recommend("c25", 3))


def test_ease_models_only_the_most_popular_items_when_asked() -> None:
    model = EASE(l2=5.0, max_items=5).fit(purchases())
    assert len(model.modelled_items_) == 5
    scores = model.scores("c1")
    assert np.isfinite(scores).sum() == 5
    popular = np.argsort(-model.item_popularity_, kind="stable")[:5]
    assert set(model.modelled_items_) == set(popular)


def test_trending_popularity_weights_recent_interactions() -> None:
    day = 86400.0
    data = InteractionArrays(np.array(["u1", "u2", "u3", "u1"]), np.array(["old", "old", "new", "new"]),
                             np.ones(4), np.array([0.0, 0.0, 60 * day, 60 * day]))
    model = TrendingPopularity(half_life_days=14.0).fit(data)
    old, new = (model.scores("anyone")[model.item_index_.get(i)] for i in ("old", "new"))
    assert new == pytest.approx(2.0) and old == pytest.approx(2 * 0.5 ** (60 / 14))
    assert model.recommend("nobody", 1)[0][0] == "new"
    untimed = TrendingPopularity().fit(InteractionArrays(data.users, data.items, data.values))
    assert untimed.recommend("nobody", 2) == Popularity().fit(data).recommend("nobody", 2)


def test_interactions_from_tuples_keep_times() -> None:
    data = InteractionArrays.from_tuples([("u", "i", 1.0, np.datetime64("2011-01-01T00:00:00")), ("v", "i", 2.0, 10)])
    assert data.timestamps.tolist() == [1293840000.0, 10.0]
    assert InteractionArrays.from_tuples([("u", "i", 1.0)]).timestamps is None


def test_als_runs_through_implicit_or_says_how_to_install_it(tmp_path: Path) -> None:
    model = ImplicitALS(factors=8, iterations=5)
    if not als_available():
        with pytest.raises(MissingDependency, match="pip install"):
            model.fit(purchases())
        return
    model.fit(purchases())
    assert model.user_factors_.shape[1] == 8
    recs = model.recommend("c3", 3)
    assert len(recs) == 3 and not {item for item, _ in recs} & set(purchases().items[purchases().users == "c3"].tolist())
    loaded = load_model(model.save(tmp_path / "als"))
    assert loaded.recommend("c3", 3) == recs


# --- scikit-learn conventions ------------------------------------------------------------------------


@pytest.mark.parametrize("model", [ImplicitUserCF(k=7), EASE(l2=3.0), TrendingPopularity(half_life_days=3.0),
                                   ImplicitItemCF(k=9, similarity="pearson"), Hybrid(segment_weight=0.5)])
def test_parameters_fitted_attributes_and_clone(model) -> None:
    params = model.get_params()
    fitted = model.fit(purchases(), item_features=FEATURES) if isinstance(model, Hybrid) else model.fit(purchases())
    assert fitted is model and model.get_params() == params  # fit never changes a parameter
    assert not any(name.endswith("_") for name in vars(clone(model)))  # learned state only after fit
    assert all(hasattr(model, name) for name in ("matrix_", "user_index_", "item_index_"))
    copy = clone(model)
    assert not copy.is_fitted and repr(copy.get_params()) == repr(params)
    name, value = next(iter(params.items()))
    assert copy.set_params(**{name: value}) is copy


def test_set_params_rejects_unknown_names() -> None:
    with pytest.raises(ValueError):
        EASE().set_params(lambda_=3)


def test_saving_is_atomic_and_versioned(tmp_path: Path) -> None:
    path = EASE(l2=5.0).fit(purchases()).save(tmp_path / "ease.npz")
    assert read_header(path)["format"] == 2 and read_header(path)["class"] == "EASE"
    assert [p.name for p in tmp_path.iterdir()] == ["ease.npz"]  # no temporary file left behind


def test_the_segment_share_of_the_blend_fades_with_history() -> None:
    assert segment_factor(1.0, 3.0, 0) == pytest.approx(1.0)
    assert segment_factor(1.0, 3.0, 9) == pytest.approx(0.25)
    parts = {"a": np.array([1.0, 0.0]), "segment": np.array([0.0, 1.0])}
    np.testing.assert_allclose(blend(parts, {"a": 2.0}, 0.5), [2.0, 0.5])
    np.testing.assert_allclose(blend(parts, {"a": 1.0}), [1.0, 0.0])


def test_segments_move_a_light_users_picks_towards_their_segment() -> None:
    data = purchases()
    light = InteractionArrays.from_tuples(list(data) + [("newbie", "a0", 1.0)])
    segments = {f"c{n}": ("kitchen" if n < 20 else "garden") for n in range(40)} | {"newbie": "garden"}
    without = Hybrid(segment_weight=0.0).fit(light, item_features=FEATURES, user_segments=segments)
    strong = Hybrid(segment_weight=10.0).fit(light, item_features=FEATURES, user_segments=segments)
    assert all(item.startswith("a") for item, _ in without.recommend("newbie", 3))
    assert all(item.startswith("b") for item, _ in strong.recommend("newbie", 3))

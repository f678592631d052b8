"""Every recommender follows scikit-learn's estimator conventions and Surprise's impossible predictions.

Parameters are only stored by ``__init__`` (no checks there), ``get_params``/``set_params``/``clone``
work, ``fit`` returns ``self`` and leaves every parameter as it was (a hybrid fits clones of its
components), a model used before ``fit`` raises ``sklearn.exceptions.NotFittedError``, and ``predict``
says when it could only give a baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks
from sklearn.utils.validation import check_is_fitted

from knowledge.recommend import (
    EASE,
    SVD,
    ContentBased,
    Hybrid,
    ImplicitALS,
    ImplicitItemCF,
    ImplicitUserCF,
    ItemKNN,
    Popularity,
    Prediction,
    Recommender,
    TrendingPopularity,
    UserKNN,
    fit_params,
    load_model,
)
from knowledge.recommend.base import MODEL_CLASSES
from tests.unit.test_recommend_algorithms import FEATURES, purchases, tiny_interactions

#: Every public recommender, unfitted, with some parameters away from their defaults.
MODELS: dict[str, Callable[[], Recommender]] = {
    "UserKNN": lambda: UserKNN(k=3, shrinkage=2.0),
    "ItemKNN": lambda: ItemKNN(k=2, min_support=2),
    "SVD": lambda: SVD(n_factors=4, n_epochs=3, batch_size=8),
    "Popularity": Popularity,
    "TrendingPopularity": lambda: TrendingPopularity(half_life_days=3.0),
    "ImplicitItemCF": lambda: ImplicitItemCF(k=5, weighting="none"),
    "ImplicitUserCF": lambda: ImplicitUserCF(k=5, similarity="pearson"),
    "EASE": lambda: EASE(l2=3.0),
    "ContentBased": lambda: ContentBased(weighting="binary"),
    "Hybrid": lambda: Hybrid([("ease", EASE(l2=3.0), 1.0), ("content", ContentBased(), 0.5)], segment_weight=0.5),
}
FITTABLE = sorted(MODELS)  # ImplicitALS needs the optional ``implicit`` package; it is checked unfitted below
SEGMENTS = {f"c{n}": ("kitchen" if n < 20 else "garden") for n in range(40)}


def fitted(name: str) -> Recommender:
    """The model ``name`` fitted on the purchases, given the extra data its ``fit`` takes."""
    model = MODELS[name]()
    return model.fit(purchases(), **fit_params(model, item_features=FEATURES, user_segments=SEGMENTS))


def test_every_public_recommender_is_covered() -> None:
    public = {name for name in MODEL_CLASSES if not name.startswith("_")}
    assert public == set(MODELS) | {"ImplicitALS"}


# --- parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS) + ["ImplicitALS"])
@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
    ],
    ids=lambda check: check.__name__,
)
def test_scikit_learn_parameter_checks(name: str, check: Callable[[str, Any], None]) -> None:
    """The checks of ``sklearn.utils.estimator_checks`` that need no X, y (a recommender fits on interactions)."""
    check(name, MODEL_CLASSES[name]())


def test_init_stores_parameters_unchecked_and_fit_checks_them() -> None:
    model = ContentBased(weighting="nonsense")
    assert model.get_params()["weighting"] == "nonsense"
    with pytest.raises(ValueError, match="weighting"):
        model.fit(purchases(), item_features=FEATURES)
    with pytest.raises(ValueError, match="weighting"):
        ImplicitItemCF(weighting="nonsense").fit(purchases())


@pytest.mark.parametrize("name", FITTABLE)
def test_clone_gives_an_unfitted_model_with_equal_parameters(name: str) -> None:
    model = fitted(name)
    copy = clone(model)
    assert type(copy) is type(model) and copy is not model
    assert repr(copy.get_params()) == repr(model.get_params())
    assert not copy.is_fitted and not [attr for attr in vars(copy) if attr.endswith("_")]
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    check_is_fitted(model)


@pytest.mark.parametrize("name", FITTABLE)
def test_fit_returns_self_and_leaves_the_parameters_alone(name: str) -> None:
    model = MODELS[name]()
    before = repr(model.get_params(deep=True))
    components = model.get_params().get("components")
    assert fitted_with(model) is model
    assert repr(model.get_params(deep=True)) == before
    if components is not None:  # the hybrid fitted clones: its parameters are the same unfitted objects
        assert model.components is components
        assert not any(component.is_fitted for _, component, _ in components)
        assert all(fitted_model is not given for (_, fitted_model, _), (_, given, _) in
                   zip(model.components_, components))


def fitted_with(model: Recommender) -> Recommender:
    return model.fit(purchases(), **fit_params(model, item_features=FEATURES, user_segments=SEGMENTS))


@pytest.mark.parametrize("name", FITTABLE)
def test_predicting_changes_nothing_in_the_model(name: str) -> None:
    model = fitted(name)
    before = {key: id(value) for key, value in vars(model).items()}
    model.predict("c1", "a1"), model.predict_many(["c1", "c2"], ["a1", "b2"]), model.recommend("c1", 3)
    assert {key: id(value) for key, value in vars(model).items()} == before


def test_set_params_changes_a_parameter_and_refitting_uses_it() -> None:
    data = purchases()
    model = ImplicitItemCF(k=5).fit(data)
    learned = model.similarities_
    assert model.set_params(k=1) is model and model.get_params()["k"] == 1
    assert model.similarities_ is learned  # what was learned stays until the next fit
    model.fit(data)
    assert np.diff(model.similarities_.indptr).max() == 1  # one neighbour per item now
    assert (model.similarities_ != ImplicitItemCF(k=1).fit(data).similarities_).nnz == 0
    svd = SVD(n_factors=4, n_epochs=2).fit(data).set_params(n_factors=2).fit(data)
    assert svd.user_factors_.shape[1] == 2 and svd.item_factors_.shape[1] == 2


def test_set_params_gives_a_hybrid_new_components() -> None:
    model = Hybrid([("ease", EASE(l2=3.0), 1.0)]).fit(purchases())
    model.set_params(components=[("itemcf", ImplicitItemCF(k=3), 1.0), ("pop", Popularity(), 0.5)]).fit(purchases())
    assert [(name, type(m).__name__, w) for name, m, w in model.components_] == [
        ("itemcf", "ImplicitItemCF", 1.0), ("pop", "Popularity", 0.5)]
    assert model.components_[0][1].k == 3


@pytest.mark.parametrize("name", FITTABLE)
def test_use_before_fit_raises_not_fitted(name: str, tmp_path: Path) -> None:
    model = MODELS[name]()
    calls = [
        lambda: model.predict("c1", "a1"),
        lambda: model.predict_many(["c1"], ["a1"]),
        lambda: model.was_impossible(["c1"], ["a1"]),
        lambda: model.recommend("c1", 3),
        lambda: model.scores("c1"),
        lambda: model.save(tmp_path / "model.npz"),
    ]
    for call in calls:
        with pytest.raises(NotFittedError, match="not fitted"):
            call()
    assert not (tmp_path / "model.npz").exists()


def test_a_hybrid_of_unfitted_components_without_fitting_them_is_refused() -> None:
    with pytest.raises(NotFittedError, match="'cf'"):
        Hybrid([("cf", ImplicitItemCF(), 1.0)], fit_components=False).fit(purchases())


def test_loading_builds_the_parameters_through_init(tmp_path: Path) -> None:
    model = fitted("Hybrid")
    loaded = load_model(model.save(tmp_path / "hybrid.npz"))
    assert repr(loaded.get_params()) == repr(model.get_params())
    assert not any(component.is_fitted for _, component, _ in loaded.components)
    assert [name for name, _, _ in loaded.components_] == ["ease", "content"]
    assert loaded.recommend("c3", 5) == model.recommend("c3", 5)


def test_unfitted_als_clones() -> None:
    model = ImplicitALS(factors=8, iterations=2)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.recommend("c1")


# --- capabilities, not classes ---------------------------------------------------------------------


def test_fit_params_follow_what_fit_takes() -> None:
    extra = {"item_features": FEATURES, "user_segments": SEGMENTS}
    assert fit_params(Popularity(), **extra) == {}
    assert fit_params(ContentBased(), **extra) == {"item_features": FEATURES}
    assert fit_params(Hybrid(), **extra) == extra
    assert [cls.__name__ for cls in MODEL_CLASSES.values() if cls.requires_item_features] == ["ContentBased"]


def test_a_hybrid_leaves_out_components_that_need_missing_attributes() -> None:
    model = Hybrid([("ease", EASE(l2=3.0), 1.0), ("content", ContentBased(), 0.5)]).fit(purchases())
    assert [name for name, _, _ in model.components_] == ["ease"]


# --- impossible predictions ------------------------------------------------------------------------


@pytest.mark.parametrize("name", FITTABLE)
def test_unknown_users_and_items_are_impossible_predictions(name: str) -> None:
    model = fitted(name)
    known = model.predict("c1", "a1")
    assert isinstance(known, Prediction) and (known.user, known.item) == ("c1", "a1")
    assert not known.was_impossible and known.reason is None and known.details == {"was_impossible": False}
    cases = {("nobody", "a1"): "unknown user", ("c1", "nothing"): "unknown item",
             ("nobody", "nothing"): "unknown user and item"}
    for (user, item), reason in cases.items():
        prediction = model.predict(user, item)
        assert prediction.was_impossible and prediction.reason == reason
        assert prediction.details == {"was_impossible": True, "reason": reason}
        assert float(prediction) == prediction.estimate == model.predict_many([user], [item])[0]
    users, items = ["c1", "nobody", "c1", "nobody"], ["a1", "a1", "nothing", "nothing"]
    assert model.was_impossible(users, items).tolist() == [False, True, True, True]
    assert model.impossible_reasons(users, items) == ["", "unknown user", "unknown item", "unknown user and item"]


def test_impossible_predictions_fall_back_to_baselines() -> None:
    ratings = tiny_interactions()
    model = SVD(n_factors=2, n_epochs=2).fit(ratings)
    values = np.array([r for _, _, r in ratings])
    of_item = np.array([r for _, i, r in ratings if i == "i0"])
    of_user = np.array([r for u, _, r in ratings if u == "u1"])
    assert model.predict("nobody", "i0").estimate == pytest.approx(of_item.mean())  # the item's mean
    assert model.predict("u1", "nothing").estimate == pytest.approx(of_user.mean())  # the user's mean
    assert model.predict("nobody", "nothing").estimate == pytest.approx(values.mean())  # the global mean

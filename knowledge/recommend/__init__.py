"""Recommenders for the shop (pure Python: numpy, scipy, scikit-learn; no Rasa).

Every model follows one interface (see :class:`~knowledge.recommend.base.Recommender`)::

    model = ItemKNN(k=40).fit([("u1", "i1", 4.0), ...])
    model.predict("u1", "i2")      # Prediction(user, item, estimate, was_impossible, reason)
    model.recommend("u1", n=10); model.similar_items("i1")
    model.save("var/models/itemknn.npz"); same = load_model("var/models/itemknn.npz")
    clone(model).set_params(k=20).fit(...)  # scikit-learn's conventions: get_params, set_params, clone

A model used before ``fit`` raises scikit-learn's ``NotFittedError``.
"""

from sklearn.exceptions import NotFittedError

from knowledge.recommend.als import ImplicitALS, MissingDependency, als_available
from knowledge.recommend.base import (
    IdIndex,
    InteractionArrays,
    Prediction,
    Recommender,
    as_arrays,
    clone,
    fit_params,
    interaction_matrix,
    load_model,
)
from knowledge.recommend.content import ContentBased
from knowledge.recommend.ease import EASE
from knowledge.recommend.hybrid import Hybrid
from knowledge.recommend.itemcf import ImplicitItemCF
from knowledge.recommend.knn import ItemKNN, UserKNN, pearson_similarity
from knowledge.recommend.mf import SVD
from knowledge.recommend.popularity import Popularity, TrendingPopularity
from knowledge.recommend.usercf import ImplicitUserCF

__all__ = [
    "EASE",
    "ContentBased",
    "Hybrid",
    "IdIndex",
    "ImplicitALS",
    "ImplicitItemCF",
    "ImplicitUserCF",
    "InteractionArrays",
    "ItemKNN",
    "MissingDependency",
    "NotFittedError",
    "Popularity",
    "Prediction",
    "Recommender",
    "SVD",
    "TrendingPopularity",
    "UserKNN",
    "als_available",
    "as_arrays",
    "clone",
    "fit_params",
    "interaction_matrix",
    "load_model",
    "pearson_similarity",
]

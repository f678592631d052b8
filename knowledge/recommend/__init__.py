"""Recommenders for the shop (pure Python: numpy, scipy, scikit-learn; no Rasa).

Every model follows one interface (see :class:`~knowledge.recommend.base.Recommender`)::

    model = ItemKNN(k=40).fit([("u1", "i1", 4.0), ...])
    model.predict("u1", "i2"); model.recommend("u1", n=10); model.similar_items("i1")
    model.save("var/models/itemknn.npz"); same = load_model("var/models/itemknn.npz")
"""

from knowledge.recommend.als import ImplicitALS, MissingDependency, als_available
from knowledge.recommend.base import (
    IdIndex,
    InteractionArrays,
    NotFittedError,
    Recommender,
    as_arrays,
    clone,
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
    "Recommender",
    "SVD",
    "TrendingPopularity",
    "UserKNN",
    "als_available",
    "as_arrays",
    "clone",
    "interaction_matrix",
    "load_model",
    "pearson_similarity",
]

"""A Rasa NLU intent classifier: logistic regression on word and character n-grams plus sentence embeddings."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from bot.nlu.graph_entities import is_product_guess
from bot.nlu.persistence import load_skops, save_skops

logger = logging.getLogger(__name__)

# Types the persisted model may hold besides scikit-learn's own (the idf diagonal is a sparse matrix).
TRUSTED_TYPES = ["scipy.sparse._csr.csr_matrix"]
MODEL_FILE = "intent_classifier.skops"


# Catalog names stand for their kind in the n-grams: "what does Lumiere have" reads "what does __brand__ have",
# so a brand, product or category the examples never named is understood like the ones they did.
CATALOG_ENTITIES = frozenset({"product", "brand", "category", "color", "material"})


def _names_catalog(entity: Dict[Text, Any]) -> bool:
    """Whether an entity is a catalog name: annotated, or found by an extractor, the CRF's product guesses aside."""
    if entity.get("entity") not in CATALOG_ENTITIES or is_product_guess(entity):
        return False
    return isinstance(entity.get("start"), int) and isinstance(entity.get("end"), int)


def delexicalized(message: Message) -> str:
    """The message's text, lower case, with each catalog name found in it replaced by its kind."""
    text = message.get(TEXT) or ""
    spans = sorted((e["start"], e["end"], e["entity"]) for e in message.get(ENTITIES) or [] if _names_catalog(e))
    pieces, position = [], 0
    for start, end, kind in spans:
        if start < position:  # overlapping spans: the first one stands
            continue
        pieces += [text[position:start], f" __{kind}__ "]
        position = end
    pieces.append(text[position:])
    return "".join(pieces).lower()


def ngram_features() -> FeatureUnion:
    """Sublinear tf-idf of word 1–2-grams and character 1–4-grams within words."""
    return FeatureUnion([
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[^\s]+")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)),
    ])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class NgramEmbeddingIntentClassifier(GraphComponent, IntentClassifier):
    """Classifies intents from tf-idf n-grams of the text and the dense sentence features of the pipeline."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Inverse regularisation `C`, the weight of the dense features, and how many intents to rank."""
        return {"C": 30.0, "dense_weight": 2.0, "max_iter": 3000, "random_state": 1,
                "ranking_length": LABEL_RANKING_LENGTH}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[Dict[str, Any]] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "NgramEmbeddingIntentClassifier":
        """An untrained classifier."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the n-gram features and the classifier on the intent examples."""
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        if not examples:
            logger.debug("no intent examples, %s stays untrained", self.__class__.__name__)
            return self._resource
        ngrams = ngram_features().fit([delexicalized(m) for m in examples])
        classifier = LogisticRegression(
            C=self._config["C"], max_iter=self._config["max_iter"], random_state=self._config["random_state"])
        dense = [f for f in (m.get_dense_features(TEXT)[1] for m in examples) if f is not None]
        width = dense[0].features.shape[-1] if dense else 0
        self._model = {"ngrams": ngrams, "classifier": classifier, "dense_width": width}
        classifier.fit(self._matrix(examples), [m.get(INTENT) for m in examples])
        self._persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        """Set the intent and the intent ranking of each message that has text."""
        if self._model is None:
            return messages
        with_text = [m for m in messages if m.get(TEXT)]
        if not with_text:
            return messages
        classifier = self._model["classifier"]
        for message, probabilities in zip(with_text, classifier.predict_proba(self._matrix(with_text))):
            order = np.argsort(-probabilities)
            ranking = [{INTENT_NAME_KEY: str(classifier.classes_[i]), PREDICTED_CONFIDENCE_KEY: float(probabilities[i])}
                       for i in order]
            if self._config["ranking_length"] > 0:
                ranking = ranking[: self._config["ranking_length"]]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def _matrix(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        ngrams = self._model["ngrams"].transform([delexicalized(m) for m in messages])
        width = self._model["dense_width"]
        if not width:
            return ngrams.tocsr()
        embeddings = np.zeros((len(messages), width), dtype=np.float32)
        for row, message in enumerate(messages):
            features = message.get_dense_features(TEXT)[1]
            if features is None:  # a message with no words has none
                continue
            if features.features.shape[-1] != width:
                raise ValueError(f"dense features of width {features.features.shape[-1]}, trained on {width}: "
                                 "the pipeline's featurizers changed since training; retrain the model")
            embeddings[row] = features.features.reshape(-1)
        embeddings *= self._config["dense_weight"]
        return scipy.sparse.hstack([ngrams, scipy.sparse.csr_matrix(embeddings)]).tocsr()

    def _persist(self) -> None:
        save_skops(self._storage, self._resource, MODEL_FILE, self._model)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "NgramEmbeddingIntentClassifier":
        """The trained classifier, or an untrained one if training saved none."""
        model = load_skops(model_storage, resource, MODEL_FILE, TRUSTED_TYPES)
        if model is None:
            logger.warning("no trained intent classifier in the model, intents will not be classified")
        return cls(config, model_storage, resource, model)

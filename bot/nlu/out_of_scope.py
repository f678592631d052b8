"""A Rasa NLU component that tells questions for the shop from questions about anything else.

The intent classifier is confident even about questions no shop could answer ("why was my bank transfer
rejected" reads like a payment problem). This detector asks how much a message looks like the shop's own
examples: the classifier's probability of `out_of_scope`, the cosine similarity of the sentence vector to
its nearest in-scope training examples, and how many of its words the shop's examples never use. A
logistic regression turns these into a probability that the message is out of scope. It learns from
out-of-fold features with whole out-of-scope domains held out of each fold (the `domain` metadata of the
training examples), so it learns what a domain it never saw looks like. Its threshold is chosen on the
development split (`shopbot nlu tune`, data/dev/).

It is conservative with shopping: a message that names a product or brand is never rejected, one that
names a category, colour or material needs a higher score, and a confident product intent is kept. When
the classifier is torn between two intents that customers confuse (a refund or the refund policy, a
complaint or a person, delivery times or tracking), it asks instead of guessing: the intent becomes
`nlu_fallback` with the two intents on top of the ranking, for `action_fallback` to ask which one.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from bot.nlu.persistence import load_skops, save_skops

logger = logging.getLogger(__name__)

#: What the detector adds to the parse result: its score, threshold and decision (see `Verdict`).
OUT_OF_SCOPE_KEY = "out_of_scope"
MODEL_FILE = "out_of_scope.skops"
WORD = re.compile(r"[a-z][a-z']+")
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {
    "i'm", "i'd", "i've", "i'll", "don't", "can't", "won't", "isn't", "didn't", "doesn't", "it's", "what's",
    "that's", "there's", "you're", "im", "dont", "cant", "pls", "plz", "please", "hi", "hey", "hello", "ok",
    "okay", "thanks", "thank", "yes", "yeah", "u", "ur",
}
FEATURES = ("log-odds out_of_scope", "log-odds best in-scope intent", "nearest example", "nearest k examples",
            "foreign words", "share of foreign words")
#: Entity types the catalog matcher finds; product and brand names are specific, the others common words.
NAMED_ENTITIES = ("product", "brand")
COMMON_ENTITIES = ("category", "color", "material")
ENTITY_EXTRACTOR = "extractor"


class ShopVocabulary:
    """The words of the shop's in-scope examples; typos of longer words (rapidfuzz ratio) count as known."""

    def __init__(self, words: Iterable[str], min_fuzzy_length: int = 4, fuzzy_score: float = 84.0) -> None:
        self.words = frozenset(words)
        self._long = sorted(w for w in self.words if len(w) >= min_fuzzy_length)
        self._min_fuzzy_length = min_fuzzy_length
        self._fuzzy_score = fuzzy_score
        self.knows = functools.lru_cache(maxsize=20_000)(self._knows)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "ShopVocabulary":
        """The vocabulary of these texts."""
        return cls({w.strip("'") for text in texts for w in WORD.findall(text.lower())})

    def _knows(self, word: str) -> bool:
        from rapidfuzz import fuzz, process

        if word in self.words:
            return True
        if len(word) < self._min_fuzzy_length:
            return False
        return process.extractOne(word, self._long, scorer=fuzz.ratio, score_cutoff=self._fuzzy_score) is not None

    def foreign_words(self, text: str, entities: Sequence[Dict[Text, Any]] = ()) -> tuple[int, int]:
        """(content words the shop's examples never use, content words), outside the entities' spans."""
        for entity in sorted(entities, key=lambda e: -e.get(ENTITY_ATTRIBUTE_START, 0)):
            start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
            if isinstance(start, int) and isinstance(end, int):
                text = text[:start] + " " + text[end:]
        words = [w.strip("'") for w in WORD.findall(text.lower())]
        content = [w for w in words if len(w) > 1 and w not in STOP_WORDS]
        return sum(1 for w in content if not self.knows(w)), len(content)


def log_odds(probability: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), kept finite at 0 and 1."""
    p = np.clip(probability, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def domain_features(p_out: float, p_in: float, similarities: np.ndarray, foreign: int, content: int,
                    neighbours: int) -> np.ndarray:
    """The detector's features of one message (see FEATURES)."""
    nearest = np.sort(similarities)[::-1] if similarities.size else np.zeros(1)
    return np.array([
        log_odds(np.array(p_out)), log_odds(np.array(p_in)), nearest[0], nearest[:neighbours].mean(),
        min(foreign, 3), foreign / max(content, 1),
    ], dtype=np.float64)


def sentence_vector(message: Message) -> Optional[np.ndarray]:
    """The message's sentence vector from the pipeline's dense featurizer, of unit length."""
    features = message.get_dense_features(TEXT)[1]
    if features is None:
        return None
    vector = np.asarray(features.features, dtype=np.float32).reshape(-1)
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def confusable_pair(ranking: Sequence[Dict[Text, Any]], pairs: Sequence[Sequence[str]],
                    margin: float) -> Optional[tuple[str, str]]:
    """The two top intents when they are a confusable pair closer than `margin`, else None."""
    if len(ranking) < 2:
        return None
    first, second = ranking[0], ranking[1]
    names = {first.get(INTENT_NAME_KEY), second.get(INTENT_NAME_KEY)}
    if any(names == set(pair) for pair in pairs) and \
            first.get(PREDICTED_CONFIDENCE_KEY, 0.0) - second.get(PREDICTED_CONFIDENCE_KEY, 0.0) < margin:
        return first[INTENT_NAME_KEY], second[INTENT_NAME_KEY]
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class OutOfScopeDetector(GraphComponent, IntentClassifier):
    """Turns a message that isn't a shop question into `out_of_scope`, with the probability that it is one."""

    @classmethod
    def required_components(cls) -> List[type]:
        """Sentence vectors come first (and, in config.yml, the intent classifier)."""
        return [DenseFeaturizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Thresholds (chosen on data/dev/ with `shopbot nlu tune`), what to protect, and what to clarify."""
        return {
            # Probability of "out of scope" at or above which a message is out of scope.
            "threshold": 0.65,
            # ... when it names a category, colour or material (common words such as "watch" or "orange").
            "common_entity_threshold": 0.95,
            # A product intent at least this confident is kept. Product intents: these, and every intent of
            # which at least `product_entity_share` of the examples annotate an entity other than the
            # service ones (the shopping conversation's refinements and ordinals find themselves).
            "product_confidence": 0.8,
            "product_intents": ["ask_product_info", "ask_price", "check_availability", "search_products",
                                "compare_products", "ask_recommendation"],
            "product_entity_share": 0.15,
            "service_entities": ["order_id", "email"],
            # A message with no word foreign to the shop and at most this many content words is never rejected
            # by the detector (nor one with a single content word): "the last one", "next page", "in blue".
            "short_message_words": 2,
            # Only the catalog matcher's entities count as evidence of shopping (not the CRF's guesses).
            "catalog_extractors": ["GraphEntityMatcher"],
            "out_of_scope_intent": "out_of_scope",
            "folds": 5,
            "neighbours": 3,
            # Intents customers confuse; when the top two are such a pair and closer than the margin, ask.
            "confusable_pairs": [["request_refund", "ask_return_policy"], ["complaint", "human_handoff"],
                                 ["ask_shipping", "track_order"]],
            "clarify_margin": 0.3,
            "random_state": 1,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[Dict[str, Any]] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._model = model
        self._vocabulary = ShopVocabulary(model["vocabulary"]) if model else None

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "OutOfScopeDetector":
        """An untrained detector."""
        return cls(config, model_storage, resource)

    # --- training ----------------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the shop's examples and, from out-of-fold features, how out-of-scope messages differ."""
        oos = self._config["out_of_scope_intent"]
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        vectors = [sentence_vector(m) for m in examples]
        kept = [(m, v) for m, v in zip(examples, vectors) if v is not None]
        labels = np.array([m.get(INTENT) for m, _ in kept])
        if not kept or not (labels == oos).any() or (labels == oos).all():
            logger.warning("the out-of-scope detector needs sentence vectors and both in-scope and %r examples; "
                           "it stays off", oos)
            return self._resource
        messages = [m for m, _ in kept]
        matrix = np.stack([v for _, v in kept])
        features = self._out_of_fold_features(messages, matrix, labels)
        meta = LogisticRegression(class_weight="balanced", max_iter=1000, random_state=self._config["random_state"])
        meta.fit(features, labels == oos)
        inside = labels != oos
        self._model = {
            "meta": meta,
            "vectors": matrix[inside],
            "vocabulary": sorted(ShopVocabulary.from_texts(m.get(TEXT) for m, keep in zip(messages, inside) if keep).words),
            "product_intents": sorted(str(intent) for intent in self._product_intents(messages) & set(labels)),
        }
        self._vocabulary = ShopVocabulary(self._model["vocabulary"])
        logger.debug("out-of-scope detector weights %s", dict(zip(FEATURES, meta.coef_[0].round(2))))
        self._persist()
        return self._resource

    def _product_intents(self, messages: List[Message]) -> set[str]:
        """The configured product intents, and those whose examples often name shopping entities."""
        totals: Dict[str, int] = {}
        shopping: Dict[str, int] = {}
        for message in messages:
            intent = message.get(INTENT)
            totals[intent] = totals.get(intent, 0) + 1
            if any(e.get(ENTITY_ATTRIBUTE_TYPE) not in self._config["service_entities"]
                   for e in message.get(ENTITIES) or []):
                shopping[intent] = shopping.get(intent, 0) + 1
        found = {i for i, n in totals.items() if shopping.get(i, 0) / n >= self._config["product_entity_share"]}
        return set(self._config["product_intents"]) | found

    def _out_of_fold_features(self, messages: List[Message], matrix: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Each example's features from models that never saw its fold; out-of-scope domains stay whole."""
        oos = self._config["out_of_scope_intent"]
        groups = [f"out:{domain_of(m) or index}" if label == oos else f"in:{index % self._config['folds']}"
                  for index, (m, label) in enumerate(zip(messages, labels))]
        folds = min(self._config["folds"], len(set(groups)))
        features = np.zeros((len(messages), len(FEATURES)))
        for train, test in GroupKFold(n_splits=folds).split(matrix, labels, groups):
            if len(set(labels[train])) < 2:
                continue
            # The fold's classifier reads sentence vectors only: it is fast and ranks like the full classifier.
            classifier = LogisticRegression(C=30.0, max_iter=3000, random_state=self._config["random_state"])
            classifier.fit(matrix[train], labels[train])
            probabilities = classifier.predict_proba(matrix[test])
            classes = list(classifier.classes_)
            inside = train[labels[train] != oos]
            vocabulary = ShopVocabulary.from_texts(messages[i].get(TEXT) for i in inside)
            similarities = matrix[test] @ matrix[inside].T
            for row, index in enumerate(test):
                p_out = probabilities[row, classes.index(oos)] if oos in classes else 0.0
                p_in = max((p for c, p in zip(classes, probabilities[row]) if c != oos), default=0.0)
                message = messages[index]
                foreign, content = vocabulary.foreign_words(message.get(TEXT), message.get(ENTITIES) or [])
                features[index] = domain_features(p_out, p_in, similarities[row], foreign, content,
                                                  self._config["neighbours"])
        return features

    # --- inference ---------------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        """Mark out-of-scope messages, and ask about confusable pairs, in each message with an intent."""
        if self._model is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/") or not message.get(INTENT_RANKING_KEY):
                continue
            verdict = self.verdict(message)
            message.set(OUT_OF_SCOPE_KEY, verdict, add_to_output=True)
            if verdict["decision"] == "out_of_scope":
                self._set_out_of_scope(message, verdict["score"])
            if verdict["decision"] == "named_product" or verdict.get("named_product"):
                self._drop_out_of_scope(message)
            if verdict["decision"] == "clarify":
                message.set(INTENT, {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                                     PREDICTED_CONFIDENCE_KEY: message.get(INTENT)[PREDICTED_CONFIDENCE_KEY]},
                            add_to_output=True)
        return messages

    def verdict(self, message: Message) -> Dict[str, Any]:
        """The score that the message is out of scope, the threshold that applies, what to do and why."""
        config, oos = self._config, self._config["out_of_scope_intent"]
        ranking = message.get(INTENT_RANKING_KEY)
        top = ranking[0]
        inside = [r for r in ranking if r.get(INTENT_NAME_KEY) != oos]
        p_out = next((r[PREDICTED_CONFIDENCE_KEY] for r in ranking if r.get(INTENT_NAME_KEY) == oos), 0.0)
        p_in = inside[0][PREDICTED_CONFIDENCE_KEY] if inside else 0.0
        vector = sentence_vector(message)
        similarities = self._model["vectors"] @ vector if vector is not None else np.zeros(0)
        entities = message.get(ENTITIES) or []
        foreign, content = self._vocabulary.foreign_words(message.get(TEXT), entities)
        features = domain_features(p_out, p_in, similarities, foreign, content, config["neighbours"])
        score = float(self._model["meta"].predict_proba(features[np.newaxis, :])[0, 1])
        types = {e.get(ENTITY_ATTRIBUTE_TYPE) for e in entities
                 if e.get(ENTITY_EXTRACTOR) in config["catalog_extractors"]}
        common = bool(types & set(COMMON_ENTITIES))
        short = content <= 1 or (foreign == 0 and content <= config["short_message_words"])
        verdict = {
            "score": round(score, 4),
            "threshold": config["common_entity_threshold"] if common else config["threshold"],
            "decision": "keep", "reason": "", "guard": False, "common_entity": common,
            "intents": [[r.get(INTENT_NAME_KEY), round(float(r[PREDICTED_CONFIDENCE_KEY]), 4)] for r in ranking[:2]],
            "nearest": round(float(features[2]), 4), "foreign_words": foreign,
        }
        if top.get(INTENT_NAME_KEY) == oos and "product" in types and inside:
            verdict.update(decision="named_product", guard=True, reason="names a product of the catalog")
        elif top.get(INTENT_NAME_KEY) == oos:
            verdict.update(decision="classifier", reason="the intent classifier chose out_of_scope")
        elif types & set(NAMED_ENTITIES):
            verdict.update(guard=True, reason="names a product or brand")
        elif top.get(INTENT_NAME_KEY) in self._model["product_intents"] and \
                top[PREDICTED_CONFIDENCE_KEY] >= config["product_confidence"]:
            verdict.update(guard=True, reason="a confident product question")
        elif short:
            verdict.update(guard=True, reason="a short message with nothing foreign to the shop")
        elif score >= verdict["threshold"]:
            verdict.update(decision="out_of_scope",
                           reason=f"{foreign} of {content} words foreign to the shop, nearest example {features[2]:.2f}")
        pair = confusable_pair(inside, config["confusable_pairs"], margin=1.0)
        if pair:
            margin = inside[0][PREDICTED_CONFIDENCE_KEY] - inside[1][PREDICTED_CONFIDENCE_KEY]
            verdict["confusable"] = round(float(margin), 4)
            if verdict["decision"] in ("keep", "named_product") and margin < config["clarify_margin"]:
                verdict.update(decision="clarify", reason=f"torn between {pair[0]} and {pair[1]}", pair=list(pair),
                               named_product=verdict["decision"] == "named_product")
        return verdict

    def _set_out_of_scope(self, message: Message, score: float) -> None:
        oos = self._config["out_of_scope_intent"]
        others = [{**r, PREDICTED_CONFIDENCE_KEY: r[PREDICTED_CONFIDENCE_KEY] * (1 - score)}
                  for r in message.get(INTENT_RANKING_KEY) if r.get(INTENT_NAME_KEY) != oos]
        intent = {INTENT_NAME_KEY: oos, PREDICTED_CONFIDENCE_KEY: score}
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [intent, *others], add_to_output=True)

    def _drop_out_of_scope(self, message: Message) -> None:
        oos = self._config["out_of_scope_intent"]
        ranking = [r for r in message.get(INTENT_RANKING_KEY) if r.get(INTENT_NAME_KEY) != oos]
        total = sum(r[PREDICTED_CONFIDENCE_KEY] for r in ranking) or 1.0
        ranking = [{**r, PREDICTED_CONFIDENCE_KEY: r[PREDICTED_CONFIDENCE_KEY] / total} for r in ranking]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    # --- persistence -------------------------------------------------------------------------------

    def _persist(self) -> None:
        save_skops(self._storage, self._resource, MODEL_FILE, self._model)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "OutOfScopeDetector":
        """The trained detector, or one that lets every message through if training saved none."""
        model = load_skops(model_storage, resource, MODEL_FILE)
        if model is None:
            logger.warning("no trained out-of-scope detector in the model, every message counts as in scope")
        return cls(config, model_storage, resource, model)


def domain_of(message: Message) -> Optional[str]:
    """The `domain` metadata of a training example's intent block, if any."""
    metadata = message.get("metadata") or {}
    return (metadata.get("intent") or {}).get("domain") if isinstance(metadata, dict) else None

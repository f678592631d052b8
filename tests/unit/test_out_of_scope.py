"""Unit tests of the out-of-scope detector (bot/nlu/out_of_scope.py) on the real sentence encoder and classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_classifier import NgramEmbeddingIntentClassifier
from bot.nlu.persistence import InvalidModelError
from bot.nlu.out_of_scope import (
    OUT_OF_SCOPE_KEY,
    OutOfScopeDetector,
    ShopVocabulary,
    confusable_pair,
    domain_of,
)
from bot.nlu.sentence_embeddings import SentenceEmbeddingFeaturizer, SentenceEncoder, bundled_model_path

IN_SCOPE = {
    "track_order": ["where is my order", "track my package", "has my order shipped yet", "where is my parcel",
                    "when will my delivery arrive", "what's the status of my order", "my parcel has not arrived",
                    "any news on my shipment"],
    "request_refund": ["i want a refund", "i want my money back", "refund my order please", "i'd like to return this",
                       "how do i send it back", "give me a refund", "i want to return my order",
                       "can i get a reimbursement"],
    "ask_return_policy": ["what is your return policy", "how long do i have to return an item", "are returns free",
                          "what's the refund policy", "do you accept returns on sale items",
                          "how many days is the return window", "do refunds go to my card",
                          "is there a restocking fee"],
    "greet": ["hello", "hi", "hey there", "good morning", "hi shop", "hello there"],
}
# Product questions annotate their catalog words, as data/nlu/products.yml does.
PRODUCT_QUESTIONS = [("show me red shoes", "color", "red"), ("any blue jackets", "color", "blue"),
                     ("do you sell backpacks", "category", "backpacks"), ("cheap headphones please", "category", "headphones"),
                     ("jackets under 100", "category", "jackets"), ("green shoes in size 9", "color", "green"),
                     ("black backpacks", "color", "black"), ("show me sunglasses", "category", "sunglasses")]
OUT_OF_SCOPE = {
    "weather": ["will it rain tomorrow", "what's the weather today", "is it cold outside", "forecast for the weekend",
                "do i need an umbrella"],
    "cooking": ["how do i bake bread", "give me a pasta recipe", "how long do i boil an egg",
                "what should i cook tonight", "how to make pancakes"],
    "sports": ["who won the football match", "when does the season start", "what's the score of the game",
               "who is the best tennis player", "tell me the league table"],
    "trivia": ["what's the capital of france", "how tall is everest", "who painted the mona lisa",
               "when did the war end", "how many planets are there"],
    "banking": ["what's my bank balance", "transfer money to my savings", "change my bank card pin",
                "open a bank account", "what's the interest on my savings account"],
}
NEVER_SEEN_DOMAINS = ["how do i file an insurance claim for my flooded kitchen",
                      "when should i prune my apple trees in the garden",
                      "can my landlord evict me without notice"]


def execution_context() -> ExecutionContext:
    """A context for components created outside a graph."""
    return ExecutionContext(GraphSchema({}), "test")


@pytest.fixture(scope="module")
def tokenizer() -> WhitespaceTokenizer:
    return WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())


@pytest.fixture(scope="module")
def featurizer() -> SentenceEmbeddingFeaturizer:
    """The featurizer on the bundled all-MiniLM-L6-v2, loaded once for the module."""
    featurizer = SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config()}, "embeddings")
    featurizer._encoder = SentenceEncoder(bundled_model_path(), 128)
    return featurizer


def product_message(text: str, entity: str, value: str) -> Message:
    start = text.index(value)
    return Message(data={TEXT: text, INTENT: "search_products",
                         ENTITIES: [{"entity": entity, "start": start, "end": start + len(value), "value": value}]})


@pytest.fixture(scope="module")
def training_data(tokenizer: WhitespaceTokenizer, featurizer: SentenceEmbeddingFeaturizer) -> TrainingData:
    """Four service and small-talk intents, a product intent with entities, and five out-of-scope domains."""
    messages = [Message(data={TEXT: text, INTENT: intent}) for intent, texts in IN_SCOPE.items() for text in texts]
    messages += [product_message(*example) for example in PRODUCT_QUESTIONS]
    messages += [Message(data={TEXT: text, INTENT: "out_of_scope", "metadata": {"intent": {"domain": domain}}})
                 for domain, texts in OUT_OF_SCOPE.items() for text in texts]
    data = TrainingData(messages)
    tokenizer.process_training_data(data)
    featurizer.process_training_data(data)
    return data


@pytest.fixture(scope="module")
def module_storage(tmp_path_factory: pytest.TempPathFactory) -> LocalModelStorage:
    return LocalModelStorage(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def classifier(module_storage: LocalModelStorage, training_data: TrainingData) -> NgramEmbeddingIntentClassifier:
    classifier = NgramEmbeddingIntentClassifier.create(
        NgramEmbeddingIntentClassifier.get_default_config(), module_storage, Resource("clf"), execution_context())
    classifier.train(training_data)
    return classifier


def trained_detector(storage: LocalModelStorage, data: TrainingData, **config: Any) -> OutOfScopeDetector:
    detector = OutOfScopeDetector.create({**OutOfScopeDetector.get_default_config(), "folds": 3, **config},
                                         storage, Resource("oos"), execution_context())
    assert detector.train(data) == Resource("oos")
    return detector


@pytest.fixture(scope="module")
def detector(module_storage: LocalModelStorage, training_data: TrainingData) -> OutOfScopeDetector:
    return trained_detector(module_storage, training_data)


def parse(texts: List[str], tokenizer: WhitespaceTokenizer, featurizer: SentenceEmbeddingFeaturizer,
          classifier: NgramEmbeddingIntentClassifier, detector: OutOfScopeDetector,
          entities: Optional[List[Dict[str, Any]]] = None) -> List[Message]:
    """Messages through the pipeline as at inference: tokens, vectors, intent ranking, then the detector."""
    messages = [Message(data={TEXT: text, ENTITIES: list(entities or [])}) for text in texts]
    return detector.process(classifier.process(featurizer.process(tokenizer.process(messages))))


def intent_of(message: Message) -> str:
    return message.get(INTENT)[INTENT_NAME_KEY]


# --- the vocabulary and the helpers --------------------------------------------------------------------------


def test_vocabulary_counts_foreign_content_words_and_forgives_typos() -> None:
    vocabulary = ShopVocabulary.from_texts(["where is my order", "i want a refund", "track my package"])
    assert vocabulary.foreign_words("where is my mortgage") == (1, 1)
    assert vocabulary.foreign_words("i want a refnd for my pakage") == (0, 3)  # "want" is known, typos too
    assert vocabulary.foreign_words("is it the one") == (0, 0)  # only stop words
    assert vocabulary.foreign_words("change my PIN at the bank") == (3, 3)


def test_vocabulary_skips_words_inside_entities() -> None:
    vocabulary = ShopVocabulary.from_texts(["do you have shoes"])
    text = "do you have Trailblazer shoes"
    entity = {"entity": "product", "start": text.index("Trailblazer"), "end": text.index("Trailblazer") + 11}
    assert vocabulary.foreign_words(text) == (1, 2)
    assert vocabulary.foreign_words(text, [entity]) == (0, 1)


def test_confusable_pair_needs_the_pair_on_top_and_a_small_margin() -> None:
    pairs = [["request_refund", "ask_return_policy"]]

    def ranking(*entries: tuple) -> List[Dict[str, Any]]:
        return [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence} for name, confidence in entries]

    assert confusable_pair(ranking(("ask_return_policy", 0.5), ("request_refund", 0.4)), pairs, 0.15) == \
        ("ask_return_policy", "request_refund")
    assert confusable_pair(ranking(("ask_return_policy", 0.7), ("request_refund", 0.2)), pairs, 0.15) is None
    assert confusable_pair(ranking(("ask_return_policy", 0.5), ("greet", 0.45)), pairs, 0.15) is None
    assert confusable_pair(ranking(("ask_return_policy", 0.5)), pairs, 0.15) is None


def test_domain_comes_from_the_intent_metadata() -> None:
    assert domain_of(Message(data={TEXT: "x", "metadata": {"intent": {"domain": "banking"}}})) == "banking"
    assert domain_of(Message(data={TEXT: "x"})) is None


# --- the detector --------------------------------------------------------------------------------------------


def test_questions_from_domains_never_trained_on_are_out_of_scope(tokenizer, featurizer, classifier,
                                                                  detector) -> None:
    messages = parse(NEVER_SEEN_DOMAINS, tokenizer, featurizer, classifier, detector)
    assert [intent_of(m) for m in messages] == ["out_of_scope"] * len(messages)
    for message in messages:
        verdict = message.get(OUT_OF_SCOPE_KEY)
        ranking = message.get(INTENT_RANKING_KEY)
        assert ranking[0] == message.get(INTENT)
        assert sum(r[PREDICTED_CONFIDENCE_KEY] for r in ranking) <= 1 + 1e-6
        if verdict["decision"] == "out_of_scope":  # the detector, not the classifier, said so
            assert message.get(INTENT)[PREDICTED_CONFIDENCE_KEY] == pytest.approx(verdict["score"], abs=1e-3)
            assert verdict["score"] >= verdict["threshold"]


def with_ranking(text: str, ranking: List[tuple], tokenizer: WhitespaceTokenizer,
                 featurizer: SentenceEmbeddingFeaturizer, entity: Optional[tuple] = None,
                 extractor: str = "GraphEntityMatcher") -> Message:
    """A featurized message as if the classifier had ranked its intents so (and `extractor` had found the entity
    (type, words))."""
    entities = []
    if entity:
        start = text.index(entity[1])
        entities = [{"entity": entity[0], "start": start, "end": start + len(entity[1]), "value": entity[1],
                     "extractor": extractor}]
    message, = featurizer.process(tokenizer.process([Message(data={TEXT: text, ENTITIES: entities})]))
    ranking = [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence} for name, confidence in ranking]
    message.set(INTENT, ranking[0])
    message.set(INTENT_RANKING_KEY, ranking)
    return message


LEANING_IN = [("track_order", 0.55), ("out_of_scope", 0.35), ("greet", 0.10)]


@pytest.mark.parametrize("text", NEVER_SEEN_DOMAINS)
def test_foreign_words_and_distance_raise_the_score(text: str, tokenizer, featurizer, detector) -> None:
    """Under the same classifier ranking, a foreign question scores higher than a shop question."""
    shop, foreign = detector.process([with_ranking("where is my parcel, it has not arrived", LEANING_IN, tokenizer,
                                                   featurizer),
                                      with_ranking(text, LEANING_IN, tokenizer, featurizer)])
    assert foreign.get(OUT_OF_SCOPE_KEY)["score"] > shop.get(OUT_OF_SCOPE_KEY)["score"] + 0.2
    assert foreign.get(OUT_OF_SCOPE_KEY)["foreign_words"] >= 2
    assert foreign.get(OUT_OF_SCOPE_KEY)["nearest"] < shop.get(OUT_OF_SCOPE_KEY)["nearest"]


@pytest.mark.parametrize("text", NEVER_SEEN_DOMAINS)
def test_the_detector_overrules_a_classifier_leaning_in_scope(text: str, tokenizer, featurizer, detector) -> None:
    message, = detector.process([with_ranking(text, LEANING_IN, tokenizer, featurizer)])
    verdict = message.get(OUT_OF_SCOPE_KEY)
    assert verdict["decision"] == "out_of_scope" and verdict["score"] >= verdict["threshold"]
    assert message.get(INTENT) == {INTENT_NAME_KEY: "out_of_scope", PREDICTED_CONFIDENCE_KEY: verdict["score"]}
    ranking = message.get(INTENT_RANKING_KEY)
    assert [r[INTENT_NAME_KEY] for r in ranking] == ["out_of_scope", "track_order", "greet"]
    assert sum(r[PREDICTED_CONFIDENCE_KEY] for r in ranking) <= 1 + 1e-6


def test_shop_questions_in_new_words_stay_in_scope(tokenizer, featurizer, classifier, detector) -> None:
    texts = {"has my purchase been dispatched": "track_order", "i would like my money returned": "request_refund",
             "hiya": "greet"}
    messages = parse(list(texts), tokenizer, featurizer, classifier, detector)
    assert {m.get(TEXT): intent_of(m) for m in messages} == texts
    assert all(m.get(OUT_OF_SCOPE_KEY)["decision"] == "keep" for m in messages)


def test_a_named_product_or_brand_is_never_rejected(tokenizer, featurizer, detector) -> None:
    text = "can the Zephyrcraft survive my flooded kitchen insurance claim"
    plain, named = detector.process([with_ranking(text, LEANING_IN, tokenizer, featurizer),
                                     with_ranking(text, LEANING_IN, tokenizer, featurizer, ("brand", "Zephyrcraft"))])
    assert intent_of(plain) == "out_of_scope"
    assert intent_of(named) == "track_order"
    assert named.get(OUT_OF_SCOPE_KEY)["guard"] is True and named.get(OUT_OF_SCOPE_KEY)["decision"] == "keep"


def test_short_follow_ups_are_not_rejected_by_the_detector(tokenizer, featurizer, classifier, detector) -> None:
    follow_ups = ["the second one", "number 3", "show me more", "the last one", "next page", "in blue"]
    for message in parse(follow_ups, tokenizer, featurizer, classifier, detector):
        assert message.get(OUT_OF_SCOPE_KEY)["decision"] != "out_of_scope", message.get(TEXT)


def test_only_the_catalog_matchers_entities_count(tokenizer, featurizer, detector) -> None:
    text = "can the Zephyrcraft survive my flooded kitchen insurance claim"
    guessed, = detector.process([with_ranking(text, LEANING_IN, tokenizer, featurizer, ("brand", "Zephyrcraft"),
                                              extractor="CRFEntityExtractor")])
    assert intent_of(guessed) == "out_of_scope"


def test_a_catalog_product_overrules_the_classifiers_out_of_scope(tokenizer, featurizer, detector) -> None:
    text = "would the atlas 1 backpack fit on a plane as hand luggage"
    ranking = [("out_of_scope", 0.8), ("ask_product_info", 0.15), ("search_products", 0.05)]
    plain, named = detector.process([with_ranking(text, ranking, tokenizer, featurizer),
                                     with_ranking(text, ranking, tokenizer, featurizer, ("product", "atlas 1 backpack"))])
    assert intent_of(plain) == "out_of_scope" and plain.get(OUT_OF_SCOPE_KEY)["decision"] == "classifier"
    assert named.get(OUT_OF_SCOPE_KEY)["decision"] == "named_product"
    assert named.get(INTENT) == {INTENT_NAME_KEY: "ask_product_info", PREDICTED_CONFIDENCE_KEY: pytest.approx(0.75)}
    assert [r[INTENT_NAME_KEY] for r in named.get(INTENT_RANKING_KEY)] == ["ask_product_info", "search_products"]


def test_a_named_product_torn_between_a_pair_asks_without_out_of_scope(tokenizer, featurizer, detector) -> None:
    text = "atlas 1 backpack refunds"
    ranking = [("out_of_scope", 0.6), ("request_refund", 0.21), ("ask_return_policy", 0.19)]
    message, = detector.process([with_ranking(text, ranking, tokenizer, featurizer, ("product", "atlas 1 backpack"))])
    assert intent_of(message) == "nlu_fallback"
    assert [r[INTENT_NAME_KEY] for r in message.get(INTENT_RANKING_KEY)] == ["request_refund", "ask_return_policy"]


def test_common_catalog_words_raise_the_bar(storage_path: Path, training_data: TrainingData, tokenizer,
                                            featurizer) -> None:
    """A message naming a colour, category or material is judged against the higher threshold."""
    detector = trained_detector(LocalModelStorage(storage_path), training_data, common_entity_threshold=1.01)
    text = NEVER_SEEN_DOMAINS[1]  # "... apple trees in the garden"
    plain, coloured = detector.process([with_ranking(text, LEANING_IN, tokenizer, featurizer),
                                        with_ranking(text, LEANING_IN, tokenizer, featurizer, ("color", "apple"))])
    assert plain.get(OUT_OF_SCOPE_KEY)["decision"] == "out_of_scope"
    assert coloured.get(OUT_OF_SCOPE_KEY)["decision"] == "keep"
    assert coloured.get(OUT_OF_SCOPE_KEY)["threshold"] == 1.01 and coloured.get(OUT_OF_SCOPE_KEY)["common_entity"]


def test_torn_between_a_confusable_pair_it_asks(tokenizer, featurizer, detector) -> None:
    ranking = [("request_refund", 0.46), ("ask_return_policy", 0.41), ("track_order", 0.13)]
    message, = detector.process([with_ranking("refunds", ranking, tokenizer, featurizer)])
    assert intent_of(message) == "nlu_fallback"
    assert [r[INTENT_NAME_KEY] for r in message.get(INTENT_RANKING_KEY)[:2]] == ["request_refund", "ask_return_policy"]
    assert message.get(OUT_OF_SCOPE_KEY)["pair"] == ["request_refund", "ask_return_policy"]


def test_a_clear_lead_between_a_confusable_pair_is_answered(tokenizer, featurizer, detector) -> None:
    ranking = [("request_refund", 0.8), ("ask_return_policy", 0.15)]
    message, = detector.process([with_ranking("i want a refund for my order", ranking, tokenizer, featurizer)])
    assert intent_of(message) == "request_refund"


def test_product_intents_are_found_from_their_entities(detector) -> None:
    assert "search_products" in detector._model["product_intents"]
    assert "track_order" not in detector._model["product_intents"]


def test_button_payloads_and_messages_without_intent_pass_untouched(tokenizer, featurizer, detector) -> None:
    payload = Message(data={TEXT: '/request_refund{"order_id": "SB-100001"}'})
    bare, = featurizer.process(tokenizer.process([Message(data={TEXT: "where is my order"})]))
    assert detector.process([payload, bare]) == [payload, bare]
    assert payload.get(OUT_OF_SCOPE_KEY) is None and bare.get(OUT_OF_SCOPE_KEY) is None


# --- training and persistence --------------------------------------------------------------------------------


@pytest.fixture
def storage_path(tmp_path: Path) -> Path:
    return tmp_path


def test_persist_and_load_give_the_same_verdicts(storage_path: Path, training_data: TrainingData, tokenizer,
                                                 featurizer, classifier) -> None:
    storage = LocalModelStorage(storage_path)
    trained = trained_detector(storage, training_data)
    assert (storage_path / "oos" / "out_of_scope.skops").is_file()
    loaded = OutOfScopeDetector.load(OutOfScopeDetector.get_default_config(), storage, Resource("oos"),
                                     execution_context())
    texts = ["where is my parcel", *NEVER_SEEN_DOMAINS, "the second one"]
    before = parse(texts, tokenizer, featurizer, classifier, trained)
    after = parse(texts, tokenizer, featurizer, classifier, loaded)
    assert [m.get(OUT_OF_SCOPE_KEY) for m in after] == [m.get(OUT_OF_SCOPE_KEY) for m in before]
    assert [m.get(INTENT) for m in after] == [m.get(INTENT) for m in before]


def test_a_model_file_with_untrusted_types_is_refused(storage_path: Path, training_data: TrainingData) -> None:
    import skops.io as sio

    storage = LocalModelStorage(storage_path)
    trained_detector(storage, training_data)
    sio.dump({"meta": None, "vectors": Path("/etc/passwd")}, storage_path / "oos" / "out_of_scope.skops")
    with pytest.raises(InvalidModelError, match="not trusted"):
        OutOfScopeDetector.load(OutOfScopeDetector.get_default_config(), storage, Resource("oos"),
                                execution_context())


def test_without_out_of_scope_examples_it_stays_off(storage_path: Path, tokenizer, featurizer,
                                                    classifier) -> None:
    data = TrainingData([Message(data={TEXT: text, INTENT: intent}) for intent, texts in IN_SCOPE.items()
                         for text in texts])
    featurizer.process_training_data(tokenizer.process_training_data(data))
    storage = LocalModelStorage(storage_path)
    detector = OutOfScopeDetector.create(OutOfScopeDetector.get_default_config(), storage, Resource("oos"),
                                         execution_context())
    detector.train(data)
    message, = parse(["what's the weather"], tokenizer, featurizer, classifier, detector)
    assert message.get(OUT_OF_SCOPE_KEY) is None
    loaded = OutOfScopeDetector.load(OutOfScopeDetector.get_default_config(), storage, Resource("oos"),
                                     execution_context())
    assert loaded.process([message]) == [message]


def test_training_uses_whole_domains_per_fold(storage_path: Path, training_data: TrainingData,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """No out-of-scope domain is split between the data a fold learns from and the data it is scored on."""
    from sklearn.model_selection import GroupKFold

    seen: List[tuple] = []
    original = GroupKFold.split

    def recording_split(self, X, y=None, groups=None):  # noqa: ANN202, N803 - scikit-learn's split(X, y, groups) signature
        for train, test in original(self, X, y, groups):
            seen.append(({groups[i] for i in train}, {groups[i] for i in test}))
            yield train, test

    monkeypatch.setattr(GroupKFold, "split", recording_split)
    trained_detector(LocalModelStorage(storage_path), training_data)
    assert seen
    for train_groups, test_groups in seen:
        assert not train_groups & test_groups
        assert any(g.startswith("out:") for g in test_groups)
    domains = {g for _, test in seen for g in test if g.startswith("out:")}
    assert domains == {f"out:{d}" for d in OUT_OF_SCOPE}

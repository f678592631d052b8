"""Unit tests of the NLU components (sentence encoder, featurizer, intent classifier) and the action-reply validator."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import numpy as np
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.channels import action_validation
from bot.nlu.intent_classifier import NgramEmbeddingIntentClassifier
from bot.nlu.persistence import InvalidModelError
from bot.nlu.sentence_embeddings import SentenceEmbeddingFeaturizer, SentenceEncoder, bundled_model_path

WIDTH = 384  # all-MiniLM-L6-v2's hidden size

EXAMPLES = {
    "affirm": ["yes", "yes please", "sure", "absolutely", "that sounds good", "ok do it", "yep", "of course"],
    "order_status": [
        "where is my order", "track my package", "has my order shipped", "when will my delivery arrive",
        "status of my order", "my parcel has not arrived", "track order 123", "where is my shipment",
    ],
    "greet": ["hello", "hi", "hey", "good morning", "good evening", "hi there", "hello bot", "howdy"],
}
PARAPHRASES = {
    "certainly, go ahead": "affirm",
    "did my purchase ship yet": "order_status",
    "hey, good afternoon": "greet",
}


# --- fixtures and helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    """The bundled all-MiniLM-L6-v2, loaded once for the module (about 8 s)."""
    return SentenceEncoder(bundled_model_path(), 128)


@pytest.fixture(scope="module")
def tokenizer() -> WhitespaceTokenizer:
    """Rasa's whitespace tokenizer with its default config."""
    return WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())


@pytest.fixture(scope="module")
def featurizer(encoder: SentenceEncoder) -> SentenceEmbeddingFeaturizer:
    """The featurizer with the default config, reusing the module's encoder instead of loading another."""
    featurizer = SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config()}, "embeddings")
    featurizer._encoder = encoder
    return featurizer


@pytest.fixture(scope="module")
def training_data(tokenizer: WhitespaceTokenizer, featurizer: SentenceEmbeddingFeaturizer) -> TrainingData:
    """Three intents with eight examples each, tokenized and featurized."""
    data = TrainingData([Message(data={TEXT: text, INTENT: intent})
                         for intent, texts in EXAMPLES.items() for text in texts])
    tokenizer.process_training_data(data)
    featurizer.process_training_data(data)
    return data


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    """An empty model storage in a temporary folder."""
    return LocalModelStorage(tmp_path)


def execution_context() -> ExecutionContext:
    """A context for components created outside a graph."""
    return ExecutionContext(GraphSchema({}), "test")


def parsed(texts: List[str], tokenizer: WhitespaceTokenizer,
           featurizer: SentenceEmbeddingFeaturizer) -> List[Message]:
    """New messages with the given texts, tokenized and featurized as at inference."""
    messages = [Message(data={TEXT: text}) for text in texts]
    return featurizer.process(tokenizer.process(messages))


def trained_classifier(storage: LocalModelStorage, training_data: TrainingData,
                       **config: Any) -> NgramEmbeddingIntentClassifier:
    """A classifier trained on `training_data` and persisted to the resource `clf`."""
    classifier = NgramEmbeddingIntentClassifier.create(
        {**NgramEmbeddingIntentClassifier.get_default_config(), **config}, storage, Resource("clf"),
        execution_context())
    assert classifier.train(training_data) == Resource("clf")
    return classifier


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine of the angle between two vectors."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def ranking_confidences(message: Message) -> Dict[str, float]:
    """Intent name → confidence from a message's intent ranking."""
    return {entry[INTENT_NAME_KEY]: entry[PREDICTED_CONFIDENCE_KEY] for entry in message.get("intent_ranking")}


# --- SentenceEncoder --------------------------------------------------------------------------------------------


def test_encoder_shapes_and_unit_sentence_vector(encoder: SentenceEncoder) -> None:
    batch = [["where", "is", "my", "parcel"], ["hi"], ["please", "show", "me", "red", "running", "shoes", "now"]]
    results = encoder.encode(batch)
    assert len(results) == len(batch)
    for words, (sequence, sentence) in zip(batch, results):
        assert sequence.shape == (len(words), WIDTH)
        assert sentence.shape == (WIDTH,)
        assert np.linalg.norm(sentence) == pytest.approx(1.0, abs=1e-5)
        assert np.all(np.abs(sequence).sum(axis=1) > 0), "every word within the limit has a vector"


def test_encoder_padding_does_not_change_vectors(encoder: SentenceEncoder) -> None:
    short = ["hello", "there"]
    (alone_sequence, alone_sentence), = encoder.encode([short])
    _, (padded_sequence, padded_sentence) = encoder.encode([["a"] * 15, short])
    np.testing.assert_allclose(padded_sentence, alone_sentence, atol=1e-4)
    np.testing.assert_allclose(padded_sequence, alone_sequence, atol=1e-4)


def test_encoder_words_past_wordpiece_limit_are_zero(encoder: SentenceEncoder,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder, "_max_wordpieces", 8)  # [CLS] + 6 wordpieces + [SEP]
    words = "the cat sat on the mat and the dog ran to the park with a red ball in its mouth".split()
    assert len(words) == 20
    (sequence, sentence), = encoder.encode([words])
    assert sequence.shape == (20, WIDTH)
    kept = np.abs(sequence).sum(axis=1) > 0
    assert kept.tolist() == [True] * 6 + [False] * 14
    assert np.linalg.norm(sentence) == pytest.approx(1.0, abs=1e-5)


def test_encoder_similar_sentences_are_closer(encoder: SentenceEncoder) -> None:
    (_, yes), (_, certainly), (_, parcel) = encoder.encode(
        [["yes", "please"], ["certainly"], ["where", "is", "my", "parcel"]])
    assert cosine(yes, certainly) > cosine(yes, parcel) + 0.1
    assert cosine(yes, certainly) > cosine(certainly, parcel) + 0.1


# --- SentenceEmbeddingFeaturizer --------------------------------------------------------------------------------


def test_featurizer_adds_sequence_and_sentence_features(tokenizer: WhitespaceTokenizer,
                                                        featurizer: SentenceEmbeddingFeaturizer,
                                                        encoder: SentenceEncoder) -> None:
    message, = parsed(["where is my red parcel"], tokenizer, featurizer)
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is not None and sentence is not None
    assert sequence.features.shape == (5, WIDTH)
    assert sentence.features.shape == (1, WIDTH)
    assert sorted((f.type, f.origin, f.is_dense()) for f in message.features) == [
        ("sentence", "embeddings", True), ("sequence", "embeddings", True)]
    (expected_sequence, expected_sentence), = encoder.encode([["where", "is", "my", "red", "parcel"]])
    np.testing.assert_allclose(sequence.features, expected_sequence, atol=1e-5)
    np.testing.assert_allclose(sentence.features[0], expected_sentence, atol=1e-5)


def test_featurizer_leaves_messages_without_text_alone(tokenizer: WhitespaceTokenizer,
                                                       featurizer: SentenceEmbeddingFeaturizer) -> None:
    empty, with_text = Message(data={INTENT: "greet"}), Message(data={TEXT: "hello"})
    assert featurizer.process(tokenizer.process([empty, with_text])) == [empty, with_text]
    assert empty.features == []
    assert empty.get_dense_features(TEXT) == (None, None)
    assert with_text.get_dense_features(TEXT)[1] is not None


def test_featurizer_training_data_skips_examples_without_text(tokenizer: WhitespaceTokenizer,
                                                              featurizer: SentenceEmbeddingFeaturizer) -> None:
    data = TrainingData([Message(data={TEXT: "hi there", INTENT: "greet"}), Message(data={INTENT: "greet"})])
    featurizer.process_training_data(tokenizer.process_training_data(data))
    with_text, without_text = data.training_examples
    assert with_text.get_dense_features(TEXT)[0].features.shape == (2, WIDTH)
    assert without_text.get_dense_features(TEXT) == (None, None)


@pytest.mark.parametrize("max_wordpieces", [4, 7, 513, 1000])
def test_featurizer_rejects_wordpiece_limits_outside_the_model(max_wordpieces: int) -> None:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "max_wordpieces": max_wordpieces}
    with pytest.raises(InvalidConfigException, match="max_wordpieces"):
        SentenceEmbeddingFeaturizer.validate_config(config)
    with pytest.raises(InvalidConfigException, match="max_wordpieces"):
        SentenceEmbeddingFeaturizer(config, "embeddings")


@pytest.mark.parametrize("max_wordpieces", [8, 128, 512])
def test_featurizer_accepts_wordpiece_limits_within_the_model(max_wordpieces: int) -> None:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "max_wordpieces": max_wordpieces}
    SentenceEmbeddingFeaturizer.validate_config(config)
    assert SentenceEmbeddingFeaturizer(config, "embeddings")._encoder is None  # loaded lazily, not here


# --- NgramEmbeddingIntentClassifier -----------------------------------------------------------------------------


def test_classifier_predicts_unseen_paraphrases(storage: LocalModelStorage, training_data: TrainingData,
                                                tokenizer: WhitespaceTokenizer,
                                                featurizer: SentenceEmbeddingFeaturizer) -> None:
    classifier = trained_classifier(storage, training_data)
    messages = classifier.process(parsed(list(PARAPHRASES), tokenizer, featurizer))
    assert {m.get(TEXT): m.get(INTENT)[INTENT_NAME_KEY] for m in messages} == PARAPHRASES
    for message in messages:
        ranking = message.get("intent_ranking")
        confidences = [entry[PREDICTED_CONFIDENCE_KEY] for entry in ranking]
        assert {entry[INTENT_NAME_KEY] for entry in ranking} == set(EXAMPLES)
        assert confidences == sorted(confidences, reverse=True)
        assert all(0 <= c <= 1 for c in confidences) and sum(confidences) <= 1 + 1e-6
        assert message.get(INTENT) == ranking[0]
        assert message.as_dict_nlu()[INTENT] == ranking[0], "the intent is part of the parse output"


@pytest.mark.parametrize("ranking_length, expected", [(1, 1), (2, 2), (0, 3), (10, 3)])
def test_classifier_respects_ranking_length(storage: LocalModelStorage, training_data: TrainingData,
                                            tokenizer: WhitespaceTokenizer, featurizer: SentenceEmbeddingFeaturizer,
                                            ranking_length: int, expected: int) -> None:
    classifier = trained_classifier(storage, training_data, ranking_length=ranking_length)
    message, = classifier.process(parsed(["where is my parcel"], tokenizer, featurizer))
    ranking = message.get("intent_ranking")
    assert len(ranking) == expected
    assert ranking[0] == message.get(INTENT)
    assert message.get(INTENT)[INTENT_NAME_KEY] == "order_status"


def test_classifier_persist_and_load_round_trip(storage: LocalModelStorage, training_data: TrainingData,
                                                tokenizer: WhitespaceTokenizer,
                                                featurizer: SentenceEmbeddingFeaturizer) -> None:
    texts = [*PARAPHRASES, "track it please", "zzz"]
    trained = trained_classifier(storage, training_data)
    assert (storage._storage_path / "clf" / "intent_classifier.skops").is_file()
    loaded = NgramEmbeddingIntentClassifier.load(
        NgramEmbeddingIntentClassifier.get_default_config(), storage, Resource("clf"), execution_context())
    before = trained.process(parsed(texts, tokenizer, featurizer))
    after = loaded.process(parsed(texts, tokenizer, featurizer))
    assert [m.get(INTENT) for m in after] == [m.get(INTENT) for m in before]
    for old, new in zip(before, after):
        assert ranking_confidences(new) == ranking_confidences(old)


def test_classifier_refuses_a_model_file_with_untrusted_types(storage: LocalModelStorage,
                                                              training_data: TrainingData) -> None:
    import skops.io as sio

    trained_classifier(storage, training_data)
    path = storage._storage_path / "clf" / "intent_classifier.skops"
    sio.dump({"ngrams": None, "classifier": Path("/etc/passwd")}, path)  # a type skops does not trust
    with pytest.raises(InvalidModelError, match="not trusted"):
        NgramEmbeddingIntentClassifier.load(
            NgramEmbeddingIntentClassifier.get_default_config(), storage, Resource("clf"), execution_context())


def test_classifier_ignores_messages_without_text(storage: LocalModelStorage, training_data: TrainingData,
                                                  tokenizer: WhitespaceTokenizer,
                                                  featurizer: SentenceEmbeddingFeaturizer) -> None:
    classifier = trained_classifier(storage, training_data)
    empty = Message(data={})
    assert classifier.process([empty]) == [empty]
    assert empty.get(INTENT) is None and empty.get("intent_ranking") is None
    empty, hello = classifier.process([Message(data={}), *parsed(["hello"], tokenizer, featurizer)])
    assert empty.get(INTENT) is None
    assert hello.get(INTENT)[INTENT_NAME_KEY] == "greet"


def test_classifier_without_dense_features_uses_ngrams_only(storage: LocalModelStorage,
                                                            tokenizer: WhitespaceTokenizer) -> None:
    data = TrainingData([Message(data={TEXT: text, INTENT: intent})
                         for intent, texts in EXAMPLES.items() for text in texts])
    classifier = trained_classifier(storage, tokenizer.process_training_data(data))
    message, = classifier.process(tokenizer.process([Message(data={TEXT: "where is my order now"})]))
    assert message.get(INTENT)[INTENT_NAME_KEY] == "order_status"


@pytest.mark.parametrize("existing_directory", [False, True])
def test_classifier_load_from_empty_resource_is_untrained(storage: LocalModelStorage, existing_directory: bool,
                                                          tokenizer: WhitespaceTokenizer,
                                                          featurizer: SentenceEmbeddingFeaturizer) -> None:
    if existing_directory:
        with storage.write_to(Resource("clf")):
            pass
    classifier = NgramEmbeddingIntentClassifier.load(
        NgramEmbeddingIntentClassifier.get_default_config(), storage, Resource("clf"), execution_context())
    messages = parsed(["hello", "where is my parcel"], tokenizer, featurizer)
    assert classifier.process(messages) == messages
    assert all(m.get(INTENT) is None and m.get("intent_ranking") is None for m in messages)


def test_classifier_without_intent_examples_stays_untrained(storage: LocalModelStorage,
                                                            tokenizer: WhitespaceTokenizer) -> None:
    data = tokenizer.process_training_data(TrainingData([Message(data={TEXT: "no intent here"})]))
    classifier = trained_classifier(storage, data)
    assert not (storage._storage_path / "clf").exists()
    message, = classifier.process(tokenizer.process([Message(data={TEXT: "hello"})]))
    assert message.get(INTENT) is None


# --- action_validation ------------------------------------------------------------------------------------------

VALID_REPLIES: List[Any] = [
    {"events": [], "responses": [{"text": "hi"}]},
    {},
    {"events": [{"event": "slot", "name": "product", "value": "P0001"}], "responses": []},
    {"events": [{"event": "followup", "name": "action_listen"}]},
    {"responses": [{"text": "a", "buttons": [{"title": "b", "payload": "/c"}]}]},
]
INVALID_REPLIES: List[Any] = [
    {"events": "nope"},
    {"responses": "hi"},
    {"responses": [1]},
    {"events": [{"name": "product"}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [3]},
    {"events": [{"event": "slot"}, 3]},
    [],
    "reply",
]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cached validator installed on RemoteAction, Rasa's own method restored after the test."""
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    action_validation.install()
    assert RemoteAction._validate_action_result is action_validation.validate_action_result


def remote_action() -> RemoteAction:
    """A remote action without an endpoint (validation does not call it)."""
    return RemoteAction("action_test", None)


def jsonschema_verdict(reply: Any) -> bool:
    """Whether Rasa's original check, `jsonschema.validate` against the response spec, accepts the reply."""
    try:
        jsonschema.validate(reply, RemoteAction.action_response_format_spec())
        return True
    except jsonschema.ValidationError:
        return False


def installed_verdict(reply: Any) -> bool:
    """Whether the installed `RemoteAction._validate_action_result` accepts the reply."""
    try:
        return remote_action()._validate_action_result(reply)
    except jsonschema.ValidationError:
        return False


def test_install_replaces_and_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    def stand_in(self: RemoteAction, result: Dict[str, Any]) -> bool:
        return True

    original = RemoteAction._validate_action_result
    with monkeypatch.context() as patch:
        patch.setattr(RemoteAction, "_validate_action_result", stand_in)
        action_validation.install()
        action_validation.install()  # idempotent
        assert RemoteAction._validate_action_result is action_validation.validate_action_result
    assert RemoteAction._validate_action_result is original


def test_valid_reply_validates(installed: None) -> None:
    assert remote_action()._validate_action_result({"events": [], "responses": [{"text": "hi"}]}) is True


def test_invalid_reply_raises_with_rasa_hint(installed: None) -> None:
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response") as error:
        remote_action()._validate_action_result({"events": "nope"})
    assert error.value.message.startswith("'nope' is not of type 'array'")
    assert "/custom-actions" in error.value.message
    with pytest.raises(jsonschema.ValidationError) as again:
        remote_action()._validate_action_result({"events": "nope"})
    assert again.value.message == error.value.message, "the hint is not appended twice"


def test_validator_is_built_once() -> None:
    first = action_validation.response_validator()
    assert action_validation.response_validator() is first
    assert first.schema == RemoteAction.action_response_format_spec()


@pytest.mark.parametrize("reply", VALID_REPLIES + INVALID_REPLIES)
def test_verdicts_match_jsonschema_validate(installed: None, reply: Any) -> None:
    assert installed_verdict(reply) == jsonschema_verdict(reply) == (reply in VALID_REPLIES)


@pytest.mark.parametrize("reply", INVALID_REPLIES)
def test_error_message_is_jsonschemas_plus_rasa_hint(installed: None, reply: Any) -> None:
    with pytest.raises(jsonschema.ValidationError) as expected:
        jsonschema.validate(reply, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as error:
        remote_action()._validate_action_result(reply)
    assert error.value.message.startswith(expected.value.message + ". Failed to validate Action server response")
    assert list(error.value.path) == list(expected.value.path)

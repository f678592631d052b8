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

from knowledge.embeddings import BATCH_SIZE, SentenceEncoder, bundled_model_path

logger = logging.getLogger(__name__)


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

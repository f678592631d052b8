"""A Rasa NLU component that tags catalog names from the live knowledge graph as entities."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge.shop import Shop, default_shop
from knowledge.sparql import KnowledgeGraphUnavailable

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class GraphEntityMatcher(GraphComponent, EntityExtractorMixin):
    """Adds product, brand, category, colour and material entities for names the graph holds now."""

    def __init__(self, config: Dict[Text, Any], shop: Optional[Shop] = None) -> None:
        self._config = config
        self._shop = shop

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "GraphEntityMatcher":
        """A matcher on the configured knowledge graph (connected on first message)."""
        return cls(config)

    @property
    def shop(self) -> Shop:
        """The shop whose vocabulary is matched."""
        if self._shop is None:
            self._shop = default_shop()
        return self._shop

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data is annotated by hand; nothing to add."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Tag catalog names in each message, preferring them over overlapping learned entities."""
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue
            found = self.add_extractor_name(
                [{"entity": s.label, "start": s.start, "end": s.end, "value": s.text, "confidence_entity": 1.0}
                 for s in self._spans(text)]
            )
            message.set(ENTITIES, merge_entities(message.get(ENTITIES, []), found), add_to_output=True)
        return messages

    def _spans(self, text: str) -> list:
        try:
            return self.shop.tag(text)
        except KnowledgeGraphUnavailable as error:
            logger.warning("catalog names unavailable, no graph entities this time: %s", error)
            return []


def is_product_guess(entity: Dict[Text, Any]) -> bool:
    """Whether an entity is the CRF's guess at a product name (it takes "under 5" or "next 5" for a model name;
    the catalog matcher finds the real ones)."""
    return entity.get("entity") == "product" and entity.get("extractor") == "CRFEntityExtractor"


def merge_entities(learned: List[Dict[Text, Any]], matched: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """Learned entities (each span once) plus matched ones; on overlap the longer span wins, the catalog's on a tie."""
    def overlaps(a: Dict[Text, Any], b: Dict[Text, Any]) -> bool:
        return a["start"] < b["end"] and b["start"] < a["end"]

    def length(entity: Dict[Text, Any]) -> int:
        return entity["end"] - entity["start"]

    unique = list({(e["entity"], e["start"], e["end"], e.get("role")): e for e in reversed(learned)}.values())[::-1]
    kept = [
        entity for entity in unique
        if not any(overlaps(entity, m) and length(m) >= length(entity) for m in matched)
    ]
    kept_matched = [m for m in matched if not any(overlaps(m, e) and length(e) > length(m) for e in kept)]
    return sorted(kept + kept_matched, key=lambda entity: entity["start"])

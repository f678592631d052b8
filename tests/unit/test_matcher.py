"""Unit tests of knowledge.matcher (PhraseTagger) and Shop.resolve_in_text."""

from __future__ import annotations

import pytest

from knowledge.matcher import PhraseTagger, Span
from knowledge.shop import Shop
from knowledge.sparql import OxigraphStoreClient
from knowledge.vocabulary import load_vocabulary

SENTENCE = "how much are the red trailblazer 2 running shoes from stridewell"


@pytest.fixture
def tagger(memory_kg: OxigraphStoreClient) -> PhraseTagger:
    """A tagger over the demo catalog's phrases."""
    return PhraseTagger(load_vocabulary(memory_kg).phrases())


def _labels(spans: list[Span]) -> dict[str, str]:
    return {span.label: span.text for span in spans}


def test_tags_product_brand_category_and_color(tagger: PhraseTagger) -> None:
    spans = tagger.tag(SENTENCE)
    assert _labels(spans) == {
        "color": "red",
        "product": "trailblazer 2",
        "category": "running shoes",
        "brand": "stridewell",
    }
    assert [span.start for span in spans] == sorted(span.start for span in spans)
    for span in spans:
        assert SENTENCE[span.start:span.end] == span.text


def test_prefers_the_longest_span(tagger: PhraseTagger) -> None:
    spans = tagger.tag("is the trailblazer 2 gtx waterproof")
    assert [(s.label, s.text) for s in spans] == [("product", "trailblazer 2 gtx")]


def test_longest_span_wins_across_labels() -> None:
    tagger = PhraseTagger({"color": ["red"], "product": ["red wine glass"], "material": ["glass"], "brand": []})
    spans = tagger.tag("a red wine glass and a red cup")
    assert [(s.label, s.text) for s in spans] == [("product", "red wine glass"), ("color", "red")]


def test_is_case_insensitive(tagger: PhraseTagger) -> None:
    spans = tagger.tag(SENTENCE.upper())
    assert _labels(spans) == {
        "color": "RED",
        "product": "TRAILBLAZER 2",
        "category": "RUNNING SHOES",
        "brand": "STRIDEWELL",
    }


@pytest.mark.parametrize(
    "text", ["", "   ", "x" * 100_000, "🙂👟🔥", "שלום עולם", "مرحبا بالعالم", "\x00\n\t", 'x" } ; DROP ALL ; #'],
    ids=["empty", "blank", "100kB", "emoji", "hebrew", "arabic", "control", "hostile"],
)
def test_text_without_phrases(tagger: PhraseTagger, text: str) -> None:
    assert tagger.tag(text) == []


def test_phrases_between_emoji_and_rtl_text(tagger: PhraseTagger) -> None:
    text = "👟🔥 مرحبا red שלום stridewell 🙂"
    spans = tagger.tag(text)
    assert _labels(spans) == {"color": "red", "brand": "stridewell"}
    for span in spans:
        assert text[span.start:span.end] == span.text


def test_long_text_is_tagged_from_its_start(tagger: PhraseTagger) -> None:
    text = "stridewell " + "blah " * 20_000
    spans = tagger.tag(text)
    assert spans[0] == Span("brand", 0, 10, "stridewell")


def test_shop_resolves_a_product_named_in_text(memory_kg: OxigraphStoreClient) -> None:
    shop = Shop(memory_kg)
    resolution = shop.resolve_in_text("how much is the trailblazer 2 gtx?")
    assert resolution.best is not None
    assert resolution.best.product_id == "P0001"
    assert not resolution.ambiguous


def test_shop_resolve_in_text_without_product(memory_kg: OxigraphStoreClient) -> None:
    shop = Shop(memory_kg)
    assert shop.resolve_in_text("do you sell red stuff from stridewell?").matches == ()
    assert shop.resolve_in_text("").matches == ()


def test_phrases_match_only_at_word_boundaries() -> None:
    tagger = PhraseTagger({"color": ["red"], "product": ["trail 2"]})
    assert tagger.tag("a redwood shelf or the trail 20") == []
    assert [s.text for s in tagger.tag("RED, or trail 2!")] == ["RED", "trail 2"]


def test_phrases_added_and_removed_later_are_followed() -> None:
    tagger = PhraseTagger({"product": ["trail 2"], "brand": ["stridewell"]})
    tagger.add("product", "Quasar Kettle")
    assert [(s.label, s.text) for s in tagger.tag("a quasar kettle by stridewell")] == [
        ("product", "quasar kettle"), ("brand", "stridewell")]
    tagger.remove("product", "trail 2")
    tagger.remove("product", "quasar kettle")
    assert [s.label for s in tagger.tag("trail 2 or a quasar kettle by stridewell")] == ["brand"]


def test_many_additions_rebuild_the_automaton() -> None:
    from knowledge.matcher import REBUILD_AT

    tagger = PhraseTagger({"product": []})
    for number in range(REBUILD_AT + 10):
        tagger.add("product", f"widget {number}")
    assert [s.text for s in tagger.tag("widget 7 and widget 5009")] == ["widget 7", "widget 5009"]

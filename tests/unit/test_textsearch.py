"""Unit tests of knowledge.textsearch: descriptive search over the products' own text."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

from knowledge.refinement import SearchState
from knowledge.shop import Shop
from knowledge.sparql import OxigraphStoreClient
from knowledge.textsearch import ProductTextIndex, index_catalog, lexical_overlap, product_texts, rank


class CountingEncoder:
    """A deterministic stand-in encoder (a bag of letters) that counts the texts it embeds."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        rows = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in zip(rows, texts):
            for char in text.lower():
                row[ord(char) % 384] += 1
            row /= max(float(np.linalg.norm(row)), 1e-9)
        return rows


@pytest.mark.parametrize(
    ("words", "text", "share"),
    [
        (["waterproof"], "Fully waterproof shell for hiking.", 1.0),
        (["hiking"], "For hikes and hikers", 1.0),
        (["hiking"], "For walking", 0.0),
        (["hiking", "rain"], "For hiking in heavy rain.", 1.0),
        (["swimming"], "Swim-proof fitness tracking", 1.0),
        (["noise cancelling"], "Active noise cancelling blocks out engines", 1.0),
        (["gift", "runner"], "for competitive runners", 0.5),
        ([], "anything", 0.0),
    ],
)
def test_lexical_overlap(words: list[str], text: str, share: float) -> None:
    assert lexical_overlap(words, text) == share


def test_rank_by_score_keeps_ties_in_order() -> None:
    assert rank(["a", "b", "c", "d"], {"a": 0.1, "b": 0.5, "c": 0.5, "d": 0.9}, keep_order=False) == ["d", "b", "c", "a"]


def test_rank_with_an_explicit_sort_keeps_only_the_relevant_in_their_order() -> None:
    ids = ["cheap", "mid", "dear"]
    assert rank(ids, {"cheap": 0.30, "mid": 0.55, "dear": 0.60}, keep_order=True) == ["mid", "dear"]


def test_rank_without_scores_is_the_given_order() -> None:
    assert rank(["a", "b"], {}, keep_order=False) == ["a", "b"]


def test_index_embeds_each_text_once_and_saves(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    index = ProductTextIndex(encoder, tmp_path / "vectors.npz")
    first = index.vectors(["red mug", "blue mug", "red mug"])
    assert first.shape == (3, 384) and np.allclose(first[0], first[2])
    assert encoder.encoded == ["red mug", "blue mug"]
    index.vectors(["blue mug"])
    assert encoder.encoded == ["red mug", "blue mug"]
    index.save()
    again_encoder = CountingEncoder()
    again = ProductTextIndex(again_encoder, tmp_path / "vectors.npz")
    assert np.allclose(again.vectors(["blue mug"]), first[1]) and again_encoder.encoded == []
    again.vectors(["green mug"])  # an edited text: only it is embedded
    assert again_encoder.encoded == ["green mug"]


def test_unreadable_index_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    path.write_bytes(b"not numpy at all")
    encoder = CountingEncoder()
    assert ProductTextIndex(encoder, path).vectors(["mug"]).shape == (1, 384)
    assert encoder.encoded == ["mug"]


def test_product_texts_come_from_the_graph(memory_kg: OxigraphStoreClient) -> None:
    texts = product_texts(memory_kg, ["P0001", "P9999"])
    assert list(texts) == ["P0001"]
    assert texts["P0001"].startswith("Trailblazer 2 GTX Running Shoe. A responsive running shoe")
    assert "mesh" in texts["P0001"] and "Running Shoes" in texts["P0001"]


def test_index_catalog(memory_kg: OxigraphStoreClient, tmp_path: Path) -> None:
    encoder = CountingEncoder()
    index = ProductTextIndex(encoder, tmp_path / "vectors.npz")
    assert index_catalog(memory_kg, index) == (321, 321)
    assert index_catalog(memory_kg, index) == (321, 0)
    assert (tmp_path / "vectors.npz").exists()


@pytest.fixture(scope="module")
def real_index() -> ProductTextIndex:
    """An index on the real sentence encoder (all-MiniLM-L6-v2)."""
    return ProductTextIndex()


@pytest.mark.parametrize(
    ("category", "words", "expected"),
    [
        ("Jackets", ("waterproof", "hiking"), ("Rain", "Softshell")),
        ("Headphones", ("noise cancelling",), ("ANC",)),
        ("Backpacks", ("laptop", "commuting"), ("Laptop",)),
        ("Coffee Makers", ("lattes",), ("Espresso",)),
        ("Sunglasses", ("glare", "driving"), ("Polarized",)),
        ("Yoga Mats", ("joints", "beginners"), ("Thick",)),
    ],
)
def test_descriptive_search_ranks_by_the_products_text(
    memory_kg: OxigraphStoreClient, real_index: ProductTextIndex, category: str, words: tuple, expected: tuple
) -> None:
    shop = Shop(memory_kg, text_index=real_index)
    products, state = shop.find(SearchState(category=category, keywords=words))
    assert state.keywords == words
    assert len(products) == 5
    assert all(p.category == category for p in products)
    assert all(any(variant in p.name for variant in expected) for p in products[:3]), [p.name for p in products]


def test_words_that_say_nothing_are_dropped(memory_kg: OxigraphStoreClient, real_index: ProductTextIndex) -> None:
    shop = Shop(memory_kg, text_index=real_index)
    plain, _ = shop.find(SearchState(category="Jackets"))
    products, state = shop.find(SearchState(category="Jackets", keywords=("browsing", "today")))
    assert state.keywords == ()
    assert [p.id for p in products] == [p.id for p in plain]


def test_descriptive_search_with_an_explicit_sort(memory_kg: OxigraphStoreClient, real_index: ProductTextIndex) -> None:
    shop = Shop(memory_kg, text_index=real_index)
    products, _ = shop.find(SearchState(category="Headphones", keywords=("noise cancelling",), sort="price_asc"))
    assert products and all("ANC" in p.name for p in products)
    assert [p.price for p in products] == sorted(p.price for p in products)


def test_processes_sharing_the_file_merge_rather_than_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import knowledge.textsearch as textsearch

    monkeypatch.setattr(textsearch, "FOLLOW_SECONDS", 0.0)
    path = tmp_path / "vectors.npz"
    server, job = ProductTextIndex(CountingEncoder(), path), ProductTextIndex(CountingEncoder(), path)
    server.vectors(["red mug"])  # the action server encodes one text on first use
    job.vectors(["blue mug", "green mug"])  # a background job encodes others
    job.save()
    server.save()  # saved after the job: keeps the job's vectors
    fresh_encoder = CountingEncoder()
    fresh = ProductTextIndex(fresh_encoder, path)
    fresh.vectors(["red mug", "blue mug", "green mug"])
    assert fresh_encoder.encoded == [] and len(fresh) == 3
    more = CountingEncoder()
    follower = ProductTextIndex(more, path)
    follower.vectors(["red mug"])
    job.vectors(["black mug"])
    job.save()
    follower.vectors(["black mug"])  # saved by the other process since: taken from the file, not encoded
    assert more.encoded == []

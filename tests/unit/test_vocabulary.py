"""Unit tests of knowledge.vocabulary: name resolution and facet word lookup."""

from __future__ import annotations

import pytest

from knowledge.sparql import OxigraphStoreClient
from knowledge.vocabulary import Resolution, Vocabulary, load_vocabulary, normalize

HOSTILE = 'x" } ; DROP ALL ; #'


@pytest.fixture
def vocab(memory_kg: OxigraphStoreClient) -> Vocabulary:
    """The demo catalog's vocabulary."""
    return load_vocabulary(memory_kg)


def _assert_ranked(resolution: Resolution) -> None:
    scores = [match.score for match in resolution.matches]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mention", ["Trailblazer 2 GTX Running Shoe", "trailblazer 2", "TRAILBLAZER 2 GTX!", "p0001"])
def test_exact_names_and_ids_resolve_to_the_hero(vocab: Vocabulary, mention: str) -> None:
    resolution = vocab.resolve(mention)
    assert not resolution.ambiguous
    assert resolution.best is not None
    assert resolution.best.product_id == "P0001"
    assert resolution.best.name == "Trailblazer 2 GTX Running Shoe"
    assert [m.product_id for m in resolution.matches] == ["P0001"]


def test_every_full_name_resolves_to_its_product_alone(vocab: Vocabulary) -> None:
    """Names whose words are all in another name ("Drip 1 Drip Coffee Maker", "Crema 1 Drip Coffee Maker") too."""
    wrong = {name: [m.product_id for m in vocab.resolve(name).matches]
             for pid, name in vocab.product_names.items() if [m.product_id for m in vocab.resolve(name).matches] != [pid]}
    assert len(vocab.product_names) > 300 and wrong == {}


def test_partial_name_is_ambiguous_between_trailblazers(vocab: Vocabulary) -> None:
    resolution = vocab.resolve("the trailblazer")
    assert resolution.ambiguous
    assert resolution.best is None
    assert len(resolution.matches) >= 3
    assert all(match.name.startswith("Trailblazer ") for match in resolution.matches)
    assert "P0001" in [match.product_id for match in resolution.matches]
    assert len({match.product_id for match in resolution.matches}) == len(resolution.matches)
    _assert_ranked(resolution)


def test_typo_finds_trailblazers(vocab: Vocabulary) -> None:
    resolution = vocab.resolve("trailblazr")
    assert len(resolution.matches) >= 3
    assert all(match.name.startswith("Trailblazer ") for match in resolution.matches[:3])
    _assert_ranked(resolution)


def test_typo_with_version_ranks_the_hero_first(vocab: Vocabulary) -> None:
    resolution = vocab.resolve("trailblazr 2")
    assert resolution.matches[0].product_id == "P0001"
    assert resolution.matches[0].score > resolution.matches[1].score
    _assert_ranked(resolution)


@pytest.mark.parametrize(
    "mention",
    ["qwxzplk vbnmrt", "", "   \t\n", "x" * 100_000, HOSTILE, "!!!???", "the", "🙂🙃"],
    ids=["nonsense", "empty", "whitespace", "100kB", "hostile", "punctuation", "stopword", "emoji"],
)
def test_no_match_without_error(vocab: Vocabulary, mention: str) -> None:
    resolution = vocab.resolve(mention)
    assert resolution.matches == ()
    assert resolution.best is None
    assert not resolution.ambiguous
    assert resolution.mention == mention


def test_resolve_respects_limit(vocab: Vocabulary) -> None:
    assert len(vocab.resolve("trailblazer", limit=2).matches) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Trailblazer 2!", "trailblazer 2"),
        ("  a   T-Shirt?? ", "t-shirt"),
        ("this one of the jackets", "jackets"),
        ("the the the", ""),
        ("Café ÜBER", "café über"),
        ("", ""),
        ('x" } ; DROP', "x drop"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_facet_words(vocab: Vocabulary) -> None:
    assert vocab.category("sneakers") == "Running Shoes"
    assert vocab.category("Running Shoes") == "Running Shoes"
    assert vocab.category("rucksack") == "Backpacks"
    assert vocab.category("jacket") == "Jackets"
    assert vocab.category("spaceships") is None
    assert vocab.brand("stridewell") == "Stridewell"
    assert vocab.brand("STRIDEWELL") == "Stridewell"
    assert vocab.brand("urban thread") == "Urban Thread"
    assert vocab.brand("nike") is None
    assert vocab.color("Red") == "red"
    assert vocab.color("reds") == "red"
    assert vocab.color("chartreuse") is None
    assert vocab.material("Mesh") == "mesh"
    assert vocab.material("stainless steel") == "stainless steel"
    assert vocab.material("kryptonite") is None
    assert vocab.size("xl") == "XL"
    assert vocab.size("banana") is None
    for lookup in (vocab.category, vocab.brand, vocab.color, vocab.material):
        assert lookup("") is None
        assert lookup(HOSTILE) is None


def test_vocabulary_holds_the_catalog(vocab: Vocabulary) -> None:
    assert len(vocab.product_names) >= 300
    assert vocab.product_names["P0001"] == "Trailblazer 2 GTX Running Shoe"
    assert len(set(vocab.brands.values())) >= 25
    assert len(set(vocab.categories.values())) >= 8
    assert {"red", "black"} <= vocab.colors
    phrases = vocab.phrases()
    assert "trailblazer 2 gtx" in phrases["product"]
    assert "stridewell" in phrases["brand"]
    assert "sneakers" in phrases["category"]


def test_partial_mentions_rank_as_a_full_scoring_would_on_a_larger_catalog() -> None:
    """Scoring stops at the widths that cannot reach the top five: the top five are those of scoring all."""
    import random

    from knowledge.synthetic import generate_catalog

    products = generate_catalog(3_000)
    vocab = Vocabulary()
    for product in products:
        vocab.set_product(product.id, product.name, product.alt_names)
    rng = random.Random(5)
    for product in rng.sample(products, 60):
        words = product.name.lower().split()
        for mention in (f"the {words[0]}", " ".join(words[:2]), f"{words[0]} {words[-1][:4]}", words[-1]):
            top = vocab.resolve(mention)
            everything = vocab.resolve(mention, limit=100_000)
            assert top.matches == everything.matches[:5], mention
            assert top.ambiguous == everything.ambiguous

"""The evaluation and development sets stay apart from training, and are as big and varied as promised."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.nlu_evaluation import (
    DEV_DIR,
    EVAL_DIR,
    TRAINING_DIR,
    load_examples,
    normalise,
    training_domains,
    training_texts,
)


@pytest.fixture(scope="module")
def training() -> dict[str, str]:
    return training_texts(TRAINING_DIR)


@pytest.fixture(scope="module")
def evaluation() -> list:
    return load_examples(EVAL_DIR)


@pytest.fixture(scope="module")
def development() -> list:
    return load_examples(DEV_DIR)


def test_normalise_ignores_case_punctuation_spacing_and_annotations() -> None:
    assert normalise("Where's  my order [SB-100001](order_id)?") == normalise("where s my order sb 100001")
    assert normalise('recommend [jackets](category) under [$150]{"entity": "price", "role": "max"}') == \
        "recommend jackets under 150"


def test_no_evaluation_line_is_trained_on(training: dict[str, str], evaluation: list) -> None:
    leaked = sorted({e.text for e in evaluation if normalise(e.text) in training})
    assert not leaked, f"data/eval lines found in data/nlu: {leaked}"


def test_no_development_line_is_trained_on(training: dict[str, str], development: list) -> None:
    leaked = sorted({e.text for e in development if normalise(e.text) in training})
    assert not leaked, f"data/dev lines found in data/nlu: {leaked}"


def test_development_and_evaluation_sets_do_not_share_lines(evaluation: list, development: list) -> None:
    shared = {normalise(e.text) for e in evaluation} & {normalise(e.text) for e in development}
    assert not shared, f"lines in both data/eval and data/dev: {sorted(shared)}"


def test_evaluation_set_is_as_big_as_promised(evaluation: list) -> None:
    groups = Counter(e.group for e in evaluation)
    assert groups["service"] >= 600
    assert groups["out_of_scope"] >= 500
    assert groups["smalltalk"] >= 100
    assert len({e.domain for e in evaluation if e.group == "out_of_scope"} - {None}) >= 15


def test_every_service_intent_is_evaluated_evenly(evaluation: list) -> None:
    service = Counter(e.intent for e in evaluation if e.group == "service")
    assert len(service) == 11
    assert min(service.values()) >= 50


def test_some_evaluation_domains_have_no_training_example(evaluation: list) -> None:
    unseen = {e.domain for e in evaluation if e.group == "out_of_scope"} - training_domains(TRAINING_DIR)
    assert len(unseen) >= 5, "out-of-scope recall on domains never trained on needs such domains"


def test_every_out_of_scope_example_names_its_domain(evaluation: list, development: list) -> None:
    assert all(e.domain for e in evaluation + development if e.group == "out_of_scope")

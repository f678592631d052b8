"""Unit tests of knowledge.bulk_loading on the in-process store (the Graph Store path is tested on a real
server by tests/integration/test_catalog_scale.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph

from knowledge.bulk_loading import content_type, load_file, sample_products, validate_sample
from knowledge.catalog_state import read_state
from knowledge.products import count_products, count_triples
from knowledge.sparql import OxigraphStoreClient


@pytest.fixture
def ntriples(catalog_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "catalog.nt"
    path.write_text(Graph().parse(str(catalog_file), format="turtle").serialize(format="nt"), encoding="utf-8")
    return path


def test_ntriples_go_in_as_chunked_updates_and_replace_the_graph(ntriples: Path, catalog_file: Path) -> None:
    kg = OxigraphStoreClient()
    kg.update("INSERT DATA { <urn:old> <urn:p> 'left over' }")
    seen = []
    load_file(kg, ntriples, progress=lambda done, total: seen.append((done, total)))
    assert count_triples(kg) == len(Graph().parse(str(catalog_file), format="turtle"))
    assert not kg.ask("ASK { <urn:old> ?p ?o }")
    assert seen and seen[-1][0] == seen[-1][1] == ntriples.stat().st_size
    first = read_state(kg).load_id
    load_file(kg, catalog_file, replace=False)  # Turtle, appended: the same triples again
    assert count_products(kg) == 321 and read_state(kg).load_id not in (None, first)


def test_unknown_formats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Turtle"):
        content_type(tmp_path / "catalog.json")


def test_a_sample_spread_over_the_catalog_is_validated(memory_kg: OxigraphStoreClient) -> None:
    sample = sample_products(memory_kg, count=40, seed=1)
    assert 20 <= len(sample) <= 40 and len({str(p) for p in sample}) == len(sample)
    checked, report = validate_sample(memory_kg, count=40, seed=1)
    assert report.conforms and checked == len(sample)
    memory_kg.update("PREFIX shop: <https://shop.example/ns#> DELETE WHERE { ?p shop:stockLevel ?n }")
    checked, report = validate_sample(memory_kg, count=40, seed=1)
    assert not report.conforms and any("stock level" in problem for problem in report.problems)

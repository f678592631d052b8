"""SHACL validation of product data against the shapes in ``shapes.ttl``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rdflib import Graph

SHAPES_FILE = Path(__file__).with_name("shapes.ttl")


@dataclass(frozen=True)
class ValidationReport:
    """Whether data conforms to the shapes, and what is wrong if not."""

    conforms: bool
    problems: tuple[str, ...]


@lru_cache(maxsize=1)
def shapes() -> Graph:
    """The SHACL shapes graph."""
    return Graph().parse(SHAPES_FILE, format="turtle")


def validate(data: Graph) -> ValidationReport:
    """Validate a data graph against the shapes; each problem names the node, property and rule."""
    from pyshacl import validate as shacl_validate

    conforms, report, _ = shacl_validate(data, shacl_graph=shapes(), inference="none", advanced=False)
    if conforms:
        return ValidationReport(True, ())
    return ValidationReport(False, tuple(_problems(report)))


def _problems(report: Graph) -> list[str]:
    rows = report.query(
        """PREFIX sh: <http://www.w3.org/ns/shacl#>
        SELECT ?focus ?path ?message ?value WHERE {
          ?r a sh:ValidationResult ; sh:focusNode ?focus .
          OPTIONAL { ?r sh:resultPath ?path } OPTIONAL { ?r sh:resultMessage ?message }
          OPTIONAL { ?r sh:value ?value } }"""
    )
    problems = []
    for focus, path, message, value in rows:
        where = f"{focus.n3(report.namespace_manager)}"
        if path is not None:
            where += f" {path.n3(report.namespace_manager)}"
        found = f" (found {value.n3(report.namespace_manager)})" if value is not None else ""
        problems.append(f"{where}: {message}{found}")
    return sorted(set(problems))

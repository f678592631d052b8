"""Moving RDF between files and a SPARQL endpoint: load, export and read back as a graph."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from rdflib import Graph

from knowledge.namespaces import PREFIXES
from knowledge.sparql import SparqlEndpoint, render

CHUNK_TRIPLES = 1_000  # Virtuoso's stock ini refuses an INSERT DATA of more than about 1,300 triples


def read_turtle(path: Path) -> Graph:
    """Parse a Turtle file into an rdflib graph."""
    return Graph().parse(str(path), format="turtle")


def load_graph(
    kg: SparqlEndpoint,
    graph: Graph,
    replace: bool = True,
    progress: Optional[Callable[[int, int], None]] = None,
) -> int:
    """Write a graph's triples into the endpoint's default graph (clearing it first); return the count."""
    lines = graph.serialize(format="nt").splitlines()
    lines = [line for line in lines if line.strip()]
    if replace:
        kg.update("CLEAR DEFAULT")
    for start in range(0, len(lines), CHUNK_TRIPLES):
        chunk = "\n".join(lines[start:start + CHUNK_TRIPLES])
        kg.update(f"INSERT DATA {{\n{chunk}\n}}")
        if progress:
            progress(min(start + CHUNK_TRIPLES, len(lines)), len(lines))
    return len(lines)


def dump_graph(kg: SparqlEndpoint) -> Graph:
    """Every triple of the endpoint's default graph, as an rdflib graph."""
    graph = Graph()
    for name, ns in PREFIXES.items():
        graph.bind(name, ns, override=True)
    for row in kg.select(render("SELECT ?s ?p ?o WHERE { ?s ?p ?o }")):
        graph.add((row["s"], row["p"], row["o"]))
    return graph

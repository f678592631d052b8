"""Moving RDF between files and a SPARQL endpoint: load, export and read back as a graph."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from rdflib import Graph

from knowledge.catalog_state import load_marker, new_load_id
from knowledge.namespaces import PREFIXES
from knowledge.sparql import SparqlEndpoint, render

CHUNK_TRIPLES = 1_000  # per INSERT DATA: Virtuoso's stock ini refuses one of more than about 1,300 triples
CHUNKS_PER_REQUEST = 25  # operations per update request; the demo store goes in one request, atomically


def read_turtle(path: Path) -> Graph:
    """Parse a Turtle file into an rdflib graph."""
    return Graph().parse(str(path), format="turtle")


def load_graph(
    kg: SparqlEndpoint,
    graph: Graph,
    replace: bool = True,
    progress: Optional[Callable[[int, int], None]] = None,
) -> int:
    """Write a graph's triples into the endpoint's default graph (clearing it first); return the count.

    The graph's catalog state gets a new load id (``knowledge.catalog_state``), so every process following
    the catalog reads it again."""
    lines = [line for line in graph.serialize(format="nt").splitlines() if line.strip()]
    operations = ["CLEAR DEFAULT"] if replace else []
    operations += ["INSERT DATA {\n" + "\n".join(lines[start:start + CHUNK_TRIPLES]) + "\n}"
                   for start in range(0, len(lines), CHUNK_TRIPLES)]
    done = 0
    for start in range(0, len(operations), CHUNKS_PER_REQUEST):
        batch = operations[start:start + CHUNKS_PER_REQUEST]
        kg.update(" ;\n".join(batch))  # one request is one transaction: readers never see half a batch
        done = min(len(lines), done + CHUNK_TRIPLES * sum(op.startswith("INSERT") for op in batch))
        if progress:
            progress(done, len(lines))
    kg.update(load_marker(new_load_id()))  # processes holding the catalog's names read them again
    return len(lines)


def dump_graph(kg: SparqlEndpoint) -> Graph:
    """Every catalog triple of the endpoint's default graph (not its change counter), as an rdflib graph."""
    graph = Graph()
    for name, ns in PREFIXES.items():
        graph.bind(name, ns, override=True)
    for row in kg.select(render("SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(?s != shop:catalogState) }")):
        graph.add((row["s"], row["p"], row["o"]))
    return graph

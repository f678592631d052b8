"""Loading a catalog file of any size: streamed to the store's bulk interface, then checked on a sample.

``load_file`` sends Turtle, N-Triples or N-Quads to the SPARQL server without parsing it in Python:

* to the server's Graph Store Protocol endpoint (``SPARQL_STORE_URL``) in one streamed POST; on Oxigraph
  with ``no_transaction``, which makes the server use its bulk loader (a 100,000-product catalog in about a
  minute instead of the minutes thousands of update transactions take, and a store that opens fast);
* to servers without one, as SPARQL ``INSERT DATA`` requests of ``CHUNK_TRIPLES`` read line by line from
  N-Triples (Turtle is parsed by rdflib first: give large catalogs as N-Triples there).

Then the graph's load id is replaced (``knowledge.catalog_state``), so the shop's processes read the new
names, and a sample of products is validated against the SHACL shapes (``validate_sample``).

``load_file_atomically`` is the same load for a shop that stays open: the file goes into a staging named graph
(``STAGING``) that no reader looks at, then one SPARQL update (one transaction) moves it over the default graph
and replaces the load id. Readers see the old catalog until that update commits, then the whole new one.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Optional

from urllib.parse import quote

from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from knowledge.catalog_state import STATE_NODE, load_marker, new_load_id, without_prefixes
from knowledge.loading import CHUNK_TRIPLES, CHUNKS_PER_REQUEST, load_graph, read_turtle
from knowledge.sparql import HttpSparqlClient, SparqlEndpoint, render
from knowledge.validation import ValidationReport, validate

FORMATS = {".nt": "application/n-triples", ".ttl": "text/turtle", ".nq": "application/n-quads"}
BLOCK_BYTES = 1 << 20  # bytes per block of a streamed upload
SAMPLE_PRODUCTS = 200  # products whose documents a load validates
STAGING = URIRef("urn:shopbot:catalog-staging")  # the named graph a catalog is staged in before it replaces the default

Progress = Callable[[int, int], None]


def content_type(path: Path) -> str:
    """The media type of an RDF file, from its suffix (ValueError for an unknown one)."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path.name}: give a Turtle (.ttl), N-Triples (.nt) or N-Quads (.nq) file") from None


def _blocks(path: Path, progress: Optional[Progress]) -> Iterator[bytes]:
    total = path.stat().st_size
    done = 0
    with open(path, "rb") as source:
        while block := source.read(BLOCK_BYTES):
            done += len(block)
            if progress:
                progress(done, total)
            yield block


def post_to_store(kg: HttpSparqlClient, store_url: str, path: Path, progress: Optional[Progress] = None,
                  timeout: float = 3600.0, graph: Optional[URIRef] = None) -> None:
    """Stream a file into the default graph (or the named ``graph``) through the Graph Store Protocol (Oxigraph's
    bulk loader)."""
    kind = content_type(path)
    if kind == "application/n-quads":
        target = ""
    else:
        target = f"graph={quote(str(graph), safe='')}&" if graph is not None else "default&"
    response = kg.session.post(f"{store_url}?{target}no_transaction", data=_blocks(path, progress),
                               headers={"Content-Type": kind}, timeout=timeout, auth=kg.auth)
    if response.status_code >= 400:
        raise ValueError(f"the store refused {path.name}: {response.status_code} {response.text[:500]}")


def _ntriples_batches(path: Path) -> Iterator[list[str]]:
    batch: list[str] = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                batch.append(line)
                if len(batch) >= CHUNK_TRIPLES:
                    yield batch
                    batch = []
    if batch:
        yield batch


def insert_ntriples(kg: SparqlEndpoint, path: Path, progress: Optional[Progress] = None,
                    graph: Optional[URIRef] = None) -> None:
    """Write an N-Triples file into the default graph (or the named ``graph``) in ``INSERT DATA`` chunks, read
    line by line."""
    total = path.stat().st_size
    done = 0
    operations: list[str] = []
    opening, closing = (f"INSERT DATA {{ GRAPH <{graph}> {{\n", "\n} }") if graph is not None else ("INSERT DATA {\n", "\n}")
    for batch in _ntriples_batches(path):
        operations.append(opening + "\n".join(batch) + closing)
        done += sum(len(line.encode()) + 1 for line in batch)
        if len(operations) >= CHUNKS_PER_REQUEST:
            kg.update(" ;\n".join(operations))
            operations = []
            if progress:
                progress(min(done, total), total)
    if operations:
        kg.update(" ;\n".join(operations))
    if progress:
        progress(total, total)


def load_file(kg: SparqlEndpoint, path: Path, store_url: str = "", replace: bool = True,
              progress: Optional[Progress] = None) -> None:
    """Load an RDF file into the endpoint's default graph (replacing it unless ``replace`` is false).

    With a Graph Store endpoint the file is streamed to it; otherwise it goes in as SPARQL updates.
    Readers see the catalog empty (and, with ``INSERT DATA`` chunks, partly loaded) while it loads; for a shop that
    stays open see ``load_file_atomically`` (and ``shopbot kg load --new-store`` for the local Oxigraph server).
    """
    kind = content_type(path)
    if replace:
        kg.update("CLEAR DEFAULT")
    if store_url and isinstance(kg, HttpSparqlClient):
        post_to_store(kg, store_url, path, progress)
    elif kind == "application/n-triples":
        insert_ntriples(kg, path, progress)
    elif kind == "text/turtle":
        load_graph(kg, read_turtle(path), replace=False,
                   progress=lambda done, total: progress(done, total) if progress else None)
    else:
        raise ValueError("N-Quads need a Graph Store endpoint (SPARQL_STORE_URL)")
    kg.update(load_marker(new_load_id()))


def sample_products(kg: SparqlEndpoint, count: int = SAMPLE_PRODUCTS, seed: Optional[int] = None) -> list[URIRef]:
    """Up to ``count`` products spread over the whole catalog (a few LIMIT/OFFSET reads, not a full list)."""
    rows = kg.select(render("SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Product }"))
    total = int(rows[0]["n"]) if rows else 0
    if total <= count:
        return [row["p"] for row in kg.select(render("SELECT ?p WHERE { ?p a schema:Product }"))]
    rng = random.Random(seed)
    found: set[URIRef] = set()
    for offset in sorted(rng.sample(range(total), count // 10)):
        found |= {row["p"] for row in kg.select(render(f"SELECT ?p WHERE {{ ?p a schema:Product }} OFFSET {offset} LIMIT 10"))}
    return sorted(found, key=str)


def validate_sample(kg: SparqlEndpoint, count: int = SAMPLE_PRODUCTS, seed: Optional[int] = None) -> tuple[int, ValidationReport]:
    """SHACL validation of a sample of products' documents, with the brands and categories they point at."""
    from knowledge.editing.documents import documents, is_product_iri, types_of

    products = sample_products(kg, count, seed)
    graph = Graph()
    for document in documents(kg, products).values():
        for triple in document.triples:
            graph.add(triple)
    nodes = sorted({o for _, p, o in graph if isinstance(o, URIRef) and p != RDF.type and not is_product_iri(o)}, key=str)
    for row in kg.select(render("SELECT ?s ?p ?o WHERE { VALUES ?s { $nodes } ?s ?p ?o }", nodes=nodes)) if nodes else []:
        graph.add((row["s"], row["p"], row["o"]))
    objects = {o for _, p, o in graph if isinstance(o, URIRef) and p != RDF.type}
    for triple in types_of(kg, objects):
        graph.add(triple)
    return len(products), validate(graph)


def load_file_atomically(kg: SparqlEndpoint, path: Path, store_url: str = "",
                         progress: Optional[Progress] = None) -> None:
    """Replace the default graph by an RDF file in one transaction: staged in a named graph first, so readers see
    the old catalog until the new one is whole (the staff change counter is kept, the load id replaced)."""
    kind = content_type(path)
    if kind == "application/n-quads":
        raise ValueError("N-Quads name their own graphs: load them without --atomic")
    kg.update(f"DROP SILENT GRAPH <{STAGING}>")
    if store_url and isinstance(kg, HttpSparqlClient):
        post_to_store(kg, store_url, path, progress, graph=STAGING)
    elif kind == "application/n-triples":
        insert_ntriples(kg, path, progress, graph=STAGING)
    else:
        with tempfile.TemporaryDirectory(prefix="shopbot-load-") as folder:  # Turtle: parsed once, as N-Triples
            lines = Path(folder) / "catalog.nt"
            read_turtle(path).serialize(destination=str(lines), format="nt", encoding="utf-8")
            insert_ntriples(kg, lines, progress, graph=STAGING)
    kg.update(swap_update(STAGING, new_load_id()))


def swap_update(staged: URIRef, load_id: str) -> str:
    """One update request that moves a staged graph over the default graph, keeping the staff change counter."""
    keep = render("INSERT { GRAPH $staged { $state shop:lastChange ?change } } "
                  "WHERE { $state shop:lastChange ?change }", staged=staged, state=STATE_NODE)
    return " ;\n".join([keep, f"MOVE SILENT GRAPH <{staged}> TO DEFAULT", without_prefixes(load_marker(load_id))])

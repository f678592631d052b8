"""Documents: the unit staff edit and versions are kept for.

The document of a product is every triple whose subject is the product or a node it owns: its offer
(``prod:P0001-offer``, the object of ``schema:offers``, holding ``schema:price`` and
``schema:priceCurrency``) and its rating (``prod:P0001-rating``, the object of ``schema:aggregateRating``).
Any other subject (a brand, a category, a policy) is a document of its own triples. A document's
version is a short hash of its sorted N-Triples: it changes whenever any of its triples does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping, NamedTuple, Union

from rdflib import URIRef
from rdflib.namespace import RDF

from knowledge.editing.terms import Triple, compact, parse_subject, version_of
from knowledge.namespaces import PRODUCT, SCHEMA, is_product_id, product_id_of
from knowledge.sparql import SparqlEndpoint, render

#: Predicates whose object is a node owned by the subject (its triples belong to the subject's document).
OWNING_PREDICATES = (SCHEMA.offers, SCHEMA.aggregateRating)
#: Predicates that live on a product's offer: ``set`` of these on a product goes to its offer node.
OFFER_PREDICATES = (SCHEMA.price, SCHEMA.priceCurrency)

SubjectLike = Union[str, URIRef]


class Document(NamedTuple):
    """The triples of one document as the graph holds them now, and their version."""

    triples: frozenset[Triple]
    version: str


def as_subject(subject: SubjectLike) -> URIRef:
    """A subject given as text (``P0001``, ``prod:P0001``, ``<iri>``) or as an IRI."""
    return subject if isinstance(subject, URIRef) else parse_subject(subject)


def doc_key(root: URIRef) -> str:
    """The key of a document in version maps and messages, such as ``"prod:P0001"``."""
    return compact(root)


def is_product_iri(iri: URIRef) -> bool:
    """Whether an IRI names a product, such as ``prod:P0001``."""
    text = str(iri)
    return text.startswith(str(PRODUCT)) and is_product_id(text[len(str(PRODUCT)):])


def offer_iri(product: URIRef) -> URIRef:
    """The conventional offer node of a product: ``prod:P0001`` -> ``prod:P0001-offer``."""
    return URIRef(f"{product}-offer")


def _rows(values: Iterable[URIRef]) -> list[URIRef]:
    return sorted(set(values), key=str)


def owners(kg: SparqlEndpoint, nodes: Iterable[URIRef], added: Iterable[Triple] = ()) -> dict[URIRef, set[URIRef]]:
    """The subjects owning each node (through schema:offers / schema:aggregateRating), in the graph or ``added``."""
    nodes = _rows(nodes)
    found: dict[URIRef, set[URIRef]] = defaultdict(set)
    if nodes:
        query = ("SELECT ?node ?owner WHERE { VALUES ?node { $nodes } "
                 "?owner schema:offers|schema:aggregateRating ?node }")
        for row in kg.select(render(query, nodes=nodes)):
            found[row["node"]].add(row["owner"])
    wanted = set(nodes)
    for s, p, o in added:
        if p in OWNING_PREDICATES and o in wanted:
            found[o].add(s)
    return dict(found)


def roots_of(kg: SparqlEndpoint, subjects: Iterable[URIRef], added: Iterable[Triple] = ()) -> dict[URIRef, frozenset[URIRef]]:
    """The documents (their root subjects) each subject's triples belong to."""
    subjects = _rows(subjects)
    owned = owners(kg, subjects, added)
    return {s: frozenset(owned.get(s) or {s}) for s in subjects}


def documents(kg: SparqlEndpoint, roots: Iterable[URIRef]) -> dict[URIRef, Document]:
    """The current document of each root subject (an empty document if the graph holds nothing about it)."""
    roots = _rows(roots)
    triples: dict[URIRef, set[Triple]] = {root: set() for root in roots}
    if roots:
        query = (
            "SELECT ?root ?s ?p ?o WHERE { VALUES ?root { $roots } "
            "{ ?root ?p ?o . BIND(?root AS ?s) } UNION "
            "{ ?root schema:offers|schema:aggregateRating ?s . ?s ?p ?o } }"
        )
        for row in kg.select(render(query, roots=roots)):
            if isinstance(row["s"], URIRef):
                triples[row["root"]].add((row["s"], row["p"], row["o"]))
    return {root: Document(frozenset(found), version_of(found)) for root, found in triples.items()}


def document(kg: SparqlEndpoint, subject: SubjectLike) -> Document:
    """The document of a product (``"P0001"``, ``"prod:P0001"``) or any other subject: ``(triples, version)``.

    Given a node owned by a product (its offer or rating), the product's document is returned.
    """
    node = as_subject(subject)
    roots = roots_of(kg, [node])[node]
    root = sorted(roots, key=str)[0]
    return documents(kg, [root])[root]


def versions(kg: SparqlEndpoint, subjects: Iterable[SubjectLike]) -> dict[str, str]:
    """The current version of each subject's document, keyed like :func:`doc_key`."""
    roots = [as_subject(s) for s in subjects]
    return {doc_key(root): doc.version for root, doc in documents(kg, roots).items()}


def offer_of(kg: SparqlEndpoint, product: URIRef) -> URIRef:
    """A product's offer node as the graph links it (else the conventional ``prod:Pxxxx-offer``)."""
    rows = kg.select(render("SELECT ?offer WHERE { $product schema:offers ?offer } ORDER BY ?offer", product=product))
    for row in rows:
        if isinstance(row["offer"], URIRef):
            return row["offer"]
    return offer_iri(product)


def product_exists(kg: SparqlEndpoint, product: URIRef) -> bool:
    """Whether the graph holds anything about a product."""
    return kg.ask(render("ASK { $product ?p ?o }", product=product))


def next_product_id(kg: SparqlEndpoint) -> str:
    """The next free product id after the highest one in the graph (``P0001`` in an empty graph)."""
    rows = kg.select(render("SELECT ?id WHERE { ?p a schema:Product ; schema:productID ?id }"))
    numbers = [int(str(row["id"])[1:]) for row in rows if is_product_id(str(row["id"]))]
    return f"P{max(numbers, default=0) + 1:04d}"


def referrers(kg: SparqlEndpoint, nodes: Iterable[URIRef]) -> set[URIRef]:
    """Subjects with a triple pointing at one of the nodes (other than rdf:type)."""
    nodes = _rows(nodes)
    if not nodes:
        return set()
    query = "SELECT DISTINCT ?s WHERE { VALUES ?n { $nodes } ?s ?p ?n FILTER(?p != rdf:type) }"
    return {row["s"] for row in kg.select(render(query, nodes=nodes)) if isinstance(row["s"], URIRef)}


def types_of(kg: SparqlEndpoint, nodes: Iterable[URIRef]) -> set[Triple]:
    """The rdf:type triples of the nodes."""
    nodes = _rows(nodes)
    if not nodes:
        return set()
    query = "SELECT ?n ?t WHERE { VALUES ?n { $nodes } ?n rdf:type ?t }"
    return {(row["n"], RDF.type, row["t"]) for row in kg.select(render(query, nodes=nodes))}


def product_label(root: URIRef) -> str:
    """``P0001`` for a product IRI, else the compact form of the subject."""
    return product_id_of(root) if is_product_iri(root) else compact(root)


def parse_expected(expected: Mapping[SubjectLike, str]) -> dict[URIRef, str]:
    """Expected versions keyed by root IRI, from keys such as ``"P0001"`` or ``"prod:P0001"``."""
    return {as_subject(key): str(version) for key, version in expected.items()}

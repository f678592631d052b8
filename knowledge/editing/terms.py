"""RDF terms and triples as staff type them, and as N-Triples for storage.

A term is written as in Turtle: a prefixed name with one of the project's prefixes (``shop:``,
``schema:``, ``prod:``, ``brand:``, ``cat:``, ``policy:``, ``rdf:``, ``rdfs:``, ``xsd:``), a full
``<https://...>`` IRI, or a literal: ``"navy"``, ``"x"@en``, ``"12"^^xsd:integer``, a bare number
(``99.00`` is an ``xsd:decimal``, ``42`` an ``xsd:integer``) or ``true``/``false``. As a subject a bare
product id such as ``P0001`` means ``prod:P0001``; as a predicate ``a`` means ``rdf:type``; as an object
(:func:`parse_object`) any other bare text such as ``dark blue`` is taken as a plain text literal.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, Union

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD, NamespaceManager
from rdflib.term import Node

from knowledge.namespaces import PREFIXES, PRODUCT, is_product_id

Term = Union[URIRef, Literal]
Triple = tuple[URIRef, URIRef, Term]

_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>\"{}|^`\\]*")
_PREFIXED = re.compile(r"([A-Za-z][\w.-]*)?:(\S*)")
_PREFIX_USE = re.compile(r"(?<![\w<])([A-Za-z][\w.-]*):")
_QUOTED = re.compile(r"\"\"\".*?\"\"\"|'''.*?'''|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'", re.S)
_SENTINEL_S = URIRef("urn:x-shopbot:s")
_SENTINEL_P = URIRef("urn:x-shopbot:p")
_SENTINEL_O = URIRef("urn:x-shopbot:o")
_BARE = {  # literals Turtle can write without quotes, with the same datatype
    XSD.integer: re.compile(r"[+-]?\d+"),
    XSD.decimal: re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)"),
    XSD.boolean: re.compile(r"true|false"),
}
_HINTS = {
    "subject": "write a prefixed name such as prod:P0001, a product id such as P0001, or <https://...>",
    "predicate": "write a prefixed name such as schema:color, <https://...>, or a for rdf:type",
    "object": 'write "text", "text"@en, "12"^^xsd:integer, a number, true/false, a prefixed name or <https://...>',
}
_HEADER = "".join(f"@prefix {name}: <{ns}> .\n" for name, ns in PREFIXES.items())


def namespace_manager() -> NamespaceManager:
    """A namespace manager binding the project's prefixes (for compact display)."""
    manager = NamespaceManager(Graph(bind_namespaces="none"), bind_namespaces="none")
    for name, ns in PREFIXES.items():
        manager.bind(name, ns, override=True, replace=True)
    return manager


_MANAGER = None


def _manager() -> NamespaceManager:
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = namespace_manager()
    return _MANAGER


def _known_prefixes() -> str:
    return ", ".join(f"{name}:" for name in PREFIXES)


def _check_prefixes(text: str) -> None:
    unquoted = _QUOTED.sub('""', text)
    unquoted = re.sub(r"<[^>]*>", "<>", unquoted)
    for name in _PREFIX_USE.findall(unquoted):
        if name not in PREFIXES:
            raise ValueError(f"unknown prefix {name + ':'!r} in {text!r} (known prefixes: {_known_prefixes()})")


def _full_iri(text: str) -> URIRef:
    inner = text[1:-1]
    if not _ABSOLUTE_IRI.fullmatch(inner):
        raise ValueError(f"not a valid absolute IRI: {text!r} (write it like <https://example.com/x>)")
    return URIRef(inner)


def _parse_turtle(text: str, position: str) -> Node:
    """The one term ``text`` stands for at ``position`` of a Turtle triple (rdflib does the parsing)."""
    if position == "subject":
        body = f"{text} {_SENTINEL_P.n3()} {_SENTINEL_O.n3()} ."
    elif position == "predicate":
        body = f"{_SENTINEL_S.n3()} {text} {_SENTINEL_O.n3()} ."
    else:
        body = f"{_SENTINEL_S.n3()} {_SENTINEL_P.n3()} {text} ."
    graph = Graph(bind_namespaces="none")
    try:
        graph.parse(data=_HEADER + body, format="turtle")
    except Exception as error:  # rdflib raises several kinds of syntax errors
        raise ValueError(f"not a valid {position}: {text!r} ({_HINTS[position]})") from error
    triples = list(graph)
    if len(triples) != 1:
        raise ValueError(f"not a single {position}: {text!r}")
    s, p, o = triples[0]
    term = {"subject": s, "predicate": p, "object": o}[position]
    others = {"subject": (p, o), "predicate": (s, o), "object": (s, p)}[position]
    sentinels = {"subject": (_SENTINEL_P, _SENTINEL_O), "predicate": (_SENTINEL_S, _SENTINEL_O),
                 "object": (_SENTINEL_S, _SENTINEL_P)}[position]
    if others != sentinels:
        raise ValueError(f"not a single {position}: {text!r}")
    return term


def parse_term(text: str, position: str = "object") -> Term:
    """An IRI or literal written as a Turtle term; ``ValueError`` with the reason if it is not one."""
    if position not in ("subject", "predicate", "object"):
        raise ValueError(f"position must be subject, predicate or object, not {position!r}")
    text = text.strip()
    if not text:
        raise ValueError(f"empty {position}")
    if text.startswith("<") and text.endswith(">") and "<" not in text[1:]:
        return _full_iri(text)
    if position == "subject" and is_product_id(text):
        return PRODUCT[text]
    if position == "predicate" and text == "a":
        return RDF.type
    _check_prefixes(text)
    term = _parse_turtle(text, position)
    if isinstance(term, BNode):
        raise ValueError(f"blank nodes are not supported, give the node an IRI: {text!r}")
    if isinstance(term, Literal):
        if position != "object":
            raise ValueError(f"a {position} must be an IRI or a prefixed name such as schema:name, not {text!r}")
        if term.ill_typed:
            raise ValueError(f"{text!r} is not a valid {compact(term.datatype)}")
    return term


def parse_subject(text: str) -> URIRef:
    """A subject: a prefixed name, ``<iri>`` or a bare product id such as ``P0001``."""
    term = parse_term(text, "subject")
    assert isinstance(term, URIRef)
    return term


def parse_predicate(text: str) -> URIRef:
    """A predicate: a prefixed name such as ``schema:color``, ``<iri>`` or ``a`` (rdf:type)."""
    term = parse_term(text, "predicate")
    assert isinstance(term, URIRef)
    return term


def parse_object(text: str) -> Term:
    """An object: any Turtle term, or bare text (``dark blue``) as a plain text literal."""
    stripped = text.strip()
    try:
        return parse_term(stripped, "object")
    except ValueError:
        looks_like_term = (
            not stripped
            or stripped[0] in "<\"'[(_"
            or _PREFIXED.fullmatch(stripped) is not None
            or "^^" in stripped
        )
        if looks_like_term:
            raise
        return Literal(stripped)


def parse_triple(subject: str, predicate: str, obj: str) -> Triple:
    """A triple from its three terms as text (see :func:`parse_subject` and friends)."""
    return parse_subject(subject), parse_predicate(predicate), parse_object(obj)


def compact(term: Node) -> str:
    """A term in its short Turtle form: ``prod:P0001``, ``"navy"``, ``42``, ``129.0``, ``"x"^^xsd:anyURI``."""
    if isinstance(term, URIRef):
        try:
            prefix, namespace, local = _manager().compute_qname(str(term), generate=False)
        except Exception:  # noqa: BLE001 - not expressible as a prefixed name
            return f"<{term}>"
        if local and re.fullmatch(r"[A-Za-z0-9_][\w.-]*", local) and not local.endswith("."):
            return f"{prefix}:{local}"
        return f"<{term}>"
    if isinstance(term, Literal):
        lexical = str(term).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        if term.language:
            return f'"{lexical}"@{term.language}'
        if term.datatype in _BARE and not term.ill_typed and _BARE[term.datatype].fullmatch(lexical):
            return lexical + (".0" if term.datatype == XSD.decimal and "." not in lexical else "")
        if term.datatype and term.datatype != XSD.string:
            return f'"{lexical}"^^{compact(term.datatype)}'
        return f'"{lexical}"'
    return str(term)


def format_triple(triple: Triple) -> str:
    """A triple on one line in short Turtle form, for messages and the CLI."""
    return " ".join(compact(term) for term in triple)


def same_term(a: Node, b: Node) -> bool:
    """Whether two terms denote the same RDF term once literals are compared by value (``129`` = ``129.00``)."""
    if isinstance(a, Literal) and isinstance(b, Literal):
        if (a.language or "").lower() != (b.language or "").lower():
            return False
        if (a.datatype or XSD.string) != (b.datatype or XSD.string):
            return False
        if a.ill_typed or b.ill_typed or a.value is None or b.value is None:
            return str(a) == str(b)
        return a.value == b.value and type(a.value) is type(b.value)
    return a == b


def check_triple(triple: tuple) -> Triple:
    """The triple itself if it is storable: IRI subject and predicate, IRI or literal object."""
    if len(triple) != 3:
        raise ValueError(f"a triple has three terms, got {len(triple)}")
    s, p, o = triple
    if not isinstance(s, URIRef):
        raise ValueError(f"the subject must be an IRI: {s!r}")
    if not isinstance(p, URIRef):
        raise ValueError(f"the predicate must be an IRI: {p!r}")
    if not isinstance(o, (URIRef, Literal)):
        raise ValueError(f"blank nodes are not supported, give the node an IRI: {o!r}")
    for iri in (s, p, o if isinstance(o, URIRef) else o.datatype):
        if iri is not None and not _ABSOLUTE_IRI.fullmatch(str(iri)):
            raise ValueError(f"not a valid absolute IRI: {str(iri)!r}")
    return s, p, o


_NT_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def _nt(term: Term) -> str:
    if isinstance(term, URIRef):
        return f"<{term}>"
    text = '"' + str(term).translate(_NT_ESCAPES) + '"'
    if term.language:
        return f"{text}@{term.language}"
    return f"{text}^^<{term.datatype}>" if term.datatype else text


def ntriples_line(triple: Triple) -> str:
    """One triple as a line of N-Triples (without the newline)."""
    s, p, o = check_triple(triple)
    return f"{_nt(s)} {_nt(p)} {_nt(o)} ."


def to_ntriples(triples: Iterable[Triple]) -> str:
    """Triples as N-Triples, one per line, sorted (the same triples always give the same text)."""
    lines = sorted({ntriples_line(triple) for triple in triples})
    return "\n".join(lines) + "\n" if lines else ""


def from_ntriples(text: str) -> frozenset[Triple]:
    """Triples from N-Triples text (as written by :func:`to_ntriples`)."""
    if not text.strip():
        return frozenset()
    graph = Graph(bind_namespaces="none").parse(data=text, format="nt")
    return frozenset(check_triple(triple) for triple in graph)


def version_of(triples: Iterable[Triple]) -> str:
    """A short hash of triples (sorted N-Triples): the version of a document."""
    return hashlib.sha256(to_ntriples(triples).encode("utf-8")).hexdigest()[:12]


#: The version of a document that holds no triples (a product that does not exist).
EMPTY_VERSION = version_of(())

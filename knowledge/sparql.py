"""Clients for SPARQL 1.1 endpoints and safe query rendering with rdflib terms."""

from __future__ import annotations

import json
import re
from string import Template
from typing import Any, Iterable, Protocol, Union

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from knowledge.namespaces import sparql_prefixes

Row = dict[str, Node]
Bindable = Union[URIRef, Literal, tuple, list]


class KnowledgeGraphUnavailable(RuntimeError):
    """The SPARQL endpoint could not be reached or answered with an error."""


class SparqlEndpoint(Protocol):
    """What the knowledge layer needs of a SPARQL 1.1 endpoint."""

    def select(self, query: str) -> list[Row]:
        """Rows of a SELECT query, each a dict from variable name to rdflib term."""

    def ask(self, query: str) -> bool:
        """The answer of an ASK query."""

    def update(self, update: str) -> None:
        """Run a SPARQL 1.1 update."""


_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\x00": "\\u0000"})


def _literal(literal: Literal) -> str:
    # rdflib's Literal.n3() switches to a long """...""" form for multi-line text and then fails to escape
    # a final backslash-quote; the short form with every special character escaped is always valid.
    text = '"' + str(literal).translate(_ESCAPES) + '"'
    if literal.language:
        return f"{text}@{literal.language}"
    if literal.datatype:
        return f"{text}^^{_iri(literal.datatype)}"
    return text


def _iri(iri: URIRef) -> str:
    if _IRI_FORBIDDEN.search(iri):
        raise ValueError(f"not a valid IRI: {str(iri)!r}")
    return f"<{iri}>"


def _n3(value: Any) -> str:
    if isinstance(value, Literal):
        return _literal(value)
    if isinstance(value, URIRef):
        return _iri(value)
    if isinstance(value, (tuple, list)):
        return " ".join(_n3(item) for item in value)
    raise TypeError(f"only rdflib URIRef/Literal terms may be bound into a query, got {type(value).__name__}")


def render(template: str, **bindings: Bindable) -> str:
    """A query from a template whose $placeholders are filled with escaped rdflib terms."""
    return sparql_prefixes() + Template(template).substitute({name: _n3(v) for name, v in bindings.items()})


def parse_results(payload: dict[str, Any]) -> list[Row]:
    """Rows from a SPARQL 1.1 JSON results document, as rdflib terms."""
    rows: list[Row] = []
    for binding in payload.get("results", {}).get("bindings", []):
        rows.append({name: _term(value) for name, value in binding.items()})
    return rows


def plain_results(payload: dict[str, Any]) -> list[dict[str, str]]:
    """Rows from a SPARQL 1.1 JSON results document as plain strings: an IRI, or a literal's lexical form."""
    return [{name: value["value"] for name, value in binding.items()}
            for binding in payload.get("results", {}).get("bindings", [])]


def select_values(kg: SparqlEndpoint, query: str) -> list[dict[str, str]]:
    """Rows of a SELECT query as plain strings; cheap for many rows when the endpoint offers it."""
    fast = getattr(kg, "select_values", None)
    if fast is not None:
        return fast(query)
    return [{name: str(term) for name, term in row.items()} for row in kg.select(query)]


def _term(value: dict[str, str]) -> Node:
    kind = value["type"]
    if kind == "uri":
        return URIRef(value["value"])
    if kind == "bnode":
        return BNode(value["value"])
    datatype = value.get("datatype")
    return Literal(value["value"], lang=value.get("xml:lang"), datatype=URIRef(datatype) if datatype else None)


class HttpSparqlClient:
    """A client for any SPARQL 1.1 endpoint over the HTTP protocol (Oxigraph, Virtuoso, Fuseki...)."""

    def __init__(
        self,
        query_url: str,
        update_url: str | None = None,
        timeout: float = 5.0,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.query_url = query_url
        self.update_url = update_url or query_url
        self.timeout = timeout
        self.auth = auth
        self._session = None

    @property
    def session(self):  # noqa: ANN201 - requests is imported lazily
        """The HTTP session, opened on first use."""
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _post(self, url: str, data: dict[str, str], accept: str | None = None, auth=None):  # noqa: ANN001,ANN202 - auth: a requests auth object; returns a requests Response (requests is imported lazily)
        import requests

        headers = {"Accept": accept} if accept else {}
        try:
            response = self.session.post(url, data=data, headers=headers, timeout=self.timeout, auth=auth)
        except requests.RequestException as error:
            raise KnowledgeGraphUnavailable(f"SPARQL endpoint {url} unreachable: {error}") from error
        if response.status_code >= 400:
            raise KnowledgeGraphUnavailable(
                f"SPARQL endpoint {url} answered {response.status_code}: {response.text[:300]}"
            )
        return response

    def _query(self, query: str) -> dict[str, Any]:
        response = self._post(self.query_url, {"query": query}, accept="application/sparql-results+json")
        return response.json()

    def select(self, query: str) -> list[Row]:
        """Rows of a SELECT query, each a dict from variable name to rdflib term."""
        return parse_results(self._query(query))

    def select_values(self, query: str) -> list[dict[str, str]]:
        """Rows of a SELECT query as plain strings (IRIs and lexical forms), for large result sets."""
        return plain_results(self._query(query))

    def ask(self, query: str) -> bool:
        """The answer of an ASK query."""
        return bool(self._query(query)["boolean"])

    def update(self, update: str) -> None:
        """Run a SPARQL 1.1 update."""
        auth = None
        if self.auth:
            from requests.auth import HTTPDigestAuth

            auth = HTTPDigestAuth(*self.auth)
        self._post(self.update_url, {"update": update}, auth=auth)


class OxigraphStoreClient:
    """An in-process pyoxigraph store behind the same interface, for unit tests and benchmarks."""

    def __init__(self, store=None) -> None:  # noqa: ANN001 - pyoxigraph.Store
        import pyoxigraph

        self.store = store if store is not None else pyoxigraph.Store()

    def _results(self, query: str) -> dict[str, Any]:
        import pyoxigraph

        result = self.store.query(query)
        return json.loads(result.serialize(format=pyoxigraph.QueryResultsFormat.JSON))

    def select(self, query: str) -> list[Row]:
        """Rows of a SELECT query, each a dict from variable name to rdflib term."""
        return parse_results(self._results(query))

    def select_values(self, query: str) -> list[dict[str, str]]:
        """Rows of a SELECT query as plain strings (IRIs and lexical forms), for large result sets."""
        return plain_results(self._results(query))

    def ask(self, query: str) -> bool:
        """The answer of an ASK query."""
        return bool(self._results(query)["boolean"])

    def update(self, update: str) -> None:
        """Run a SPARQL 1.1 update."""
        self.store.update(update)

    def load_turtle(self, path: str) -> None:
        """Bulk-load a Turtle file into the default graph."""
        import pyoxigraph

        self.store.bulk_load(path=path, format=pyoxigraph.RdfFormat.TURTLE)


def py(term: Node | None) -> Any:
    """The Python value of an rdflib term (None stays None)."""
    return None if term is None else term.toPython()  # type: ignore[attr-defined]  # every concrete term has it


def values(rows: Iterable[Row], name: str) -> list[Any]:
    """The Python values of one variable over all rows."""
    return [py(row.get(name)) for row in rows if row.get(name) is not None]

"""The staff's read-only SPARQL console (``/api/kg/sparql``), with the work of one query bounded.

A staff viewer may ask the graph any SELECT or ASK query, within limits that hold whatever the query says:

* parsed first (rdflib); updates, CONSTRUCT/DESCRIBE and ``SERVICE`` anywhere in it (which would make the
  SPARQL server fetch any URL) are refused with the reason;
* at most ``rows`` rows: a SELECT without LIMIT gets ``LIMIT rows + 1`` appended, and the answer says
  ``"truncated": true`` when there were more; a larger LIMIT is refused;
* at most ``max_bytes`` of results read from the server, and a deadline of ``seconds``: the answer is read as a
  stream and the connection closed as soon as either is passed (the local Oxigraph server also stops any query
  after ``OXIGRAPH_QUERY_SECONDS``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Optional

from knowledge.editing import compact
from knowledge.settings import Settings
from knowledge.sparql import KnowledgeGraphUnavailable, SparqlEndpoint, parse_results

MAX_QUERY_CHARS = 20_000
READ_CHUNK = 64 * 1024


class QueryRefused(ValueError):
    """A query the console will not run (HTTP 400), with the reason."""


class QueryTooCostly(RuntimeError):
    """A query stopped while it ran: too many result bytes (413) or past the deadline (504)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class QueryLimits:
    """How much one staff query may return and how long it may take."""

    rows: int = 1000
    max_bytes: int = 2_000_000
    seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "QueryLimits":
        """The limits of ``STAFF_SPARQL_MAX_ROWS``, ``STAFF_SPARQL_MAX_BYTES`` and ``STAFF_SPARQL_SECONDS``."""
        return cls(settings.staff_sparql_rows, settings.staff_sparql_bytes, settings.staff_sparql_seconds)


def _parse(query: str) -> Any:
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        return parseQuery(query)
    except ParseException as error:
        raise QueryRefused(f"not a SPARQL 1.1 query (updates are not allowed here): {error}") from None
    except RecursionError:
        raise QueryRefused("the query is nested too deeply") from None


def uses_service(parsed: Any) -> bool:
    """Whether a parsed query holds a ``SERVICE`` pattern anywhere (federated queries reach other servers)."""
    from rdflib.plugins.sparql.parserutils import CompValue

    pending = [parsed]
    while pending:
        node = pending.pop()
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                return True
            pending.extend(node.values())
        elif isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, (list, tuple)) or type(node).__name__ == "ParseResults":
            pending.extend(list(node))
    return False


def _limit(parsed: Any) -> Optional[int]:
    clause = parsed[1].get("limitoffset")
    limit = clause.get("limit") if clause is not None else None
    return int(limit) if limit is not None else None


def prepare(query: str, limits: QueryLimits) -> tuple[str, str, bool]:
    """The query's kind (``SelectQuery``/``AskQuery``), the text to send, and whether a LIMIT was added."""
    if not isinstance(query, str) or not query.strip():
        raise QueryRefused("send a SPARQL query in the query parameter")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_QUERY_CHARS} characters")
    parsed = _parse(query)
    kind = parsed[1].name
    if kind not in ("SelectQuery", "AskQuery"):
        raise QueryRefused("only SELECT and ASK queries are supported here; use /api/kg/export for the whole graph")
    if uses_service(parsed):
        raise QueryRefused("SERVICE is not allowed here: the console only reads this shop's graph")
    if kind == "AskQuery":
        return kind, query, False
    limit = _limit(parsed)
    if limit is not None:
        if limit > limits.rows:
            raise QueryRefused(f"LIMIT may be at most {limits.rows} here")
        return kind, query, False
    if parsed[1].get("valuesClause") is not None:
        raise QueryRefused(f"a query ending in VALUES needs its own LIMIT (at most {limits.rows}) before it")
    bounded = f"{query}\nLIMIT {limits.rows + 1}"
    if _limit(_parse(bounded)) != limits.rows + 1:  # never send what we did not mean to
        raise QueryRefused(f"add a LIMIT (at most {limits.rows}) to the query")
    return kind, bounded, True


def _read(kg: Any, text: str, limits: QueryLimits) -> dict[str, Any]:
    """The JSON results of a query, read as a stream within the byte cap and the deadline."""
    import requests

    deadline = time.monotonic() + limits.seconds
    received, chunks = 0, []
    try:
        with requests.post(kg.query_url, data={"query": text}, stream=True,
                           headers={"Accept": "application/sparql-results+json"},
                           timeout=(min(5.0, limits.seconds), limits.seconds)) as answer:
            if answer.status_code >= 400:
                raise QueryRefused(f"the SPARQL server refused the query: {answer.text[:300]}") \
                    if answer.status_code == 400 else KnowledgeGraphUnavailable(
                        f"SPARQL endpoint answered {answer.status_code}: {answer.text[:300]}")
            for chunk in answer.iter_content(READ_CHUNK):
                received += len(chunk)
                if received > limits.max_bytes:
                    raise QueryTooCostly(f"the result is larger than {limits.max_bytes:,} bytes; narrow the query "
                                         "or lower its LIMIT", 413)
                if time.monotonic() > deadline:
                    raise QueryTooCostly(f"the query took longer than {limits.seconds:g} s and was stopped", 504)
                chunks.append(chunk)
    except requests.Timeout:
        raise QueryTooCostly(f"the query took longer than {limits.seconds:g} s and was stopped", 504) from None
    except requests.RequestException as error:
        raise KnowledgeGraphUnavailable(f"SPARQL endpoint {kg.query_url} unreachable: {error}") from error
    try:
        return json.loads(b"".join(chunks))
    except ValueError as error:
        raise KnowledgeGraphUnavailable(f"the SPARQL endpoint's answer is not JSON results: {error}") from error


def run_staff_query(kg: SparqlEndpoint, query: str, limits: QueryLimits) -> dict[str, Any]:
    """Run a staff member's SELECT or ASK query within the limits: ``{"boolean"}`` or ``{"vars", "rows", "truncated"}``."""
    kind, text, limited = prepare(query, limits)
    if hasattr(kg, "query_url"):
        results = _read(kg, text, limits)
        if kind == "AskQuery":
            return {"boolean": bool(results.get("boolean"))}
        rows = parse_results(results)
    else:  # an in-process store (unit tests): nothing to stream
        if kind == "AskQuery":
            return {"boolean": kg.ask(text)}
        rows = kg.select(text)
    truncated = limited and len(rows) > limits.rows
    rows = rows[:limits.rows]
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {"vars": names, "rows": [{name: compact(value) for name, value in row.items()} for row in rows],
            "truncated": truncated}

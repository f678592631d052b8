"""One staff SPARQL query, evaluated in a throw-away process on a private copy of the graph.

``python -m bot.web.sparql_sandbox`` reads one JSON request on standard input::

    {"query_url": ..., "query": ..., "rows": 1000, "max_bytes": 2000000, "memory_mb": 1024}

and writes one JSON answer on standard output: ``{"kind": "ask", "boolean": ...}``,
``{"kind": "select", "vars": [...], "bindings": [...], "truncated": ...}`` (SPARQL JSON results bindings) or
``{"refused": reason}`` / ``{"too_large": reason}``.

Why a process of its own, and a copy: the SPARQL server cannot be trusted to stop a query. Oxigraph 0.5 has no
evaluation timeout (its ``--timeout-s`` is for SERVICE calls) and goes on after the client hangs up: a
cross-product ``ORDER BY`` over the demo store grew past 5 GB in ten seconds and kept growing. So the staff's
query never reaches the shop's server. This process copies the graph (one linear ``CONSTRUCT``, what
``/api/kg/export`` does), loads it into an in-memory pyoxigraph store and evaluates the query there, with its
address space capped at ``memory_mb``; the web app kills it at the deadline (``bot/web/staff_sparql.py``).
Parsing happens here too: rdflib's parser needs seconds for some hostile queries.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any, Optional

COPY = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
MAX_QUERY_CHARS = 20_000


class Refused(ValueError):
    """A query the console will not run, with the reason."""


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


def _parse(query: str) -> Any:
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        return parseQuery(query)
    except ParseException as error:
        raise Refused(f"not a SPARQL 1.1 query (updates are not allowed here): {error}") from None
    except RecursionError:
        raise Refused("the query is nested too deeply") from None


def _limit(parsed: Any) -> Optional[int]:
    clause = parsed[1]["limitoffset"] if "limitoffset" in parsed[1] else None
    limit = clause["limit"] if clause is not None and "limit" in clause else None
    return int(limit) if limit is not None else None


def prepare(query: str, rows: int) -> tuple[str, str, bool]:
    """The query's kind (``select``/``ask``), the text to run, and whether a ``LIMIT rows + 1`` was added.

    Refuses (``Refused``) anything but SELECT and ASK, any ``SERVICE``, and a LIMIT above ``rows``.
    """
    if not isinstance(query, str) or not query.strip():
        raise Refused("send a SPARQL query in the query parameter")
    if len(query) > MAX_QUERY_CHARS:
        raise Refused(f"the query is longer than {MAX_QUERY_CHARS} characters")
    parsed = _parse(query)
    kind = parsed[1].name
    if kind not in ("SelectQuery", "AskQuery"):
        raise Refused("only SELECT and ASK queries are supported here; use /api/kg/export for the whole graph")
    if uses_service(parsed):
        raise Refused("SERVICE is not allowed here: the console only reads this shop's graph")
    if kind == "AskQuery":
        return "ask", query, False
    limit = _limit(parsed)
    if limit is not None:
        if limit > rows:
            raise Refused(f"LIMIT may be at most {rows} here")
        return "select", query, False
    if "valuesClause" in parsed[1]:
        raise Refused(f"a query ending in VALUES needs its own LIMIT (at most {rows}) before it")
    bounded = f"{query}\nLIMIT {rows + 1}"
    if _limit(_parse(bounded)) != rows + 1:  # never run what we did not mean to
        raise Refused(f"add a LIMIT (at most {rows}) to the query")
    return "select", bounded, True


def copy_graph(query_url: str, timeout: float = 60.0) -> Any:
    """An in-memory pyoxigraph store holding the default graph of the SPARQL endpoint."""
    import requests
    from pyoxigraph import RdfFormat, Store

    answer = requests.post(query_url, data={"query": COPY}, headers={"Accept": "application/n-triples"},
                           timeout=timeout)
    answer.raise_for_status()
    store = Store()
    store.load(answer.content, format=RdfFormat.N_TRIPLES)
    return store


def _term(term: Any) -> dict[str, str]:
    from pyoxigraph import BlankNode, Literal

    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, Literal):
        value = {"type": "literal", "value": term.value}
        if term.language:
            value["xml:lang"] = term.language
        elif term.datatype and term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            value["datatype"] = term.datatype.value
        return value
    return {"type": "uri", "value": term.value}


def evaluate(store: Any, kind: str, text: str, rows: int, max_bytes: int) -> dict[str, Any]:
    """The answer of a prepared query, at most ``rows`` rows and about ``max_bytes`` of bindings."""
    results = store.query(text)
    if kind == "ask":
        return {"kind": "ask", "boolean": bool(results)}
    names = [variable.value for variable in results.variables]
    bindings, size = [], 0
    for solution in results:
        if len(bindings) > rows:
            break
        binding = {name: _term(solution[name]) for name in names if solution[name] is not None}
        size += len(json.dumps(binding))
        if size > max_bytes:
            raise OverflowError(f"the result is larger than {max_bytes:,} bytes; narrow the query or lower its LIMIT")
        bindings.append(binding)
    return {"kind": "select", "vars": names, "bindings": bindings[:rows], "truncated": len(bindings) > rows}


def main() -> int:
    """Answer the one request on standard input."""
    request = json.loads(sys.stdin.read())
    memory = int(request.get("memory_mb", 1024)) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    rows, max_bytes = int(request["rows"]), int(request["max_bytes"])
    try:
        kind, text, _ = prepare(request["query"], rows)
        answer = evaluate(copy_graph(request["query_url"]), kind, text, rows, max_bytes)
    except Refused as refused:
        answer = {"refused": str(refused)}
    except OverflowError as too_large:
        answer = {"too_large": str(too_large)}
    except MemoryError:
        answer = {"too_large": "the query needs more memory than the console allows"}
    except (SyntaxError, ValueError) as error:  # pyoxigraph's evaluation errors (a bad regex, an unknown function)
        answer = {"refused": f"the query could not be evaluated: {error}"}
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

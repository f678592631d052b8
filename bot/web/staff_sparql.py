"""The staff's read-only SPARQL console (``/api/kg/sparql``), with the work of one query bounded.

A staff viewer may ask the graph any SELECT or ASK query, within limits that hold whatever the query says:

* refused with the reason (400): updates, CONSTRUCT/DESCRIBE, ``SERVICE`` anywhere in the query (it would make
  the SPARQL server fetch any URL) and a LIMIT above ``rows``; a SELECT without LIMIT gets ``LIMIT rows + 1``
  and the answer says ``"truncated": true`` when there were more rows;
* at most ``max_bytes`` of results (413), at most ``memory_mb`` of memory (413), and a deadline of ``seconds``
  (504).

The query is evaluated in a throw-away process on a private copy of the graph (``bot/web/sparql_sandbox.py``,
which says why): the process is killed at the deadline, so no query keeps the shop's SPARQL server busy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from knowledge.editing import compact
from knowledge.settings import PROJECT_ROOT, Settings
from knowledge.sparql import KnowledgeGraphUnavailable, SparqlEndpoint, parse_results

MAX_QUERY_CHARS = 20_000
_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "DATABASE_URL")


def _sandbox_env() -> dict[str, str]:
    """The web app's environment without its secrets: the sandbox needs none."""
    env = {k: v for k, v in os.environ.items() if not any(word in k.upper() for word in _SECRET_WORDS)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    return env


class QueryRefused(ValueError):
    """A query the console will not run (HTTP 400), with the reason."""


class QueryTooCostly(RuntimeError):
    """A query stopped while it ran: too many result bytes or too much memory (413), past the deadline (504)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class QueryLimits:
    """How much one staff query may return, use and take."""

    rows: int = 1000
    max_bytes: int = 2_000_000
    seconds: float = 15.0
    memory_mb: int = 2048

    @classmethod
    def from_settings(cls, settings: Settings) -> "QueryLimits":
        """The limits of the ``STAFF_SPARQL_*`` settings."""
        return cls(settings.staff_sparql_rows, settings.staff_sparql_bytes, settings.staff_sparql_seconds,
                   settings.staff_sparql_memory_mb)


def run_staff_query(kg: SparqlEndpoint, query: str, limits: QueryLimits) -> dict[str, Any]:
    """Run a staff member's SELECT or ASK query within the limits: ``{"boolean"}`` or ``{"vars", "rows", "truncated"}``."""
    if not isinstance(query, str) or not query.strip():
        raise QueryRefused("send a SPARQL query in the query parameter")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_QUERY_CHARS} characters")
    query_url = getattr(kg, "query_url", None)
    if not query_url:
        raise KnowledgeGraphUnavailable("the staff console needs a SPARQL endpoint reached over HTTP")
    request = {"query_url": query_url, "query": query, "rows": limits.rows, "max_bytes": limits.max_bytes,
               "memory_mb": limits.memory_mb}
    try:
        done = subprocess.run([sys.executable, "-m", "bot.web.sparql_sandbox"], input=json.dumps(request), text=True,
                              capture_output=True, timeout=limits.seconds, cwd=str(PROJECT_ROOT), env=_sandbox_env())
    except subprocess.TimeoutExpired:  # subprocess.run kills the process
        raise QueryTooCostly(f"the query took longer than {limits.seconds:g} s and was stopped", 504) from None
    try:
        answer = json.loads(done.stdout[: limits.max_bytes * 4])
    except ValueError:
        if done.returncode < 0 or "memory" in done.stderr.lower():
            raise QueryTooCostly("the query needs more memory than the console allows and was stopped", 413) from None
        if "ConnectionError" in done.stderr or "HTTPError" in done.stderr:
            raise KnowledgeGraphUnavailable(f"could not read the graph: {done.stderr.strip()[-300:]}") from None
        raise QueryRefused(f"the query could not be run: {done.stderr.strip()[-300:]}") from None
    if "refused" in answer:
        raise QueryRefused(answer["refused"])
    if "too_large" in answer:
        raise QueryTooCostly(answer["too_large"], 413)
    if answer["kind"] == "ask":
        return {"boolean": answer["boolean"]}
    rows = parse_results({"results": {"bindings": answer["bindings"]}})
    return {"vars": answer["vars"], "rows": [{name: compact(value) for name, value in row.items()} for row in rows],
            "truncated": answer["truncated"]}

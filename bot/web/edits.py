"""What the admin page and the staff API share: applying a change, explaining a refusal, building changes."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from knowledge.editing import Change, Editor, add, compact, remove, set_value
from knowledge.editing.errors import EditConflict, EditError, EmptyChange, PermissionDenied, ValidationFailed
from knowledge.shopdb.staff import Staff
from knowledge.sparql import SparqlEndpoint

MAX_TRIPLES = 1_000


def apply_edit(editor: Editor, change: Change, staff: Staff, expected: Optional[Mapping[str, str]] = None) -> dict:
    """Write a change as a staff member; what was written, the no-ops and the documents' new versions."""
    result = editor.apply(change, staff, expected)
    return {**result.record.to_dict(), "versions": result.versions,
            "unchanged": [line for line in result.lines() if line.startswith("=")]}


def edit_error(error: EditError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for a refused edit; the rejected change is always part of it."""
    status = {ValidationFailed: 422, EditConflict: 409, EmptyChange: 400, PermissionDenied: 403}.get(type(error), 404)
    payload: dict[str, Any] = {"error": error.message}
    if isinstance(error, ValidationFailed):
        payload["problems"] = list(error.problems)
    if isinstance(error, EditConflict):
        payload.update(expected=error.expected, current=error.current, details=list(error.details))
    if error.change is not None:
        payload["change"] = {**error.change.to_dict(), "lines": error.change.lines()}
    return status, payload


def _triple_list(data: Mapping[str, Any], key: str) -> list[list[str]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(t, list) and len(t) == 3 for t in items):
        raise ValueError(f'"{key}" must be a list of [subject, predicate, object] lists of strings')
    if len(items) > MAX_TRIPLES:
        raise ValueError(f'at most {MAX_TRIPLES} triples per "{key}"')
    return [[str(term) for term in triple] for triple in items]


def combine(changes: list[Change], summary: str) -> Change:
    """One change doing what all of ``changes`` do, based on all the versions they were built on."""
    based_on: dict[str, str] = {}
    for change in changes:
        based_on.update(change.expected)
    return Change(frozenset().union(*(c.added for c in changes)), frozenset().union(*(c.removed for c in changes)),
                  summary, tuple(based_on.items()))


def triples_change(kg: SparqlEndpoint, data: Mapping[str, Any]) -> Change:
    """The change a staff request describes: triples to ``add``, ``remove`` and ``set`` (replace values)."""
    changes = ([add(*t) for t in _triple_list(data, "add")] + [remove(*t) for t in _triple_list(data, "remove")]
               + [set_value(kg, *t) for t in _triple_list(data, "set")])
    if not changes:
        raise ValueError('send at least one triple in "add", "remove" or "set"')
    summary = str(data.get("summary") or "; ".join(c.summary for c in changes))[:500]
    return combine(changes, summary)

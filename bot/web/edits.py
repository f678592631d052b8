"""The one edit flow of the admin pages and the staff API: build a change, validate and write it, answer.

A page or an API route says what to change (``creating``, ``updating``, ``deleting``, ``from_triples``,
``importing``, or a campaign's change) and hands it to ``edit``: the change is built against the live graph,
validated with the shapes and written by the editor (which audits it), and the ``Outcome`` says what was
written or why nothing was: the same statuses and bodies for people and for programs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Union

from bot.web.common import blocking
from knowledge.editing import (Change, Editor, add, create_product, delete_product, import_csv, import_turtle, remove,
                               set_value)
from knowledge.editing.changes import update_product
from knowledge.editing.errors import EditConflict, EditError, EmptyChange, PermissionDenied, ValidationFailed
from knowledge.shopdb.staff import Staff
from knowledge.sparql import KnowledgeGraphUnavailable, SparqlEndpoint

MAX_TRIPLES = 1_000
Build = Callable[[SparqlEndpoint], Change]


@dataclass(frozen=True)
class Outcome:
    """What an edit came to: the change written (status 200), or the refusal with the rejected change."""

    status: int
    body: dict[str, Any]

    @property
    def written(self) -> bool:
        """Whether the change was written."""
        return self.status == 200


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


def outcome_of(write: Callable[[], dict]) -> Outcome:
    """Run a write; a refusal, a malformed value or an unreachable graph become an outcome, never an exception."""
    try:
        return Outcome(200, write())
    except EditError as error:
        return Outcome(*edit_error(error))
    except ValueError as error:
        return Outcome(400, {"error": str(error)})
    except KnowledgeGraphUnavailable:
        return Outcome(503, {"error": "the knowledge graph is unavailable right now; nothing was written"})


async def edit(editor: Editor, staff: Staff, build: Build, expected: Optional[Mapping[str, str]] = None) -> Outcome:
    """Build a change against the live graph and write it as ``staff`` (validated, audited) in a worker thread."""
    return await blocking(outcome_of, lambda: apply_edit(editor, build(editor.kg), staff, expected))


async def revert(editor: Editor, staff: Staff, change_id: int) -> Outcome:
    """Undo one change of the audit log exactly, as ``staff``."""
    return await blocking(outcome_of, lambda: editor.revert(change_id, staff).record.to_dict())


# --- the changes staff ask for --------------------------------------------------------------------

def creating(fields: Mapping[str, Any], currency: str) -> Build:
    """A new product from its fields (id, name, brand, category, price, stock, colours, ...)."""
    return lambda _kg: create_product(dict(fields), currency)


def updating(product_id: str, fields: Mapping[str, Any]) -> Build:
    """New values for some fields of a product (an empty value clears one)."""
    return lambda kg: update_product(kg, product_id, dict(fields))


def deleting(product_id: str) -> Build:
    """A product removed with its offer and rating, and every triple pointing at it."""
    return lambda kg: delete_product(kg, product_id)


def from_triples(data: Mapping[str, Any]) -> Build:
    """Triples to ``add``, ``remove`` and ``set`` (replace values), written as Turtle terms."""
    return lambda kg: triples_change(kg, data)


def importing(text: str, kind: str) -> Build:
    """A Turtle (``kind="turtle"``) or CSV (``kind="csv"``) file as one change."""
    build: Callable[[SparqlEndpoint, str], Change] = import_csv if kind == "csv" else import_turtle
    return lambda kg: build(kg, text)


def expected_version(key: str, version: Union[str, None]) -> Optional[dict[str, str]]:
    """The version an edit was made on, for the optimistic check (none when the client sent none)."""
    return {key: str(version)} if version else None


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

"""The audit log of graph edits (table ``kg_changes`` in the shop database): write one row, read history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Optional, Union

from rdflib import URIRef
from sqlalchemy import insert, or_, select
from sqlalchemy.engine import Connection

from knowledge.editing.changes import Change
from knowledge.editing.documents import SubjectLike, as_subject
from knowledge.editing.errors import ChangeNotFound
from knowledge.editing.terms import Triple, compact, format_triple, from_ntriples, to_ntriples
from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.staff import KgChange, utcnow


@dataclass(frozen=True)
class ChangeRecord:
    """One written change as the audit log holds it.

    ``added`` / ``removed`` are the triples actually written (no-ops left out); ``reverts`` is the id of
    the change this one reverted; ``reverted_by`` the id of a later change that reverted this one.
    """

    id: int
    username: str
    created_at: datetime
    summary: str
    added: frozenset[Triple]
    removed: frozenset[Triple]
    reverts: Optional[int]
    subjects: tuple[URIRef, ...]
    reverted_by: Optional[int] = None

    @property
    def change(self) -> Change:
        """The written change as a :class:`Change` (without versions)."""
        return Change(self.added, self.removed, self.summary)

    def lines(self) -> list[str]:
        """The change as ``- triple`` / ``+ triple`` lines, removals first."""
        return self.change.lines()

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (created_at in ISO 8601 UTC, triples in short Turtle form and N-Triples)."""
        return {
            "id": self.id, "username": self.username, "created_at": self.created_at.isoformat() + "Z",
            "summary": self.summary, "reverts": self.reverts, "reverted_by": self.reverted_by,
            "subjects": [compact(s) for s in self.subjects],
            "added": sorted(format_triple(t) for t in self.added),
            "removed": sorted(format_triple(t) for t in self.removed),
            "added_nt": to_ntriples(self.added), "removed_nt": to_ntriples(self.removed),
        }


def _subjects_text(subjects: Iterable[URIRef]) -> str:
    ordered = sorted(set(map(str, subjects)))
    return "\n" + "\n".join(ordered) + "\n" if ordered else ""


def record_change(
    connection: Connection,
    change: Change,
    username: str,
    subjects: Iterable[URIRef],
    reverts: Optional[int] = None,
) -> int:
    """Insert the audit row of a change inside the writer's transaction; its id."""
    result = connection.execute(insert(KgChange.__table__).values(
        username=username, created_at=utcnow(), summary=change.summary, added=to_ntriples(change.added),
        removed=to_ntriples(change.removed), reverts=reverts, subjects=_subjects_text(subjects),
    ))
    return int(result.inserted_primary_key[0])


def _record(row: KgChange, reverted_by: Optional[int]) -> ChangeRecord:
    subjects = tuple(URIRef(s) for s in (row.subjects or "").split("\n") if s)
    return ChangeRecord(row.id, row.username, row.created_at, row.summary, from_ntriples(row.added),
                        from_ntriples(row.removed), row.reverts, subjects, reverted_by)


def _reverted_by(session, ids: list[int]) -> dict[int, int]:  # noqa: ANN001 - sqlalchemy Session
    if not ids:
        return {}
    rows = session.execute(select(KgChange.reverts, KgChange.id).where(KgChange.reverts.in_(ids))
                           .order_by(KgChange.id)).all()
    found: dict[int, int] = {}
    for reverted, by in rows:
        found.setdefault(reverted, by)
    return found


def _subject_filter(subjects: Iterable[URIRef]):  # noqa: ANN202 - a SQLAlchemy condition
    return or_(*[KgChange.subjects.contains(f"\n{s}\n", autoescape=True) for s in subjects])


def history(db: DB, limit: int = 50, offset: int = 0, subject: Optional[SubjectLike] = None) -> list[ChangeRecord]:
    """Changes newest first; with ``subject`` (``"P0001"``, ``"prod:P0001-offer"``...) only those touching it."""
    limit = max(0, min(int(limit), 1000))
    query = select(KgChange).order_by(KgChange.id.desc()).limit(limit).offset(max(0, int(offset)))
    if subject is not None:
        query = query.where(_subject_filter([as_subject(subject)]))
    with session_scope(db) as session:
        rows = list(session.execute(query).scalars())
        by = _reverted_by(session, [row.id for row in rows])
        return [_record(row, by.get(row.id)) for row in rows]


def get_change(db: DB, change_id: Union[int, str]) -> ChangeRecord:
    """One change by id; ``ChangeNotFound`` if there is none."""
    try:
        number = int(change_id)
    except (TypeError, ValueError):
        raise ChangeNotFound(f"not a change id: {change_id!r}") from None
    with session_scope(db) as session:
        row = session.get(KgChange, number)
        if row is None:
            raise ChangeNotFound(f"no change {number} in the audit log")
        return _record(row, _reverted_by(session, [number]).get(number))


def later_changes(db: DB, change_id: int, subjects: Iterable[URIRef]) -> list[int]:
    """Ids of changes after ``change_id`` that touched any of the subjects."""
    subjects = list(subjects)
    if not subjects:
        return []
    with session_scope(db) as session:
        rows = session.execute(select(KgChange.id).where(KgChange.id > change_id, _subject_filter(subjects))
                               .order_by(KgChange.id)).scalars()
        return list(rows)


def changed_subjects(db: DB, after: int, upto: Optional[int] = None, limit: int = 1000) -> list[tuple[int, tuple[URIRef, ...]]]:
    """``(id, subjects)`` of the changes after ``after`` (up to ``upto``), oldest first, at most ``limit``."""
    query = select(KgChange.id, KgChange.subjects).where(KgChange.id > int(after))
    if upto is not None:
        query = query.where(KgChange.id <= int(upto))
    with session_scope(db) as session:
        rows = session.execute(query.order_by(KgChange.id).limit(max(1, int(limit)))).all()
    return [(int(number), tuple(URIRef(s) for s in (text or "").split("\n") if s)) for number, text in rows]


def last_change_id(db: DB) -> int:
    """The id of the newest change in the audit log (0 when it is empty)."""
    from sqlalchemy import func

    with session_scope(db) as session:
        return int(session.execute(select(func.max(KgChange.id))).scalar() or 0)

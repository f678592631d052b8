"""Writing changes to the graph: optimistic concurrency, SHACL validation, one atomic update, an audit row.

    editor = Editor(kg, connect())                       # a SPARQL endpoint and the shop database
    triples, version = editor.document("P0001")
    change = set_value(kg, "P0001", "schema:price", "99.00")
    result = editor.apply(change, "alice", expected={"P0001": version})
    editor.revert(result.record.id, "alice")

``apply`` runs inside one SQL transaction that first updates the single row of ``kg_write_lock`` (on
SQLite that takes the database's write lock, elsewhere a row lock), so writers go one at a time across
processes. Under that lock it re-reads the documents the change touches, compares their versions with
``expected`` (:class:`EditConflict` if any differs), leaves out no-ops (adding a triple already there,
removing one that is not), validates the documents as they would be (:class:`ValidationFailed`), inserts
the audit row, sends one SPARQL request ``DELETE DATA {...} ; INSERT DATA {...}`` (atomic on Oxigraph) that
also sets the graph's change counter (``knowledge.catalog_state``) to the audit row's id, and commits. If
the SPARQL write fails the transaction is rolled back and nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Union

from rdflib import URIRef
from rdflib.namespace import RDF
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from knowledge.catalog_state import change_marker, without_prefixes
from knowledge.editing import audit
from knowledge.editing.audit import ChangeRecord
from knowledge.editing.changes import Change
from knowledge.editing.checks import check_documents
from knowledge.editing.documents import (
    Document,
    SubjectLike,
    doc_key,
    document,
    documents,
    parse_expected,
    referrers,
    roots_of,
    types_of,
)
from knowledge.editing.errors import EditConflict, EmptyChange, PermissionDenied, ValidationFailed
from knowledge.editing.terms import EMPTY_VERSION, Term, Triple, format_triple, same_term
from knowledge.shopdb.engine import ShopDB, ensure_schema
from knowledge.shopdb.staff import KgWriteLock, Staff, get_staff, utcnow
from knowledge.sparql import SparqlEndpoint, render


@dataclass(frozen=True)
class EditResult:
    """What ``apply``/``revert`` wrote: the audit record, the no-ops left out, the documents' new versions."""

    record: ChangeRecord
    skipped_added: tuple[Triple, ...] = ()
    skipped_removed: tuple[Triple, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """What happened, for people: the written triples, then the no-ops."""
        return (self.record.lines()
                + [f"= {format_triple(t)} (already there)" for t in self.skipped_added]
                + [f"= {format_triple(t)} (was not there)" for t in self.skipped_removed])


@dataclass
class _Plan:
    added: list[Triple]
    removed: list[Triple]
    skipped_added: list[Triple]
    skipped_removed: list[Triple]
    subjects: set[URIRef]
    roots: set[URIRef]


def update_text(removed: Iterable[Triple], added: Iterable[Triple]) -> str:
    """One SPARQL update deleting then inserting triples, every term bound through ``knowledge.sparql.render``."""
    bindings: dict[str, tuple] = {}
    parts = []
    for keyword, name, triples in (("DELETE DATA", "r", removed), ("INSERT DATA", "a", added)):
        slots = []
        for number, triple in enumerate(sorted(triples, key=format_triple)):
            bindings[f"{name}{number}"] = triple
            slots.append(f"${name}{number} .")
        if slots:
            parts.append(f"{keyword} {{\n" + "\n".join(slots) + "\n}")
    return render(" ;\n".join(parts), **bindings)


def export_turtle(kg: SparqlEndpoint) -> str:
    """The whole graph as Turtle with the project's prefixes."""
    from knowledge.loading import dump_graph

    return dump_graph(kg).serialize(format="turtle")


class Editor:
    """Staff edits of the knowledge graph ``kg``, audited in the shop database ``db``."""

    def __init__(self, kg: SparqlEndpoint, db: Union[ShopDB, Engine]) -> None:
        self.kg = kg
        self.db = db
        self.engine: Engine = db.engine if isinstance(db, ShopDB) else db
        self._ready = False

    @classmethod
    def from_settings(cls, settings=None) -> "Editor":  # noqa: ANN001 - knowledge.settings.Settings
        """An editor on the SPARQL endpoint and database the settings (environment) name."""
        from knowledge.connections import graph_client, shop_database

        return cls(graph_client(settings), shop_database(settings))

    def close(self) -> None:
        """Close the database's pooled connections."""
        self.engine.dispose()

    # --- reading ----------------------------------------------------------------------------------------

    def document(self, subject: SubjectLike) -> Document:
        """The current ``(triples, version)`` of a product (``"P0001"``) or any other subject's document."""
        return document(self.kg, subject)

    def versions(self, subjects: Iterable[SubjectLike]) -> dict[str, str]:
        """The current version of each subject's document, keyed like ``"prod:P0001"``."""
        from knowledge.editing.documents import versions

        return versions(self.kg, subjects)

    def history(self, limit: int = 50, offset: int = 0, subject: Optional[SubjectLike] = None) -> list[ChangeRecord]:
        """Changes newest first, optionally only those touching ``subject`` (a product includes its offer and rating)."""
        self._prepare()
        return audit.history(self.engine, limit, offset, subject)

    def get_change(self, change_id: Union[int, str]) -> ChangeRecord:
        """One change of the audit log (``ChangeNotFound`` if there is none)."""
        self._prepare()
        return audit.get_change(self.engine, change_id)

    def export_turtle(self) -> str:
        """The whole graph as Turtle with the project's prefixes."""
        return export_turtle(self.kg)

    # --- writing ----------------------------------------------------------------------------------------

    def apply(
        self,
        change: Change,
        user: Union[str, Staff],
        expected: Optional[Mapping[SubjectLike, str]] = None,
    ) -> EditResult:
        """Validate and write a change as ``user`` (an active editor or admin), recorded in the audit log.

        ``expected`` maps documents (``"P0001"``, ``"prod:P0001"``, ``"brand:stridewell"``) to the versions
        the user saw; they are checked together with the versions the change was built on
        (``change.based_on``), a version in ``expected`` winning over the built-on one of the same document.
        Raises ``EmptyChange``, ``PermissionDenied``, ``EditConflict`` or ``ValidationFailed``; nothing is
        written then.
        """
        wanted = parse_expected(change.expected)
        wanted.update(parse_expected(expected or {}))
        return self._write(change, user, wanted)

    def revert(self, change_id: Union[int, str], user: Union[str, Staff], summary: str = "") -> EditResult:
        """Undo a change exactly; ``EditConflict`` if later edits touched its triples (nothing is written then)."""
        self._prepare()
        record = audit.get_change(self.engine, change_id)
        inverse = Change(added=record.removed, removed=record.added,
                         summary=summary or f"revert change {record.id}: {record.summary}")
        return self._write(inverse, user, {}, reverts=record)

    # --- internals --------------------------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._ready:
            return
        ensure_schema(self.engine)
        try:
            with self.engine.begin() as connection:
                if connection.execute(select(KgWriteLock.id).where(KgWriteLock.id == 1)).first() is None:
                    connection.execute(insert(KgWriteLock.__table__).values(id=1, writes=0))
        except IntegrityError:
            pass  # another writer created the row at the same moment
        self._ready = True

    def _writer(self, user: Union[str, Staff]) -> Staff:
        username = user.username if isinstance(user, Staff) else str(user)
        staff = get_staff(self.engine, username)
        if staff is None:
            raise PermissionDenied(f"no staff account {username!r}")
        if not staff.active:
            raise PermissionDenied(f"the staff account {username!r} is not active")
        if not staff.can("write"):
            raise PermissionDenied(f"{username!r} is a {staff.role} and may not edit the graph (needs editor or admin)")
        return staff

    def _write(
        self,
        change: Change,
        user: Union[str, Staff],
        expected: dict[URIRef, str],
        reverts: Optional[ChangeRecord] = None,
    ) -> EditResult:
        if change.is_empty() and not expected:  # with versions, a stale one is a conflict, not "nothing to do"
            raise EmptyChange("nothing to change: the change adds and removes no triples", change)
        self._prepare()
        staff = self._writer(user)
        connection = self.engine.connect()
        try:
            transaction = connection.begin()
            try:
                connection.execute(update(KgWriteLock.__table__).where(KgWriteLock.id == 1)
                                   .values(writes=KgWriteLock.writes + 1, updated_at=utcnow()))
                plan = self._plan(change, expected, reverts)
                written = Change(frozenset(plan.added), frozenset(plan.removed), change.summary)
                change_id = audit.record_change(connection, written, staff.username, plan.subjects,
                                                reverts.id if reverts else None)
                # the change and the graph's change counter in one request: a reader sees both or neither
                self.kg.update(update_text(plan.removed, plan.added) + " ;\n" + without_prefixes(change_marker(change_id)))
            except BaseException:
                transaction.rollback()
                raise
            try:  # still under the lock: exactly the versions this write produced
                versions = {doc_key(root): doc.version for root, doc in documents(self.kg, plan.roots).items()}
            except Exception:  # noqa: BLE001 - the write is done; the caller can read the versions again
                versions = {}
            try:
                transaction.commit()
            except BaseException:
                self._compensate(plan)
                raise
        finally:
            connection.close()
        record = audit.get_change(self.engine, change_id)
        return EditResult(record, tuple(plan.skipped_added), tuple(plan.skipped_removed), versions)

    def _compensate(self, plan: _Plan) -> None:
        """Undo a graph write whose audit row could not be committed (best effort)."""
        try:
            self.kg.update(update_text(plan.added, plan.removed))
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass

    def _plan(self, change: Change, expected: dict[URIRef, str], reverts: Optional[ChangeRecord]) -> _Plan:
        kg = self.kg
        owner_map = roots_of(kg, change.subjects, change.added)
        roots = {root for found in owner_map.values() for root in found}
        untyped = {s for s, p, _ in change.removed if p == RDF.type}
        dependent: set[URIRef] = set()
        if untyped:  # removing a node's type can break the documents that point at it
            pointing = referrers(kg, untyped) - untyped
            dependent = {root for found in roots_of(kg, pointing).values() for root in found}
            roots |= dependent
        if expected:  # a version given for an offer or rating node is the version of its product's document
            owned_by = roots_of(kg, expected, change.added)
            expected = {min(owned_by[key], key=str): version for key, version in expected.items()}
        roots |= set(expected)
        docs = documents(kg, roots)
        self._check_versions(change, expected, docs)

        current: dict[tuple[URIRef, URIRef], list[Term]] = {}
        for doc in docs.values():
            for s, p, o in doc.triples:
                values = current.setdefault((s, p), [])
                if o not in values:
                    values.append(o)

        def match(triple: Triple) -> Optional[Term]:
            return next((o for o in current.get(triple[:2], []) if same_term(o, triple[2])), None)

        removed: dict[Triple, None] = {}  # ordered sets
        skipped_removed: list[Triple] = []
        for triple in sorted(change.removed, key=format_triple):
            found = match(triple)
            if found is None:
                skipped_removed.append(triple)
            else:
                removed[(triple[0], triple[1], found)] = None
        added_by: dict[tuple[URIRef, URIRef], list[Term]] = {}
        skipped_added: list[Triple] = []
        for triple in sorted(change.added, key=format_triple):
            found = match(triple)
            if found is None:
                values = added_by.setdefault(triple[:2], [])
                if not any(same_term(o, triple[2]) for o in values):
                    values.append(triple[2])
            elif (triple[0], triple[1], found) in removed:  # removed and added back: nothing happens
                del removed[(triple[0], triple[1], found)]
                skipped_added.append(triple)
            else:
                skipped_added.append(triple)
        added = [(s, p, o) for (s, p), values in added_by.items() for o in values]

        if reverts is not None and (skipped_added or skipped_removed):
            self._revert_conflict(change, reverts, skipped_added, skipped_removed, docs)
        if not added and not removed:
            raise EmptyChange("nothing to change: every triple of the change is already as asked", change,
                              tuple(skipped_added), tuple(skipped_removed))

        subjects = {t[0] for t in added} | {t[0] for t in removed}
        touched = {root for s in subjects for root in owner_map.get(s, {s})}
        # only the documents the change touches (and those pointing at a node losing its type) are checked
        after: dict[URIRef, set[Triple]] = {root: set(docs[root].triples) for root in touched | dependent}
        for triple in removed:
            for root in owner_map.get(triple[0], {triple[0]}):
                after[root].discard(triple)
        for triple in added:
            for root in owner_map.get(triple[0], {triple[0]}):
                after[root].add(triple)
        objects = {o for triples in after.values() for _, _, o in triples if isinstance(o, URIRef)}
        context = types_of(kg, objects) - removed.keys()
        context |= {t for t in added if t[1] == RDF.type and t[0] in objects}
        problems = check_documents(after, context)
        if problems:
            raise ValidationFailed(tuple(problems), change)

        return _Plan(added, list(removed), skipped_added, skipped_removed, subjects | touched, touched)

    @staticmethod
    def _check_versions(change: Change, expected: dict[URIRef, str], docs: dict[URIRef, Document]) -> None:
        stale = {root: version for root, version in expected.items() if docs[root].version != version}
        if not stale:
            return
        details = []
        for root, version in sorted(stale.items(), key=lambda item: str(item[0])):
            if version == EMPTY_VERSION:
                details.append(f"{doc_key(root)} already exists")
            elif docs[root].version == EMPTY_VERSION:
                details.append(f"{doc_key(root)} was deleted")
            else:
                details.append(f"{doc_key(root)} changed (you saw version {version}, it is now {docs[root].version})")
        raise EditConflict(
            "someone else changed the graph since you read it; nothing was written: " + "; ".join(details),
            change,
            expected={doc_key(root): version for root, version in expected.items()},
            current={doc_key(root): doc.version for root, doc in docs.items()},
            details=tuple(details),
        )

    def _revert_conflict(
        self,
        change: Change,
        record: ChangeRecord,
        already_there: list[Triple],
        missing: list[Triple],
        docs: dict[URIRef, Document],
    ) -> None:
        # ``change`` is the inverse of ``record``: triples the original removed that are ``already_there``
        # again, or triples the original added that are ``missing`` now, mean later edits touched them.
        details = tuple([f"{format_triple(t)} is no longer in the graph" for t in missing]
                        + [f"{format_triple(t)} is back in the graph" for t in already_there])
        if record.reverted_by is not None:
            message = f"change {record.id} was already reverted by change {record.reverted_by}; nothing was written"
        else:
            later = audit.later_changes(self.engine, record.id, {t[0] for t in already_there + missing})
            since = f" (changes since: {', '.join(map(str, later))})" if later else ""
            message = (f"cannot revert change {record.id}: later edits changed its triples{since}; "
                       f"nothing was written: " + "; ".join(details))
        raise EditConflict(message, change, current={doc_key(r): d.version for r, d in docs.items()}, details=details)

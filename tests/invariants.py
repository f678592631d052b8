"""Content invariants: what the graph and the shop database hold, row for row and triple for triple.

A count is not a content check: a ``set`` that replaces a price or an in-place ``UPDATE orders`` keeps
every count. A :class:`Snapshot` holds the sorted N-Triples of the graph and every row of every shop table,
each with a SHA-256 digest, so a test can say exactly what changed between two moments::

    before = Snapshot.take(kg, engine)
    ...  # the hostile input, the refused edit
    before.assert_unchanged(Snapshot.take(kg, engine))
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

from knowledge.catalog_state import STATE_NODE

Row = tuple  # the values as the database driver returns them

#: Tables outside the shop's own state: the graph writers' lock row is updated by every write (and by none
#: that is refused, which the audit log and the graph already show).
NOT_CONTENT = frozenset({"kg_write_lock"})
#: Columns that record when something was last used, not what the shop holds: every authenticated read sets them.
BOOKKEEPING = {"staff_tokens": frozenset({"last_used"})}
#: The graph's change counter (knowledge/catalog_state.py): every accepted edit moves it, it says nothing of the shop.
STATE_SUBJECT = f"<{STATE_NODE}> "


def graph_lines(kg: Any) -> list[str]:
    """Every triple of the default graph as an N-Triples line, sorted (equal lists, equal graphs)."""
    query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
    if hasattr(kg, "query_url") and hasattr(kg, "session"):  # an HTTP SPARQL endpoint: ask for N-Triples
        from pyoxigraph import RdfFormat, parse

        response = kg.session.post(kg.query_url, data={"query": query}, auth=None,
                                   headers={"Accept": "application/n-triples"}, timeout=60)
        response.raise_for_status()
        # re-serialised by one parser: servers differ in whitespace (Virtuoso writes tabs)
        lines = {f"{quad.triple} ." for quad in parse(response.text, format=RdfFormat.N_TRIPLES)}
    else:
        rows = kg.select("SELECT ?s ?p ?o WHERE { ?s ?p ?o }")
        lines = {f"{row['s'].n3()} {row['p'].n3()} {row['o'].n3()} ." for row in rows}
    return sorted(line for line in lines if not line.startswith(STATE_SUBJECT))


def table_rows(engine: Engine, skip: Iterable[str] = NOT_CONTENT) -> dict[str, frozenset[Row]]:
    """Every row of every table the database holds (read from the database itself, so none is forgotten)."""
    metadata = MetaData()
    metadata.reflect(engine)
    skipped = set(skip)
    rows: dict[str, frozenset[Row]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name in skipped:
                continue
            quote = engine.dialect.identifier_preparer.quote
            columns = [c.name for c in table.columns if c.name not in BOOKKEEPING.get(table.name, ())]
            keys = [i for i, name in enumerate(columns) if table.columns[name].primary_key] or list(range(len(columns)))
            query = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)}"  # stored values as they are
            rows[table.name] = frozenset(map(tuple, connection.exec_driver_sql(query).fetchall()))
            _PRIMARY_KEYS[table.name] = keys
    return rows


def digest(lines: Iterable[Any]) -> str:
    """The SHA-256 of sorted lines (rows are written as their repr)."""
    sha = hashlib.sha256()
    for line in sorted(line if isinstance(line, str) else repr(line) for line in lines):
        sha.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return sha.hexdigest()


_PRIMARY_KEYS: dict[str, list[int]] = {}


def primary_key_positions(table_name: str) -> list[int]:
    """The positions of a table's primary-key columns in its rows (every column if it has no key)."""
    return _PRIMARY_KEYS[table_name]


@dataclass(frozen=True)
class TableChange:
    """Rows that appeared in a table and rows that disappeared (an UPDATE is one of each)."""

    added: frozenset[Row] = field(default_factory=frozenset)
    removed: frozenset[Row] = field(default_factory=frozenset)

    def appended_only(self, table_name: str, before: frozenset[Row]) -> bool:
        """True if rows were only added, each under a primary key the table did not hold before."""
        if self.removed:
            return False
        keys = primary_key_positions(table_name)
        old_keys = {tuple(row[i] for i in keys) for row in before}
        return all(tuple(row[i] for i in keys) not in old_keys for row in self.added)


@dataclass(frozen=True)
class Snapshot:
    """The graph's triples and the shop tables' rows at one moment, with their digests."""

    triples: tuple[str, ...]
    tables: Mapping[str, frozenset[Row]]

    @classmethod
    def take(cls, kg: Any = None, engine: Optional[Engine] = None, skip: Iterable[str] = ()) -> "Snapshot":
        """Read the whole graph (if a SPARQL endpoint is given) and every table (if an engine is) but ``skip``."""
        triples = tuple(graph_lines(kg)) if kg is not None else ()
        tables = table_rows(engine, NOT_CONTENT | set(skip)) if engine is not None else {}
        return cls(triples, tables)

    @property
    def graph_digest(self) -> str:
        """SHA-256 of the sorted N-Triples."""
        return digest(self.triples)

    @property
    def database_digest(self) -> str:
        """SHA-256 of every row of every table, each prefixed by its table's name."""
        return digest(f"{name}\t{row!r}" for name, rows in self.tables.items() for row in rows)

    def graph_changes(self, later: "Snapshot") -> tuple[set[str], set[str]]:
        """Triples added and removed since this snapshot."""
        mine, theirs = set(self.triples), set(later.triples)
        return theirs - mine, mine - theirs

    def table_changes(self, later: "Snapshot") -> dict[str, TableChange]:
        """The tables whose rows differ since this snapshot, with what was added and removed."""
        changes = {}
        for name in set(self.tables) | set(later.tables):
            mine, theirs = self.tables.get(name, frozenset()), later.tables.get(name, frozenset())
            if mine != theirs:
                changes[name] = TableChange(frozenset(theirs - mine), frozenset(mine - theirs))
        return changes

    def assert_unchanged(self, later: "Snapshot", context: Any = "", appendable: Iterable[str] = ()) -> None:
        """Fail, saying what changed, unless the graph and every table are exactly as before.

        Tables in ``appendable`` (logs) may gain rows under new keys; none of their rows may change or go.
        """
        added, removed = self.graph_changes(later)
        assert self.graph_digest == later.graph_digest, (
            f"the graph changed {context!r}: +{sorted(added)[:5]} -{sorted(removed)[:5]}")
        allowed = set(appendable)
        for name, change in self.table_changes(later).items():
            if name in allowed and change.appended_only(name, self.tables.get(name, frozenset())):
                continue
            raise AssertionError(f"table {name} changed {context!r}: "
                                 f"+{sorted(change.added)[:3]} -{sorted(change.removed)[:3]}")

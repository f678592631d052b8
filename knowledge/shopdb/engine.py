"""Connecting to the shop database: engines, the schema on first use, sessions and row counts."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from sqlalchemy import MetaData, create_engine, event, func, inspect, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from knowledge.shopdb.models import TABLES, Base


def _sqlite_file(url: URL) -> Optional[Path]:
    """The file of a SQLite URL, or None for in-memory databases and other dialects."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: Union[str, URL]) -> Engine:
    """An engine for a database URL; for a SQLite file its folder is created and foreign keys are enforced."""
    url = make_url(url)
    options: dict[str, Any] = {"future": True}
    path = _sqlite_file(url)
    if url.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": 30}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    else:
        options["pool_pre_ping"] = True
    engine = create_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def ensure_schema(engine: Engine) -> None:
    """Create the tables that do not exist yet (existing tables and rows are left alone)."""
    import knowledge.shopdb.behaviour  # registers the live behaviour log on Base
    import knowledge.shopdb.handoff  # registers the live hand-over's tables on Base
    import knowledge.shopdb.staff  # registers the staff tables and the graph's audit log on Base

    Base.metadata.create_all(engine, checkfirst=True)
    knowledge.shopdb.staff.widen_roles(engine)


def drop_schema(engine: Engine) -> None:
    """Drop the shop tables and the tables that refer to them (staff accounts, the audit log and other tables stay)."""
    existing = MetaData()
    existing.reflect(engine)  # from the database itself: tables other modules added (hand-overs) are known too
    doomed = {table.name for table in TABLES}
    grown = True
    while grown:
        dependents = {t.name for t in existing.sorted_tables
                      if any(fk.column.table.name in doomed for fk in t.foreign_keys)}
        grown = not dependents <= doomed
        doomed |= dependents
    existing.drop_all(engine, tables=[t for t in existing.sorted_tables if t.name in doomed], checkfirst=True)


def row_counts(engine: Engine) -> dict[str, int]:
    """How many rows each shop table holds (0 for a table that does not exist yet)."""
    existing = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for table in TABLES:
            if table.name in existing:
                counts[table.name] = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            else:
                counts[table.name] = 0
    return counts


class ShopDB:
    """The shop database: an engine whose schema exists, and its sessions."""

    def __init__(self, engine: Engine, create_schema: bool = True) -> None:
        self.engine = engine
        if create_schema:
            ensure_schema(engine)
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL with any password hidden (safe to print)."""
        return self.engine.url.render_as_string(hide_password=True)

    def session(self) -> Session:
        """A new session; use it as a context manager (``with db.session() as s: ...``)."""
        return self._sessions()

    def is_empty(self) -> bool:
        """Whether the database holds no customers and no orders."""
        counts = row_counts(self.engine)
        return counts["customers"] == 0 and counts["orders"] == 0

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()


def connect(url: Optional[Union[str, URL]] = None) -> ShopDB:
    """The shop database at a URL (default: ``Settings().database_url``), its schema created on first use."""
    if url is None:
        from knowledge.settings import get_settings

        url = get_settings().database_url
    return ShopDB(make_engine(url))


#: What the service functions accept: the database, its engine, or an open session.
DB = Union[ShopDB, Engine, Session]


@contextmanager
def session_scope(db: DB) -> Iterator[Session]:
    """A session for ``db``: the session itself when given one (left open), else a new one closed afterwards."""
    if isinstance(db, Session):
        yield db
        return
    if isinstance(db, ShopDB):
        session = db.session()
    elif isinstance(db, Engine):
        session = Session(bind=db, future=True, expire_on_commit=False)
    else:
        raise TypeError(f"expected a ShopDB, Engine or Session, got {type(db).__name__}")
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

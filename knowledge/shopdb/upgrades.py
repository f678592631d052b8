"""Bringing a shop database made by an older version up to this version's schema (``knowledge.shopdb.models``):
the columns added since, and the staff roles' CHECK constraint widened."""

from __future__ import annotations

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine

from knowledge.shopdb.models import ROLES, StaffAccount, _in

#: Columns added after the first release: (table, column, SQL type); they start out NULL in existing rows.
ADDED_COLUMNS = (
    ("staff_tokens", "expires_at", "TIMESTAMP"), ("staff", "display_name", "VARCHAR(64)"),
    ("handoff_requests", "triggered_by", "VARCHAR(32)"), ("handoff_requests", "previous_intent", "VARCHAR(64)"),
    ("handoff_requests", "agent", "VARCHAR(64)"), ("handoff_requests", "taken_at", "TIMESTAMP"),
    ("handoff_requests", "first_reply_at", "TIMESTAMP"), ("handoff_requests", "closed_at", "TIMESTAMP"),
    ("handoff_requests", "outcome", "VARCHAR(16)"), ("handoff_requests", "close_note", "TEXT"),
    ("handoff_requests", "forwarded_event", "INTEGER"),
)


def upgrade(engine: Engine) -> None:
    """Bring the tables an older version created up to this version (tables already current are left alone)."""
    add_new_columns(engine)
    widen_roles(engine)


def add_new_columns(engine: Engine) -> None:
    """Give tables created by an older version the columns this version needs."""
    with engine.begin() as connection:
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        for table, column, sql_type in ADDED_COLUMNS:
            if table in tables and column not in {c["name"] for c in inspector.get_columns(table)}:
                connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))  # constants only


def widen_roles(engine: Engine) -> None:
    """Let a staff table made by an older version hold today's roles (its CHECK constraint listed fewer).

    PostgreSQL and most databases replace the constraint; SQLite, which cannot alter one, copies the table
    into a new one as its documentation describes (foreign keys off meanwhile, so tokens and sessions stay).
    """
    wanted = _in("role", ROLES)
    with engine.connect() as connection:
        if "staff" not in inspect(connection).get_table_names():
            return
        if engine.dialect.name == "sqlite":
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'staff'").scalar() or ""
            if all(repr(role) in sql for role in ROLES):
                return
            _rebuild_sqlite_staff(connection)
            return
        checks = {c.get("name"): c.get("sqltext", "") for c in inspect(connection).get_check_constraints("staff")}
        if "ck_staff_role" in checks and all(role in str(checks["ck_staff_role"]) for role in ROLES):
            return
        if "ck_staff_role" in checks:
            connection.exec_driver_sql("ALTER TABLE staff DROP CONSTRAINT ck_staff_role")
        connection.exec_driver_sql(f"ALTER TABLE staff ADD CONSTRAINT ck_staff_role CHECK ({wanted})")  # constants
        connection.commit()


def _rebuild_sqlite_staff(connection: Connection) -> None:
    """SQLite's twelve steps for a changed constraint: new table, copy, drop, rename, check the foreign keys."""
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        old = {c["name"] for c in inspect(connection).get_columns("staff")}
        new = StaffAccount.__table__.to_metadata(MetaData(), name="staff_new")
        new.create(connection)
        columns = ", ".join(c.name for c in new.columns if c.name in old)  # names from our own model only
        connection.exec_driver_sql(f"INSERT INTO staff_new ({columns}) SELECT {columns} FROM staff")
        connection.exec_driver_sql("DROP TABLE staff")
        connection.exec_driver_sql("ALTER TABLE staff_new RENAME TO staff")
        problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"the staff table could not be upgraded: {problems}")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")

"""Support staff: accounts with roles, API tokens, web sessions, and the audit log of their graph edits.

    add_staff(db, "alice", "a long password", role="editor")
    staff = authenticate(db, "alice", "a long password")        # Staff or None
    token = issue_token(db, "alice"); staff_for_token(db, token)  # for the REST API
    opened = open_session(db, "alice"); session_for(db, opened.cookie)  # for the web admin

Roles are ``viewer`` (may read), ``editor`` (may also write the graph), ``agent`` (may read and answer
shoppers handed over to a person) and ``admin`` (may do everything, answering shoppers included):
``can(role, action)``. Passwords are stored as
``scrypt$n$r$p$salt$hash`` (random salt, n=2**17, r=8, p=1 as OWASP recommends; a hash made with weaker
parameters is replaced at the next good sign-in); tokens and session ids only as SHA-256 hashes. API
tokens expire (``STAFF_TOKEN_DAYS``, default 30); ``revoke_staff`` ends every token and session of a staff
member, and a new password does the same. The tables live in the shop database (``ensure_schema`` creates
them, and adds the columns newer versions need to tables an older version created); ``kg_changes`` and
``kg_write_lock`` belong to ``knowledge.editing``, which writes and reads them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import (Boolean, CheckConstraint, Column, DateTime, ForeignKey, Integer, MetaData, String, Text, delete,
                        event, inspect, select, text)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import Base, _in

ROLES = ("viewer", "editor", "agent", "admin")
ACTIONS = ("read", "write", "manage", "handoff")
_ROLE_ACTIONS = {
    "viewer": frozenset({"read"}),
    "editor": frozenset({"read", "write"}),
    "agent": frozenset({"read", "handoff"}),
    "admin": frozenset(ACTIONS),
}

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1  # 128 MiB and about half a second per hash, as OWASP recommends
_SCRYPT_MAXMEM = 2 * 128 * SCRYPT_N * SCRYPT_R  # never more than twice what today's parameters need
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
SESSION_LIFETIME = timedelta(hours=8)
TOKEN_LIFETIME = timedelta(days=30)  # the default; `STAFF_TOKEN_DAYS` sets it for the API and the CLI


class StaffAccount(Base):
    """A support staff member who may sign in to the admin page, the REST API and the CLI."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_staff_role"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False, default="viewer")
    display_name = Column(String(64), nullable=True)  # what shoppers see when this person answers them
    created_at = Column(DateTime, nullable=False)
    active = Column(Boolean, nullable=False, default=True)


class StaffToken(Base):
    """An API token of a staff member, stored as its SHA-256 hash."""

    __tablename__ = "staff_tokens"

    id = Column(Integer, primary_key=True, autoincrement=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    username = Column(String(64), ForeignKey("staff.username", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)
    last_used = Column(DateTime, nullable=True)
    expires_at = Column(DateTime, nullable=True)  # NULL (a token of an older version): created_at + TOKEN_LIFETIME


class StaffSession(Base):
    """A signed-in web session: the cookie's SHA-256 hash, its CSRF token and when it expires."""

    __tablename__ = "staff_sessions"

    id_hash = Column(String(64), primary_key=True)
    username = Column(String(64), ForeignKey("staff.username", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False, index=True)


class KgChange(Base):
    """One change written to the knowledge graph: who, when, what (N-Triples added and removed), which subjects."""

    __tablename__ = "kg_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, index=True)
    summary = Column(Text, nullable=False, default="")
    added = Column(Text, nullable=False, default="")
    removed = Column(Text, nullable=False, default="")
    reverts = Column(Integer, ForeignKey("kg_changes.id"), nullable=True, index=True)
    subjects = Column(Text, nullable=False, default="")


class KgWriteLock(Base):
    """One row that every graph writer updates first: it serialises writers (SQLite write lock, row lock elsewhere)."""

    __tablename__ = "kg_write_lock"

    id = Column(Integer, primary_key=True)
    writes = Column(Integer, nullable=False, default=0)
    updated_at = Column(DateTime, nullable=True)


#: The tables of this module (``knowledge.shopdb.models.TABLES`` holds only the shop's own).
STAFF_TABLES = (
    StaffAccount.__table__, StaffToken.__table__, StaffSession.__table__, KgChange.__table__, KgWriteLock.__table__,
)

#: Columns added after the first release: (table, column, SQL type), added to existing tables on start.
_ADDED_COLUMNS = (("staff_tokens", "expires_at", "TIMESTAMP"), ("staff", "display_name", "VARCHAR(64)"))


@event.listens_for(Base.metadata, "after_create")
def _add_new_columns(_metadata, connection, **_kw: object) -> None:  # noqa: ANN001 - SQLAlchemy's DDL event
    """Give tables created by an older version the columns this version needs (they start out NULL)."""
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    for table, column, sql_type in _ADDED_COLUMNS:
        if table in tables and column not in {c["name"] for c in inspector.get_columns(table)}:
            connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))  # constants only


class StaffError(ValueError):
    """A staff account operation that cannot be done (unknown user, duplicate name, weak password...)."""


@dataclass(frozen=True)
class Staff:
    """A staff member as the rest of the code sees one (never the password hash)."""

    username: str
    role: str
    active: bool
    created_at: datetime
    display_name: Optional[str] = None

    def can(self, action: str) -> bool:
        """Whether this staff member is active and their role allows ``action`` (read, write, manage, handoff)."""
        return self.active and can(self.role, action)

    @property
    def name(self) -> str:
        """The name shoppers see: the display name, else the username."""
        return self.display_name or self.username


@dataclass(frozen=True)
class OpenedSession:
    """A new web session: the cookie value to set (shown once), its CSRF token and expiry (naive UTC)."""

    cookie: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class WebSession:
    """A live web session: its staff member, CSRF token and expiry (naive UTC)."""

    staff: Staff
    csrf_token: str
    expires_at: datetime


def utcnow() -> datetime:
    """Now in UTC, timezone-naive like every datetime of the shop database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def can(role: str, action: str) -> bool:
    """Whether a role may do an action: viewer reads, editor also writes, agent answers shoppers, admin all."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    return action in _ROLE_ACTIONS.get(role, frozenset())


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


# --- passwords ------------------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash of a password: ``scrypt$n$r$p$salt$hash`` (base64 salt and hash)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parameters(stored: str) -> Optional[tuple[int, int, int]]:
    try:
        scheme, n, r, p, _salt, _digest = stored.split("$")
        return (int(n), int(r), int(p)) if scheme == "scrypt" else None
    except (ValueError, AttributeError):
        return None


def verify_password(password: str, stored: str) -> bool:
    """Whether a password matches a stored hash (constant-time comparison)."""
    parameters = _parameters(stored)
    if parameters is None:
        return False
    n, r, p = parameters
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * n * r * p > _SCRYPT_MAXMEM // 2:
        return False  # not scrypt's form, or costlier than today's parameters: refuse rather than work for it
    try:
        _scheme, _n, _r, _p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=n, r=r, p=p,
                                maxmem=_SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with parameters other than today's (it is replaced at the next sign-in)."""
    return _parameters(stored) != (SCRYPT_N, SCRYPT_R, SCRYPT_P)


_DUMMY_HASH: Optional[str] = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise StaffError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise StaffError(f"a password may have at most {MAX_PASSWORD} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r} (one of {', '.join(ROLES)})")


def _view(account: StaffAccount) -> Staff:
    return Staff(account.username, account.role, bool(account.active), account.created_at, account.display_name)


def _account(session, username: str) -> StaffAccount:  # noqa: ANN001 - sqlalchemy Session
    account = session.execute(select(StaffAccount).where(StaffAccount.username == username)).scalar_one_or_none()
    if account is None:
        raise StaffError(f"no staff account {username!r}")
    return account


# --- accounts -------------------------------------------------------------------------------------------

def add_staff(db: DB, username: str, password: str, role: str = "editor",
              display_name: Optional[str] = None) -> Staff:
    """Create an active staff account; ``StaffError`` if the name is taken or invalid or the password too short."""
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise StaffError(f"not a valid username: {username!r} (letters, digits and . _ @ -, at most 64)")
    _check_role(role)
    _check_password(password)
    account = StaffAccount(username=username, password_hash=hash_password(password), role=role,
                           display_name=_display_name(display_name), created_at=utcnow(), active=True)
    with session_scope(db) as session:
        session.add(account)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise StaffError(f"a staff account {username!r} already exists") from None
        return _view(account)


def get_staff(db: DB, username: str) -> Optional[Staff]:
    """The staff account with this username, active or not (None if there is none)."""
    with session_scope(db) as session:
        account = session.execute(select(StaffAccount).where(StaffAccount.username == username)).scalar_one_or_none()
        return _view(account) if account is not None else None


def list_staff(db: DB) -> list[Staff]:
    """Every staff account, by username."""
    with session_scope(db) as session:
        return [_view(a) for a in session.execute(select(StaffAccount).order_by(StaffAccount.username)).scalars()]


def authenticate(db: DB, username: str, password: str) -> Optional[Staff]:
    """The active staff member with this username and password, else None (same work either way)."""
    with session_scope(db) as session:
        account = None
        if isinstance(username, str) and USERNAME.fullmatch(username):
            account = session.execute(
                select(StaffAccount).where(StaffAccount.username == username)
            ).scalar_one_or_none()
        stored = account.password_hash if account is not None else _dummy_hash()
        password = password if isinstance(password, str) else ""
        ok = verify_password(password, stored)
        if account is None or not ok or not account.active:
            return None
        if needs_rehash(stored):  # made with older, weaker parameters: the password is at hand, so upgrade it now
            account.password_hash = hash_password(password)
            session.commit()
        return _view(account)


def set_password(db: DB, username: str, password: str) -> None:
    """Give a staff member a new password; every API token and web session they had stops working."""
    _check_password(password)
    with session_scope(db) as session:
        _account(session, username).password_hash = hash_password(password)
        _revoke(session, username)
        session.commit()


def _display_name(value: Optional[str]) -> Optional[str]:
    if value is None or not str(value).strip():
        return None
    name = " ".join(str(value).split())
    if len(name) > 64 or any(ord(c) < 32 for c in name):
        raise StaffError("a display name has at most 64 characters on one line")
    return name


def set_display_name(db: DB, username: str, display_name: Optional[str]) -> Staff:
    """Set the name shoppers see when this staff member answers them (empty: the username)."""
    with session_scope(db) as session:
        account = _account(session, username)
        account.display_name = _display_name(display_name)
        session.commit()
        return _view(account)


def set_role(db: DB, username: str, role: str) -> Staff:
    """Change a staff member's role."""
    _check_role(role)
    with session_scope(db) as session:
        account = _account(session, username)
        account.role = role
        session.commit()
        return _view(account)


def set_active(db: DB, username: str, active: bool) -> Staff:
    """Activate or deactivate an account; a deactivated one cannot sign in, and its sessions and tokens stop working."""
    with session_scope(db) as session:
        account = _account(session, username)
        account.active = bool(active)
        session.commit()
        return _view(account)


# --- API tokens -----------------------------------------------------------------------------------------

def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _token_lifetime() -> timedelta:
    from knowledge.settings import get_settings

    return timedelta(days=get_settings().staff_token_days)


def issue_token(db: DB, username: str, lifetime: Optional[timedelta] = None) -> str:
    """A new API token for a staff member, valid for ``lifetime`` (default ``STAFF_TOKEN_DAYS``); shown once."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope(db) as session:
        _account(session, username)
        session.add(StaffToken(token_hash=_sha256(token), username=username, created_at=now,
                               expires_at=now + (lifetime if lifetime is not None else _token_lifetime())))
        session.commit()
    return token


def staff_for_token(db: DB, token: str) -> Optional[Staff]:
    """The active staff member an unexpired API token belongs to (its last use is recorded), else None."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    with session_scope(db) as session:
        row = session.execute(
            select(StaffToken, StaffAccount).join(StaffAccount, StaffAccount.username == StaffToken.username)
            .where(StaffToken.token_hash == _sha256(token))
        ).first()
        if row is None or not row[1].active:
            return None
        now = utcnow()
        if (row[0].expires_at or row[0].created_at + TOKEN_LIFETIME) <= now:
            session.delete(row[0])
            session.commit()
            return None
        row[0].last_used = now
        session.commit()
        return _view(row[1])


def _revoke(session, username: str) -> tuple[int, int]:  # noqa: ANN001 - sqlalchemy Session
    tokens = session.execute(delete(StaffToken).where(StaffToken.username == username)).rowcount
    sessions = session.execute(delete(StaffSession).where(StaffSession.username == username)).rowcount
    return int(tokens or 0), int(sessions or 0)


def revoke_staff(db: DB, username: str) -> tuple[int, int]:
    """End every API token and web session of a staff member; how many of each there were."""
    with session_scope(db) as session:
        _account(session, username)
        counts = _revoke(session, username)
        session.commit()
        return counts


def revoke_token(db: DB, token: str) -> bool:
    """Make an API token stop working; whether it existed."""
    with session_scope(db) as session:
        result = session.execute(delete(StaffToken).where(StaffToken.token_hash == _sha256(token)))
        session.commit()
        return bool(result.rowcount)


# --- web sessions ---------------------------------------------------------------------------------------

def open_session(db: DB, username: str, lifetime: timedelta = SESSION_LIFETIME) -> OpenedSession:
    """Start a web session for an active staff member: a random cookie value and a CSRF token."""
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope(db) as session:
        if not _account(session, username).active:
            raise StaffError(f"the staff account {username!r} is not active")
        session.add(StaffSession(id_hash=_sha256(cookie), username=username, csrf_token=csrf, created_at=now,
                                 expires_at=now + lifetime))
        session.commit()
    return OpenedSession(cookie, csrf, now + lifetime)


def session_for(db: DB, cookie: str) -> Optional[WebSession]:
    """The live session a cookie value belongs to (not expired, account active), else None."""
    if not isinstance(cookie, str) or not cookie or len(cookie) > 200:
        return None
    with session_scope(db) as session:
        row = session.execute(
            select(StaffSession, StaffAccount).join(StaffAccount, StaffAccount.username == StaffSession.username)
            .where(StaffSession.id_hash == _sha256(cookie))
        ).first()
        if row is None:
            return None
        web, account = row
        if web.expires_at <= utcnow():
            session.delete(web)
            session.commit()
            return None
        if not account.active:
            return None
        return WebSession(_view(account), web.csrf_token, web.expires_at)


def close_session(db: DB, cookie: str) -> bool:
    """End a web session (sign out); whether it existed."""
    with session_scope(db) as session:
        result = session.execute(delete(StaffSession).where(StaffSession.id_hash == _sha256(cookie)))
        session.commit()
        return bool(result.rowcount)


def purge_sessions(db: DB) -> int:
    """Delete expired web sessions; how many."""
    with session_scope(db) as session:
        result = session.execute(delete(StaffSession).where(StaffSession.expires_at <= utcnow()))
        session.commit()
        return int(result.rowcount or 0)


def check_csrf(web: WebSession, token: str) -> bool:
    """Whether a submitted CSRF token is the session's (constant-time comparison)."""
    return isinstance(token, str) and hmac.compare_digest(web.csrf_token.encode(), token.encode())

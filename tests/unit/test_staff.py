"""Unit tests of knowledge.shopdb.staff: password hashing, accounts, roles, API tokens and web sessions."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import inspect, select

from knowledge.shopdb import ShopDB, connect, row_counts
from knowledge.shopdb.engine import drop_schema
from knowledge.shopdb.models import TABLES
from knowledge.shopdb.staff import (
    STAFF_TABLES,
    StaffAccount,
    StaffError,
    StaffSession,
    StaffToken,
    add_staff,
    authenticate,
    can,
    check_csrf,
    close_session,
    get_staff,
    hash_password,
    issue_token,
    list_staff,
    open_session,
    purge_sessions,
    revoke_token,
    session_for,
    set_active,
    set_password,
    set_role,
    staff_for_token,
    verify_password,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ShopDB]:
    shop = connect(f"sqlite:///{tmp_path / 'shop.db'}")
    yield shop
    shop.dispose()


def test_password_hash_format_and_check() -> None:
    stored = hash_password("correct horse")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**17), "8", "1")  # OWASP's recommendation
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert hash_password("correct horse") != stored  # a fresh salt every time
    assert not verify_password("correct horse", stored.replace("scrypt$", "md5$"))
    assert not verify_password("correct horse", "garbage")
    assert not verify_password("correct horse", f"scrypt${2**30}$8$1${salt}${digest}")  # refuses absurd costs


def test_staff_tables_are_created_and_survive_a_shop_reset(db: ShopDB) -> None:
    names = set(inspect(db.engine).get_table_names())
    assert {t.name for t in STAFF_TABLES} <= names
    assert {"staff", "staff_tokens", "staff_sessions", "kg_changes", "kg_write_lock"} <= names
    assert set(row_counts(db.engine)) == {t.name for t in TABLES}  # the shop's row counts are unchanged
    add_staff(db, "alice", "alice-password")
    drop_schema(db.engine)  # `shopbot shop generate --force` drops the shop tables only
    assert get_staff(db, "alice") is not None


def test_accounts(db: ShopDB) -> None:
    alice = add_staff(db, "alice", "alice-password", role="editor")
    assert (alice.username, alice.role, alice.active) == ("alice", "editor", True)
    add_staff(db, "bob", "bob-password", role="admin")
    with pytest.raises(StaffError, match="already exists"):
        add_staff(db, "alice", "another-password")
    with pytest.raises(StaffError, match="at least 8"):
        add_staff(db, "carol", "short")
    with pytest.raises(StaffError, match="unknown role"):
        add_staff(db, "carol", "carol-password", role="owner")
    with pytest.raises(StaffError, match="not a valid username"):
        add_staff(db, "carol smith", "carol-password")
    assert [s.username for s in list_staff(db)] == ["alice", "bob"]
    with db.session() as session:
        stored = session.execute(select(StaffAccount.password_hash).where(StaffAccount.username == "alice")).scalar()
    assert stored.startswith("scrypt$") and "alice-password" not in stored
    assert set_role(db, "alice", "viewer").role == "viewer"
    with pytest.raises(StaffError, match="no staff account"):
        set_role(db, "nobody", "viewer")


def test_authenticate(db: ShopDB) -> None:
    add_staff(db, "alice", "alice-password")
    staff = authenticate(db, "alice", "alice-password")
    assert staff is not None and staff.username == "alice" and staff.can("write")
    assert authenticate(db, "alice", "wrong-password") is None
    assert authenticate(db, "nobody", "alice-password") is None
    assert authenticate(db, "' OR 1=1 --", "x") is None
    set_password(db, "alice", "new-password")
    assert authenticate(db, "alice", "alice-password") is None
    assert authenticate(db, "alice", "new-password") is not None
    set_active(db, "alice", False)
    assert authenticate(db, "alice", "new-password") is None
    assert get_staff(db, "alice").active is False


@pytest.mark.parametrize("role, allowed", [
    ("viewer", {"read"}), ("editor", {"read", "write"}), ("agent", {"read", "handoff"}),
    ("admin", {"read", "write", "manage", "handoff"}), ("nobody", set()),
])
def test_roles(role: str, allowed: set[str]) -> None:
    assert {action for action in ("read", "write", "manage", "handoff") if can(role, action)} == allowed


def test_unknown_action_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        can("admin", "delete")


def test_api_tokens(db: ShopDB) -> None:
    add_staff(db, "alice", "alice-password")
    token = issue_token(db, "alice")
    assert len(token) >= 40 and issue_token(db, "alice") != token
    with db.session() as session:
        rows = session.execute(select(StaffToken)).scalars().all()
    assert len(rows) == 2 and all(row.last_used is None and token not in row.token_hash for row in rows)
    staff = staff_for_token(db, token)
    assert staff is not None and staff.username == "alice"
    with db.session() as session:
        assert session.execute(select(StaffToken.last_used).where(StaffToken.last_used.is_not(None))).scalar()
    assert staff_for_token(db, token + "x") is None and staff_for_token(db, "") is None
    set_active(db, "alice", False)
    assert staff_for_token(db, token) is None
    set_active(db, "alice", True)
    assert revoke_token(db, token) and not revoke_token(db, token)
    assert staff_for_token(db, token) is None
    with pytest.raises(StaffError, match="no staff account"):
        issue_token(db, "nobody")


def test_web_sessions(db: ShopDB) -> None:
    add_staff(db, "alice", "alice-password", role="admin")
    opened = open_session(db, "alice")
    web = session_for(db, opened.cookie)
    assert web is not None and web.staff.username == "alice" and web.staff.can("manage")
    assert web.csrf_token == opened.csrf_token and check_csrf(web, opened.csrf_token)
    assert not check_csrf(web, "forged") and not check_csrf(web, None)  # type: ignore[arg-type]
    with db.session() as session:
        assert session.execute(select(StaffSession.id_hash)).scalar() != opened.cookie  # only the hash is stored
    assert session_for(db, "not-a-cookie") is None
    set_active(db, "alice", False)
    assert session_for(db, opened.cookie) is None
    set_active(db, "alice", True)
    assert close_session(db, opened.cookie) and session_for(db, opened.cookie) is None

    expired = open_session(db, "alice", lifetime=timedelta(seconds=-1))
    assert session_for(db, expired.cookie) is None  # and it is deleted on sight
    open_session(db, "alice", lifetime=timedelta(seconds=-1))
    live = open_session(db, "alice")
    assert purge_sessions(db) == 1 and session_for(db, live.cookie) is not None
    set_active(db, "alice", False)
    with pytest.raises(StaffError, match="not active"):
        open_session(db, "alice")

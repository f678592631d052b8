"""The security checks one by one, without a running stack: tokens, conversation ids, client addresses,
sign-in backoff, the Rasa server's closed defaults, the staff query checks, password hashing and secrets."""

from __future__ import annotations

import ipaddress
import os
import stat
import time
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest

from actions.identity import CUSTOMER_KEY, customer_id
from bot.identity import (AUDIENCE, ConversationRefused, Gate, InvalidShopperToken, issue_shopper_token,
                          verify_shopper_token)
from bot.rasa_server import internal_only, is_public, rasa_arguments
from bot.web.auth import LoginLimiter, client_address, trusted_networks
from bot.web.sparql_sandbox import Refused, prepare
from knowledge.settings import Settings

SECRET = "a test secret of enough length for HS256 keys"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path, shopper_token_secret=SECRET)


# --- shopper tokens and conversation ids ----------------------------------------------------------------

def test_a_shopper_token_names_its_customer_and_nothing_else_passes(settings: Settings) -> None:
    token = issue_shopper_token("C0001", settings)
    assert verify_shopper_token(token, SECRET) == "C0001"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["exp"] - claims["iat"] == settings.shopper_token_seconds
    now = int(time.time())
    broken = [
        jwt.encode({"sub": "C0001", "aud": AUDIENCE, "iat": now, "exp": now + 60}, "another secret", algorithm="HS256"),
        jwt.encode({"sub": "C0001", "aud": AUDIENCE, "iat": now, "exp": now + 60}, None, algorithm="none"),
        jwt.encode({"sub": "C0001", "aud": "shopbot-store", "iat": now, "exp": now + 60}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "C0001", "aud": AUDIENCE, "iat": now - 7200, "exp": now - 3600}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "C0001", "aud": AUDIENCE, "iat": now}, SECRET, algorithm="HS256"),
        jwt.encode({"aud": AUDIENCE, "iat": now, "exp": now + 60}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "C0001", "aud": AUDIENCE, "iat": now, "exp": now + 90 * 86400}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "C0001", "aud": AUDIENCE, "iat": now + 3600, "exp": now + 3660}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "<script>", "aud": AUDIENCE, "iat": now, "exp": now + 60}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": 1, "aud": AUDIENCE, "iat": now, "exp": now + 60}, SECRET, algorithm="HS256"),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "", "x" * 5000, "a.b.c",
    ]
    for forged in broken:
        with pytest.raises(InvalidShopperToken):
            verify_shopper_token(forged, SECRET)
    with pytest.raises(ValueError):
        issue_shopper_token("C0001\nX", settings)


def test_conversation_ids_are_the_servers_and_bound_to_one_shopper() -> None:
    gate = Gate(SECRET)
    mine, guest = gate.new_conversation("C0001"), gate.new_conversation(None)
    assert mine != gate.new_conversation("C0001") and len(mine) < 64
    assert gate.owns(mine, "C0001") and not gate.owns(mine, "C0002") and not gate.owns(mine, None)
    assert gate.owns(guest, None) and not gate.owns(guest, "C0001")
    assert not Gate("another secret").owns(mine, "C0001")
    for guess in ("alex", "C0001", mine + "x", mine[:-1] + "A" if mine[-1] != "A" else mine[:-1] + "B", None, 42,
                  mine.split(".")[0] + "." + mine.split(".")[0]):
        assert not gate.owns(guess, "C0001")


def test_admitted_metadata_carries_only_the_verified_customer(settings: Settings) -> None:
    gate = Gate(SECRET)
    claims = {"customer_id": "C0001", CUSTOMER_KEY: "C0001", "page": "/"}
    guest = gate.new_conversation(None)
    assert gate.admit(guest, None, claims) == {"page": "/"}
    token = issue_shopper_token("C0002", settings)
    mine = gate.new_conversation("C0002")
    assert gate.admit(mine, token, claims) == {"page": "/", CUSTOMER_KEY: "C0002"}
    with pytest.raises(ConversationRefused):
        gate.admit(guest, token, {})  # a guest's conversation is not a customer's
    with pytest.raises(ConversationRefused):
        gate.admit(mine, None, {})  # nor the other way round
    with pytest.raises(InvalidShopperToken):
        gate.admit(mine, token + "x", {})
    tracker = SimpleNamespace(latest_message={"metadata": gate.admit(mine, token, claims)})
    assert customer_id(tracker) == "C0002"
    assert customer_id(SimpleNamespace(latest_message={"metadata": {"customer_id": "C0001"}})) is None


# --- client addresses and sign-in backoff ---------------------------------------------------------------

def request(peer: str, *forwarded: str) -> SimpleNamespace:
    headers = SimpleNamespace(getall=lambda name, default=(): list(forwarded) if forwarded else list(default))
    return SimpleNamespace(ip=peer, headers=headers)


def test_the_client_address_is_read_through_trusted_proxies_only() -> None:
    proxies = trusted_networks("127.0.0.1, 10.0.0.0/8 ::1")
    assert proxies == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"),
                       ipaddress.ip_network("::1/128"))
    assert client_address(request("203.0.113.5", "198.51.100.1"), proxies) == "203.0.113.5"  # not a proxy: ignored
    assert client_address(request("127.0.0.1", "198.51.100.1"), proxies) == "198.51.100.1"
    assert client_address(request("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3"), proxies) == "198.51.100.1"
    assert client_address(request("127.0.0.1", "6.6.6.6", "198.51.100.1"), proxies) == "198.51.100.1"
    assert client_address(request("127.0.0.1", "not an address"), proxies) == "127.0.0.1"
    assert client_address(request("127.0.0.1"), proxies) == "127.0.0.1"
    assert client_address(request("::1", "2001:db8::7"), proxies) == "2001:db8::7"
    assert client_address(request("127.0.0.1", "198.51.100.1"), ()) == "127.0.0.1"  # nobody trusted
    with pytest.raises(ValueError):
        trusted_networks("127.0.0.1, proxy.internal")


def test_failed_sign_ins_back_off_instead_of_locking(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    limiter = LoginLimiter(free=5, base=30, cap=900, window=3600)
    for _ in range(5):
        assert limiter.retry_after("203.0.113.7", "ada") == 0
        limiter.failed("203.0.113.7", "ada")
    assert limiter.retry_after("203.0.113.7", "ada") == 30  # the sixth attempt waits 30 s ...
    assert limiter.retry_after("198.51.100.1", "bob") == 0  # ... nobody else does
    assert limiter.retry_after("198.51.100.1", "ADA ") == 30  # the attacked name, from anywhere, any spelling
    assert limiter.retry_after("203.0.113.7", "bob") == 30  # the attacking address, for any name
    clock[0] += 30
    assert limiter.retry_after("203.0.113.7", "ada") == 0  # a backoff, not a lock
    waits = []
    for _ in range(6):
        limiter.failed("203.0.113.7", "ada")
        waits.append(limiter.retry_after("203.0.113.7", "ada"))
        clock[0] += waits[-1]
    assert waits == [60, 120, 240, 480, 900, 900]  # doubling, capped: a patient attacker stays at the cap
    limiter.succeeded("ada")
    assert limiter.retry_after("198.51.100.1", "ada") == 0
    limiter.failed("203.0.113.7", "bob")
    assert limiter.retry_after("203.0.113.7", "bob") == 900  # the attacking address is still at the cap
    clock[0] += 3600
    limiter.failed("203.0.113.7", "bob")
    assert limiter.retry_after("203.0.113.7", "bob") == 0  # after an hour's quiet, the count starts again


def test_the_limiter_keeps_a_bounded_number_of_keys() -> None:
    limiter = LoginLimiter(max_keys=100)
    for n in range(1000):
        limiter.failed(f"10.0.{n // 250}.{n % 250}", f"user{n}")
    assert len(limiter._failures) <= 100


# --- the Rasa server's defaults -------------------------------------------------------------------------

def test_the_rasa_server_starts_closed_unless_a_token_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RASA_API_TOKEN", "RASA_HOST", "SHOPBOT_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    closed = rasa_arguments("m.tar.gz", 5005, "e.yml", "c.yml")
    assert "--enable-api" not in closed and not any(a.startswith("--auth-token") for a in closed)
    assert closed[closed.index("--interface") + 1] == "127.0.0.1"
    origins = closed[closed.index("--cors") + 1:]
    assert origins and "*" not in origins and all(o.startswith("http://") for o in origins)
    monkeypatch.setenv("RASA_API_TOKEN", "-t0ken")  # token_urlsafe may start with "-"
    opened = rasa_arguments("m.tar.gz", 5005, "e.yml", "c.yml")
    assert "--enable-api" in opened
    from rasa.__main__ import create_argument_parser
    assert create_argument_parser().parse_args(opened).auth_token == "-t0ken"


def test_only_the_channels_are_public_on_the_rasa_server() -> None:
    assert all(is_public(p) for p in ("/", "/webhooks/rest/webhook", "/webhooks/rest/conversation", "/socket.io/"))
    assert not any(is_public(p) for p in ("/status", "/conversations/x/tracker", "/model", "/webhook", "/socket"))

    def asked(path: str, ip: str, **headers: str) -> int:
        answer = internal_only(SimpleNamespace(path=path, ip=ip, headers=headers))
        return 200 if answer is None else answer.status

    assert asked("/status", "127.0.0.1") == 200 and asked("/status", "::1") == 200
    assert asked("/status", "10.0.0.5") == 403 and asked("/status", "192.0.2.2") == 403
    assert asked("/status", "127.0.0.1", **{"x-forwarded-for": "203.0.113.1"}) == 403
    assert asked("/webhooks/rest/webhook", "203.0.113.1") == 200


# --- the staff query checks -----------------------------------------------------------------------------

def test_staff_queries_are_checked_before_they_run() -> None:
    kind, text, added = prepare("SELECT * WHERE { ?s ?p ?o }", 100)
    assert (kind, added) == ("select", True) and text.endswith("LIMIT 101")
    assert prepare("SELECT * WHERE { ?s ?p ?o } LIMIT 10", 100)[1].endswith("LIMIT 10")
    assert prepare("ASK { ?s ?p ?o }", 100)[0] == "ask"
    assert prepare("SELECT * WHERE { ?s ?p ?o } # a comment", 100)[1].endswith("\nLIMIT 101")
    refused = [
        "SELECT * WHERE { ?s ?p ?o } LIMIT 101", "SELECT * WHERE { ?s ?p ?o } VALUES ?s { <urn:a> }",
        "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } } LIMIT 1",
        "SELECT * WHERE { ?s ?p ?o { SELECT ?x WHERE { OPTIONAL { SERVICE SILENT ?endpoint { ?x ?y ?z } } } } } LIMIT 1",
        "ASK { FILTER EXISTS { SERVICE <http://127.0.0.1:7878/query> { ?s ?p ?o } } }",
        "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "DESCRIBE <urn:a>", "DROP ALL", "INSERT DATA { <a:a> <a:b> <a:c> }",
        "", "   ", "SELECT" + " ?x" * 10_000,
    ]
    for query in refused:
        with pytest.raises(Refused):
            prepare(query, 100)


# --- passwords and secrets ------------------------------------------------------------------------------

def test_passwords_use_scrypt_2_17_and_older_hashes_are_upgraded_at_sign_in(tmp_path: Path) -> None:
    import base64
    import hashlib

    from knowledge.shopdb import connect
    from knowledge.shopdb.staff import StaffAccount, add_staff, authenticate, needs_rehash

    db = connect(f"sqlite:///{tmp_path / 'shop.db'}")
    add_staff(db, "olga", "an old but fine password", "viewer")
    with db.session() as session:
        account = session.query(StaffAccount).filter_by(username="olga").one()
        assert account.password_hash.startswith("scrypt$131072$8$1$") and not needs_rehash(account.password_hash)
        salt = os.urandom(16)
        digest = hashlib.scrypt(b"an old but fine password", salt=salt, n=2**14, r=8, p=1, dklen=32)
        account.password_hash = f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
        session.commit()
    assert authenticate(db, "olga", "wrong password") is None
    with db.session() as session:
        assert session.query(StaffAccount).filter_by(username="olga").one().password_hash.startswith("scrypt$16384$")
    assert authenticate(db, "olga", "an old but fine password") is not None
    with db.session() as session:
        upgraded = session.query(StaffAccount).filter_by(username="olga").one().password_hash
    assert upgraded.startswith("scrypt$131072$8$1$")
    assert authenticate(db, "olga", "an old but fine password") is not None
    db.dispose()


def test_local_secrets_are_generated_once_private_and_apart(tmp_path: Path) -> None:
    first = Settings(var_dir=tmp_path)
    shopper, actions = first.secret("shopper-token"), first.secret("action-server")
    assert shopper != actions and len(shopper) == 64
    assert Settings(var_dir=tmp_path).secret("shopper-token") == shopper  # the same for every process
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert Settings(var_dir=tmp_path / "other").secret("shopper-token") != shopper
    assert Settings(var_dir=tmp_path, action_server_token="from the env").secret("action-server") == "from the env"
    with pytest.raises(ValueError):
        first.secret("anything else")

"""Staff sign-in behind a proxy: backoff per real client and per username, Secure cookies, HSTS, token expiry,
revocation (``shopbot staff revoke``, a new password) and scrypt parameters upgraded at the next sign-in."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from typing import Optional

import pytest
import requests

from bot.stack import Stack
from bot.services import Service, child_env
from knowledge.settings import PROJECT_ROOT
from knowledge.shopdb.engine import ShopDB
from knowledge.shopdb.staff import add_staff, get_staff, issue_token, open_session
from tests.security.remote import RemoteHost

pytestmark = [pytest.mark.stack, pytest.mark.slow]

PASSWORD = "correct horse battery staple"


def ensure(db: ShopDB, name: str, role: str = "editor") -> None:
    if get_staff(db, name) is None:
        add_staff(db, name, PASSWORD, role)


def token_request(port: int, username: str, password: str, client: Optional[str] = None) -> int:
    headers = {"X-Forwarded-For": client} if client else {}
    return requests.post(f"http://127.0.0.1:{port}/api/kg/tokens", json={"username": username, "password": password},
                         headers=headers, timeout=30).status_code


def test_one_username_under_attack_behind_a_proxy_locks_out_no_one_else(
    db: ShopDB, proxied_web: Service, remote: RemoteHost
) -> None:
    for name in ("ada", "eddie", "bob"):
        ensure(db, name)
    attacker = "203.0.113.7"
    statuses = [token_request(proxied_web.port, "ada", f"guess {n}", attacker) for n in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses  # the attacked name slows down
    assert token_request(proxied_web.port, "eddie", "wrong", attacker) == 429  # so does the attacking client
    # everyone else behind the same proxy signs in as usual
    assert token_request(proxied_web.port, "eddie", PASSWORD, "198.51.100.20") == 201
    assert token_request(proxied_web.port, "bob", "typo in it", "198.51.100.21") == 401  # may try, is not locked
    assert token_request(proxied_web.port, "bob", PASSWORD, "198.51.100.21") == 201
    # X-Forwarded-For from a client that is no trusted proxy is ignored: spoofing it gains no fresh attempts
    spoofed = []
    for n in range(7):
        answer = remote.request("POST", proxied_web.port, "/api/kg/tokens", body=f'{{"username": "mallory{n}", '
                                f'"password": "x"}}', headers={"Content-Type": "application/json",
                                                               "X-Forwarded-For": f"198.51.100.{100 + n}"})
        spoofed.append(answer.status)
    assert spoofed[:5] == [401] * 5 and spoofed[5:] == [429, 429], (remote.how, spoofed)


def _login_form(base: str) -> tuple[str, str]:
    form = requests.get(f"{base}/admin/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return token, form.headers.get("Set-Cookie", "")


def test_cookies_are_secure_and_hsts_is_sent_when_the_public_url_is_https(
    stack: Stack, db: ShopDB, proxied_web: Service
) -> None:
    ensure(db, "hana")
    base = f"http://127.0.0.1:{proxied_web.port}"
    csrf, cookie = _login_form(base)
    assert "Secure" in cookie and "HttpOnly" in cookie
    signed = requests.post(f"{base}/admin/login", data={"username": "hana", "password": PASSWORD, "csrf_token": csrf,
                                                         "next": "/admin/"},
                           headers={"Cookie": f"shopbot_login_csrf={csrf}", "X-Forwarded-For": "198.51.100.30"},
                           allow_redirects=False, timeout=30)
    assert signed.status_code == 303, signed.text[:300]
    session = signed.headers["Set-Cookie"]
    assert session.startswith("shopbot_staff=") and all(flag in session for flag in ("Secure", "HttpOnly", "SameSite=Strict"))
    for path in ("/healthz", "/", "/admin/login", "/chat/token"):
        assert requests.get(base + path, timeout=30).headers.get("Strict-Transport-Security", "").startswith("max-age=")
    signin = requests.post(f"{base}/account/signin", json={"customer": "C0001"}, timeout=30)
    assert signin.status_code == 200 and "Secure" in signin.headers["Set-Cookie"]
    # the same app on plain http (the default stack): neither
    plain = f"http://127.0.0.1:{stack.settings.web_port}"
    assert "Strict-Transport-Security" not in requests.get(plain + "/healthz", timeout=30).headers
    assert "Secure" not in _login_form(plain)[1]


def staff_cli(stack: Stack, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "staff", *args], input=stdin, text=True,
                          capture_output=True, timeout=60, cwd=str(PROJECT_ROOT),
                          env=child_env({"DATABASE_URL": stack.settings.database_url}))


def api_status(stack: Stack, token: str) -> int:
    return requests.get(f"http://127.0.0.1:{stack.settings.web_port}/api/kg/history", timeout=30,
                        headers={"Authorization": f"Bearer {token}"}).status_code


def admin_status(stack: Stack, cookie: str) -> int:
    return requests.get(f"http://127.0.0.1:{stack.settings.web_port}/admin/history", timeout=30,
                        headers={"Cookie": f"shopbot_staff={cookie}"}, allow_redirects=False).status_code


def test_staff_tokens_expire_and_shopbot_staff_revoke_ends_tokens_and_sessions(stack: Stack, db: ShopDB) -> None:
    ensure(db, "rita")
    expired = issue_token(db, "rita", timedelta(seconds=-1))
    assert api_status(stack, expired) == 401
    token, session = issue_token(db, "rita"), open_session(db, "rita").cookie
    assert api_status(stack, token) == 200 and admin_status(stack, session) == 200
    done = staff_cli(stack, "revoke", "rita")
    assert done.returncode == 0 and "revoked 1 API token and 1 session" in done.stdout + done.stderr, done
    assert api_status(stack, token) == 401 and admin_status(stack, session) == 401


def test_a_new_password_revokes_every_token_and_session(stack: Stack, db: ShopDB) -> None:
    ensure(db, "pete")
    token, session = issue_token(db, "pete"), open_session(db, "pete").cookie
    assert api_status(stack, token) == 200
    done = staff_cli(stack, "password", "pete", "--password-stdin", stdin="an entirely new passphrase\n")
    assert done.returncode == 0, done
    assert api_status(stack, token) == 401 and admin_status(stack, session) == 401
    assert token_request(stack.settings.web_port, "pete", "an entirely new passphrase") == 201

"""Who is asking: staff sign-in with server-side sessions, API tokens, roles, CSRF and login rate limits."""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from functools import wraps
from typing import Any, Awaitable, Callable, Optional

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.web.app import blocking
from knowledge.shopdb.staff import Staff, WebSession, check_csrf, session_for, staff_for_token

SESSION_COOKIE = "shopbot_staff"
LOGIN_CSRF_COOKIE = "shopbot_login_csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Handler = Callable[..., Awaitable[HTTPResponse]]


class LoginLimiter:
    """At most ``attempts`` failed sign-ins per client address and per username within ``window`` seconds."""

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, address: str, username: str) -> float:
        """Seconds until this address and username may try again (0 when they may now)."""
        now = time.monotonic()
        with self._lock:
            waits = [failures[0] + self.window - now for key in (f"ip:{address}", f"user:{username.lower()}")
                     if len(failures := self._recent(key, now)) >= self.attempts]
        return max(waits, default=0.0)

    def failed(self, address: str, username: str) -> None:
        """Count a failed sign-in."""
        now = time.monotonic()
        with self._lock:
            for key in (f"ip:{address}", f"user:{username.lower()}"):
                self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the username's failures after a good sign-in."""
        with self._lock:
            self._failures.pop(f"user:{username.lower()}", None)


def _bearer(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def identify(request: Request) -> Optional[Staff]:
    """The staff member behind a request (API token or session cookie), remembered on ``request.ctx``."""
    if hasattr(request.ctx, "staff"):
        return request.ctx.staff
    db = request.app.ctx.db
    request.ctx.session = None
    request.ctx.by_token = False
    staff: Optional[Staff] = None
    token = _bearer(request)
    if token:
        staff = await blocking(staff_for_token, db, token)
        request.ctx.by_token = staff is not None
    elif request.cookies.get(SESSION_COOKIE):
        web: Optional[WebSession] = await blocking(session_for, db, request.cookies.get(SESSION_COOKIE))
        request.ctx.session = web
        staff = web.staff if web else None
    request.ctx.staff = staff if staff is not None and staff.active else None
    return request.ctx.staff


def submitted_csrf(request: Request) -> str:
    """The CSRF token a request carries: the X-CSRF-Token header, or the csrf_token form field."""
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    form = request.form or {}
    return form.get("csrf_token", "") if hasattr(form, "get") else ""


def refuse(request: Request, status: int, message: str, api: bool) -> HTTPResponse:
    """A 401/403 answer: JSON for the API; for people the sign-in form (401) or an error page (403)."""
    if api:
        return response.json({"error": message}, status=status)
    from bot.web.app import render

    if status == 401:
        token = new_login_csrf()
        reply = render(request, "admin/login.html", status=401, staff=None, login_csrf=token,
                       next=request.path if request.method == "GET" else "/admin/")
        set_cookie(reply, LOGIN_CSRF_COOKIE, token, "/admin/login", max_age=3600)
        return reply
    return render(request, "admin/error.html", status=status, message=message, staff=request.ctx.staff)


def require(action: str, api: bool) -> Callable[[Handler], Handler]:
    """Let a handler run only for staff whose role allows ``action`` (read, write, manage).

    Unsigned requests get 401, other roles 403; a session-signed unsafe request also needs its CSRF token.
    """

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            staff = await identify(request)
            if staff is None:
                return refuse(request, 401, "sign in first: a staff session or an API token is required", api)
            if request.method in UNSAFE_METHODS and not request.ctx.by_token:
                if request.ctx.session is None or not check_csrf(request.ctx.session, submitted_csrf(request)):
                    return refuse(request, 403, "the form is out of date (CSRF token missing or wrong); reload it", api)
            if not staff.can(action):
                return refuse(request, 403, f"the {staff.role} role may not {action}", api)
            return await handler(request, *args, **kwargs)

        return guarded

    return decorate


def new_login_csrf() -> str:
    """A random token for the sign-in form (double-submitted: cookie and hidden field)."""
    return secrets.token_urlsafe(24)


def set_cookie(reply: HTTPResponse, name: str, value: str, path: str, max_age: Optional[int] = None,
               secure: bool = False) -> None:
    """Set an HttpOnly, SameSite=Strict cookie."""
    reply.cookies[name] = value
    cookie = reply.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = path
    if secure:
        cookie["secure"] = True
    if max_age is not None:
        cookie["max-age"] = max_age

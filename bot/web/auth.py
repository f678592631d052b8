"""Who is asking: staff sign-in with server-side sessions, API tokens, roles, CSRF and sign-in backoff.

Sign-in attempts are slowed down per client address and per username (``LoginLimiter``). The client address
is the peer's, or, when the peer is one of ``SHOPBOT_TRUSTED_PROXIES``, the address that proxy saw
(``X-Forwarded-For``, read from the right, skipping trusted proxies): behind nginx every shopper and staff
member would otherwise share the proxy's address. ``X-Forwarded-For`` from anyone else is ignored.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from functools import wraps
from typing import Any, Awaitable, Callable, Optional, Sequence, Union

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.web.common import blocking, render
from knowledge.shopdb.staff import Staff, WebSession, check_csrf, session_for, staff_for_token

SESSION_COOKIE = "shopbot_staff"
LOGIN_CSRF_COOKIE = "shopbot_login_csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Handler = Callable[..., Awaitable[HTTPResponse]]


Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def trusted_networks(text: str) -> tuple[Network, ...]:
    """The proxies whose ``X-Forwarded-For`` is believed: addresses or networks, comma- or space-separated."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"SHOPBOT_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(text.strip().strip("[]").split("%")[0])
    except ValueError:
        return None


def _trusted(address: Any, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(request: Request, proxies: Sequence[Network] = ()) -> str:
    """The address of the client behind any trusted proxies (the peer itself when it is no trusted proxy)."""
    peer = request.ip or ""
    if not _trusted(_address(peer), proxies):
        return peer
    hops = [hop.strip() for header in request.headers.getall("x-forwarded-for", []) for hop in header.split(",")]
    for hop in reversed([h for h in hops if h]):
        address = _address(hop)
        if address is None:
            return peer  # a trusted proxy writes addresses: anything else means the header cannot be read
        if not _trusted(address, proxies):
            return str(address)
    return peer


def request_address(request: Request) -> str:
    """The client address of a request to the web app, with the app's trusted proxies."""
    return client_address(request, request.app.ctx.trusted_proxies)


class LoginLimiter:
    """Failed sign-ins slow further attempts down, per client address and per username: a backoff, not a lock.

    The first ``free`` failures of a key cost nothing; after that the key must wait ``base * 2 ** (failures -
    free)`` seconds (at most ``cap``) after its last failure before it may try again. A key's failures are
    forgotten once it has been quiet for ``window`` seconds (longer than ``cap``, so a patient attacker stays at
    the cap). One username under attack therefore slows down only that username and the attacking addresses,
    never everyone else's sign-in; a good sign-in forgets the username's failures. At most ``max_keys`` keys are
    kept.
    """

    def __init__(self, free: int = 5, base: float = 30.0, cap: float = 900.0, window: float = 3600.0,
                 max_keys: int = 10_000) -> None:
        self.free, self.base, self.cap, self.window, self.max_keys = free, base, cap, window, max_keys
        self._failures: dict[str, tuple[int, float]] = {}  # key: (failures in a row, time of the last one)
        self._lock = threading.Lock()

    @staticmethod
    def _keys(address: str, username: str) -> tuple[str, str]:
        return f"ip:{address}", f"user:{username.strip().lower()}"

    def _count(self, key: str, now: float) -> tuple[int, float]:
        count, last = self._failures.get(key, (0, 0.0))
        return (count, last) if now - last < self.window else (0, 0.0)

    def _wait(self, key: str, now: float) -> float:
        count, last = self._count(key, now)
        if count < self.free:
            return 0.0
        return max(0.0, last + min(self.cap, self.base * 2 ** (count - self.free)) - now)

    def retry_after(self, address: str, username: str) -> float:
        """Seconds until this address and username may try again (0 when they may now)."""
        now = time.monotonic()
        with self._lock:
            return max(self._wait(key, now) for key in self._keys(address, username))

    def failed(self, address: str, username: str) -> None:
        """Count a failed sign-in."""
        now = time.monotonic()
        with self._lock:
            for key in self._keys(address, username):
                self._failures[key] = (self._count(key, now)[0] + 1, now)
            if len(self._failures) > self.max_keys:
                self._forget(now)

    def succeeded(self, username: str) -> None:
        """Forget the username's failures after a good sign-in."""
        with self._lock:
            self._failures.pop(self._keys("", username)[1], None)

    def _forget(self, now: float) -> None:
        for key in [k for k, (_, last) in self._failures.items() if now - last >= self.window]:
            del self._failures[key]
        if len(self._failures) > self.max_keys:  # still too many: keep the most recent half
            newest = sorted(self._failures, key=lambda k: self._failures[k][1], reverse=True)
            for key in newest[self.max_keys // 2:]:
                del self._failures[key]


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
    if status == 401:
        token = new_login_csrf()
        reply = render(request, "admin/login.html", status=401, staff=None, login_csrf=token,
                       next=request.path if request.method == "GET" else "/admin/")
        set_cookie(reply, LOGIN_CSRF_COOKIE, token, "/admin/login", max_age=3600, secure=secure_cookies(request))
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


def secure_cookies(request: Request) -> bool:
    """Whether cookies must be Secure: the public URL is https (a TLS-terminating proxy) or the request is."""
    return request.app.ctx.settings.https or request.scheme == "https"


def set_cookie(reply: HTTPResponse, name: str, value: str, path: str, max_age: Optional[int] = None,
               secure: bool = False) -> None:
    """Set an HttpOnly, SameSite=Strict cookie (Secure when ``secure``)."""
    reply.cookies[name] = value
    cookie = reply.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = path
    if secure:
        cookie["secure"] = True
    if max_age is not None:
        cookie["max-age"] = max_age

"""Who the shopper is, on the store's side: the store's sign-in and the chat token it hands the widget.

The store is the party that knows who is signed in, so it is the one that signs the shopper token
(``bot.identity.issue_shopper_token``) the chat channels verify:

* ``GET /chat/token`` answers ``{"token": JWT or null, "customer": ID or null, "expires_in": SECONDS}`` for
  whoever the store's sign-in cookie names (no cookie: a guest, ``token`` null). The widget fetches it before
  it talks to the Rasa server and again before the token expires. Same origin only (no CORS), never cached.
* ``POST /account/signin`` ``{"customer": "C0001"}`` and ``POST /account/signout``: the **demo** store's
  "sign in as" picker, which signs in as one of the demo customers the page offers without a password. A real
  shop turns it off (``SHOPBOT_DEMO_SIGNIN=false``) and lets its own login decide who is signed in: either
  serve ``/chat/token`` from the shop's own backend (any JWT library: HS256 with ``SHOPPER_TOKEN_SECRET``,
  claims ``sub``, ``aud: "shopbot-chat"``, ``iat``, ``exp``), or call ``issue_shopper_token(customer_id)``.

The sign-in cookie is a JWT too (audience ``shopbot-store``, so it is never accepted as a chat token),
HttpOnly, SameSite=Lax, and Secure when the store's public URL is https. The sign-in routes take JSON only
and check the ``Origin`` header, so another site cannot sign a visitor in or out.
"""

from __future__ import annotations

import json
import time
from typing import Optional

import jwt
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.identity import ALGORITHM, issue_shopper_token
from bot.web.common import blocking
from knowledge.settings import Settings
from knowledge.shopdb.customers import list_customers

SIGNIN_COOKIE = "shopbot_shopper"
STORE_AUDIENCE = "shopbot-store"
SIGNIN_DAYS = 7
DEMO_CUSTOMERS = 4

shopper = Blueprint("shopper")


def signed_in(request: Request) -> Optional[str]:
    """The customer id the store's (demo) sign-in cookie names, if it is valid and the demo sign-in is on."""
    settings: Settings = request.app.ctx.settings
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    if not settings.demo_signin or not cookie or len(cookie) > 2000:
        return None
    try:
        claims = jwt.decode(cookie, settings.secret("shopper-token"), algorithms=[ALGORITHM], audience=STORE_AUDIENCE,
                            options={"require": ["sub", "aud", "exp"]})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) and subject else None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin in request.app.ctx.settings.chat_origins or origin == f"{request.scheme}://{request.host}"


def _no_store(reply: HTTPResponse) -> HTTPResponse:
    reply.headers["Cache-Control"] = "no-store"
    return reply


@shopper.get("/chat/token", name="chat_token")
async def chat_token(request: Request) -> HTTPResponse:
    """A fresh shopper token for the signed-in customer (null for a guest)."""
    settings: Settings = request.app.ctx.settings
    customer = signed_in(request)
    token = issue_shopper_token(customer, settings) if customer else None
    return _no_store(response.json({"token": token, "customer": customer, "expires_in": settings.shopper_token_seconds}))


@shopper.post("/account/signin", name="signin")
async def signin(request: Request) -> HTTPResponse:
    """Demo sign-in as one of the demo customers (JSON ``{"customer": ID}``; an empty id signs out)."""
    settings: Settings = request.app.ctx.settings
    if not settings.demo_signin:
        return response.json({"error": "the demo sign-in is turned off; sign in with the shop's own login"}, status=404)
    if "json" not in (request.content_type or "") or not _same_origin(request):
        return response.json({"error": "send JSON from the store's own page"}, status=403)
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None
    customer = data.get("customer") if isinstance(data, dict) else None
    if customer in (None, ""):
        return await signout(request)
    demo = await blocking(list_customers, request.app.ctx.db, DEMO_CUSTOMERS)
    if not isinstance(customer, str) or customer not in {c.id for c in demo}:
        return response.json({"error": "pick one of the demo customers"}, status=400)
    reply = _no_store(response.json({"customer": customer}))
    _set(reply, signin_cookie(customer, settings), settings, SIGNIN_DAYS * 86400)
    return reply


def signin_cookie(customer: str, settings: Settings) -> str:
    """The value of the store's sign-in cookie for a customer (what the shop's own login would set)."""
    now = int(time.time())
    return jwt.encode({"sub": customer, "aud": STORE_AUDIENCE, "iat": now, "exp": now + SIGNIN_DAYS * 86400},
                      settings.secret("shopper-token"), algorithm=ALGORITHM)


@shopper.post("/account/signout", name="signout")
async def signout(request: Request) -> HTTPResponse:
    """Sign the shopper out of the store (the chat goes on as a guest, in a new conversation)."""
    if not _same_origin(request):
        return response.json({"error": "send it from the store's own page"}, status=403)
    reply = _no_store(response.json({"customer": None}))
    _set(reply, "", request.app.ctx.settings, 0)
    return reply


def _set(reply: HTTPResponse, value: str, settings: Settings, max_age: int) -> None:
    reply.cookies[SIGNIN_COOKIE] = value
    cookie = reply.cookies[SIGNIN_COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Lax"
    cookie["path"] = "/"
    cookie["max-age"] = max_age
    if settings.https:
        cookie["secure"] = True

"""The Sanic application of ``shopbot web``: the store page, the staff pages and API, the hand-over desk.

Request bodies are bounded per route: ``DEFAULT_BODY_BYTES`` for every route (Sanic's own default would be
100 MB), and routes that need more are declared ``stream=True`` with ``@body_limit(N)`` (``bot/web/common.py``),
which reads the body and refuses it (413) as soon as it passes N bytes, before any of it is parsed.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlsplit

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.client import RelayClient
from bot.handoff.desk import Desk
from bot.handoff.outbox import Deliverer
from bot.handoff.transcript import TrackerStoreReader
from bot.web.admin import admin
from bot.web.api import api
from bot.web.auth import LoginLimiter, trusted_networks
from bot.web.campaigns import campaigns, greetings
from bot.web.common import DEFAULT_BODY_BYTES, HERE, templates
from bot.web.handoff_api import handoff_api
from bot.web.inbox import figures, inbox
from bot.web.shopper import shopper
from bot.web.store import store
from knowledge.editing import Editor
from knowledge.settings import Settings, get_settings
from knowledge.shop import Shop
from knowledge.shopdb import connect

SOCKET_IO_CLIENT = HERE / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
HSTS = "max-age=31536000; includeSubDomains"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    """Scripts and styles from this site only, images also from the public URL, the socket only to Rasa."""
    rasa, public = _origin(settings.rasa_public_url), _origin(settings.public_url)
    socket = rasa.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' {public} data:; "
        f"connect-src 'self' {rasa} {socket}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def create_app(settings: Optional[Settings] = None, name: str = "shopbot_web") -> Sanic:
    """The web application; the graph client and database are opened when the server starts."""
    settings = settings or get_settings()
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = DEFAULT_BODY_BYTES
    app.ctx.settings = settings
    app.ctx.trusted_proxies = trusted_networks(settings.trusted_proxies)
    app.ctx.templates = templates()
    app.ctx.csp = content_security_policy(settings)
    app.static("/assets", str(HERE / "static"), name="assets")
    app.static("/static/products", str(settings.store_dir / "images"), name="product_images")
    if SOCKET_IO_CLIENT.exists():
        app.static("/vendor/socket.io.min.js", str(SOCKET_IO_CLIENT), name="socket_io_client")
    app.ctx.login_limiter = LoginLimiter()
    app.blueprint(store)
    app.blueprint(shopper)
    app.blueprint(admin)
    app.blueprint(api)
    app.blueprint(campaigns)
    app.blueprint(greetings)
    app.blueprint(inbox)
    app.blueprint(figures)
    app.blueprint(handoff_api)

    @app.before_server_start
    async def open_backends(app: Sanic, _loop: Any) -> None:
        app.ctx.shop = Shop.from_settings(settings)
        app.ctx.db = connect(settings.database_url)
        app.ctx.editor = Editor(app.ctx.shop.kg, app.ctx.db)
        app.ctx.tracker_reader = TrackerStoreReader(settings.tracker_store_url)
        app.ctx.relay = RelayClient.from_settings(settings)
        app.ctx.desk = Desk(app.ctx.db, app.ctx.tracker_reader, app.ctx.relay, settings)

    @app.after_server_start
    async def start_outbox(app: Sanic, _loop: Any) -> None:
        if settings.handoff_webhook_url:  # the helpdesk webhook: deliver the hand-over outbox
            app.add_task(Deliverer(app.ctx.db, app.ctx.tracker_reader, settings).run())

    @app.after_server_stop
    async def close_backends(app: Sanic, _loop: Any) -> None:
        await app.ctx.relay.close()
        app.ctx.tracker_reader.dispose()
        app.ctx.db.dispose()

    @app.on_response
    async def security_headers(request: Request, reply: HTTPResponse) -> None:
        reply.headers.setdefault("X-Content-Type-Options", "nosniff")
        reply.headers.setdefault("Referrer-Policy", "same-origin")
        if request.app.ctx.settings.https:
            reply.headers.setdefault("Strict-Transport-Security", HSTS)
        if reply.content_type and reply.content_type.startswith("text/html"):
            reply.headers.setdefault("Content-Security-Policy", request.app.ctx.csp)

    @app.get("/healthz", name="health")
    async def health(_request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    return app

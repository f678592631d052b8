"""Run the action server closed: ``python -m bot.action_server --port P`` (what ``shopbot run`` starts).

rasa_sdk 3.6 has no authentication at all, binds to ``0.0.0.0`` and allows CORS from anywhere: whoever
reaches it can post a forged tracker and run ``action_cancel_order`` for any customer, bypassing Rasa. This
is rasa_sdk's own app (``rasa_sdk.endpoint.create_app`` with the project's ``actions`` package) with:

* every route but ``GET /health`` requiring ``Authorization: Bearer ACTION_SERVER_TOKEN``: the shared secret
  that the Rasa server sends with each action call (the ``headers`` of ``action_endpoint`` in
  ``bot/endpoints.yml``); anything else gets 401 before an action runs;
* bound to ``ACTION_HOST`` (default ``127.0.0.1``) and no CORS: only the Rasa server calls it;
* request bodies (the tracker Rasa sends) of at most ``MAX_BODY_BYTES``;
* the shop warmed up once the server listens (catalog names, phrase matcher, sentence encoder, in the
  background), so the first shoppers don't wait for them.
"""

from __future__ import annotations

import argparse
import hmac
import logging
from typing import Any, Optional

from knowledge.settings import get_settings

MAX_BODY_BYTES = 20_000_000
OPEN_PATHS = frozenset({"/health"})


def token_required(token: str) -> Any:
    """A Sanic request middleware refusing requests without the shared secret (401)."""
    expected = f"Bearer {token}".encode()

    def check(request: Any) -> Optional[Any]:
        from sanic import response

        if request.path in OPEN_PATHS and request.method in ("GET", "HEAD"):
            return None
        given = request.headers.get("authorization", "").encode("utf-8", "replace")
        if hmac.compare_digest(given, expected):
            return None
        return response.json({"error": "the action server only answers the Rasa server (token missing or wrong)"},
                             status=401)

    return check


def create_app(token: str, actions: str = "actions") -> Any:
    """rasa_sdk's action server app for the ``actions`` package, requiring ``token`` on every call."""
    from rasa_sdk.endpoint import create_app as sdk_app

    if not token:
        raise ValueError("the action server needs a token (ACTION_SERVER_TOKEN) shared with the Rasa server")
    app = sdk_app(actions, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.register_middleware(token_required(token), "request")
    app.register_listener(warm_up, "after_server_start")
    return app


async def warm_up(app: Any, loop: Any) -> None:
    """Start loading what the first answers need, in the background."""
    from actions.context import context

    context().shop.warm_up()


def main(argv: Optional[list[str]] = None) -> int:
    """Serve the project's actions to the Rasa server until stopped."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m bot.action_server", description=main.__doc__)
    parser.add_argument("--host", default=settings.action_host, help="address to listen on (default: ACTION_HOST)")
    parser.add_argument("--port", type=int, default=settings.action_port, help="port (default: ACTION_PORT or 5055)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from rasa_sdk.plugin import plugin_manager

    app = create_app(settings.secret("action-server"))
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    app.run(host=args.host, port=args.port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

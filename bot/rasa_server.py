"""Run the Rasa server closed by default: ``python -m bot.rasa_server --model M --port P`` (what ``shopbot run`` starts).

It is ``rasa run`` with the chat channels of ``bot/credentials.yml`` and these settings:

* bound to ``RASA_HOST`` (default ``127.0.0.1``; put a proxy in front, or set ``0.0.0.0``, to serve shoppers
  from other machines);
* CORS only for the store's origin (``SHOPBOT_PUBLIC_URL``), never ``*``;
* Rasa's HTTP API (trackers, model, training, running actions) **off**, unless ``RASA_API_TOKEN`` is set:
  then it is on with that token (``?token=...``), and every route other than the channels (``/webhooks/...``,
  ``/socket.io/``) and ``/`` answers 403 to any client that is not on loopback or that comes through a proxy
  (``X-Forwarded-For``/``Forwarded``), token or not. The token is passed to Rasa inside this process, never on
  a command line that ``ps`` would show;
* request bodies of at most ``MAX_BODY_BYTES`` while the API is off (the REST channel caps its own at 64 kB);
* the hand-over relay (``bot/handoff/relay.py``) under ``/internal/handoff/``: the web app's way to put an agent's
  reply into a shopper's conversation and hand it back to the assistant. Like the API, only for this machine,
  and only with its own token (``HANDOFF_RELAY_TOKEN``, derived from ``var/secret.key`` by default).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Any, Callable, Optional

from knowledge.settings import PROJECT_ROOT, get_settings

PUBLIC_PREFIXES = ("/webhooks/", "/socket.io")
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
MAX_BODY_BYTES = 1_000_000


def is_public(path: str) -> bool:
    """Whether a path of the Rasa server is for shoppers (the channels and the greeting), not the internal API."""
    return path in ("", "/") or path.startswith(PUBLIC_PREFIXES)


def is_loopback(address: Optional[str]) -> bool:
    """Whether an IP address is this machine's loopback."""
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def internal_only(request: Any) -> Optional[Any]:
    """Sanic request middleware: 403 for the API's routes unless the client is local and not behind a proxy."""
    from sanic import response

    if is_public(request.path):
        return None
    proxied = any(request.headers.get(name) for name in FORWARDING_HEADERS)
    if is_loopback(request.ip) and not proxied:
        return None
    return response.json({"error": "the Rasa HTTP API is only for this machine's own processes"}, status=403)


def closing(configure_app: Callable[..., Any], api_enabled: bool) -> Callable[..., Any]:
    """Rasa's ``configure_app``, with the API guard, the hand-over relay and the body size bound on its app."""

    def configure(*args: Any, **kwargs: Any) -> Any:
        from bot.handoff import relay

        app = configure_app(*args, **kwargs)
        app.register_middleware(internal_only, "request")
        relay.install(app, kwargs.get("input_channels", args[0] if args else None) or [])
        if not api_enabled:
            app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
        return app

    return configure


def rasa_arguments(model: str, port: int, endpoints: str, credentials: str) -> list[str]:
    """The ``rasa run`` arguments for the current settings (the API token included when it is set)."""
    settings = get_settings()
    arguments = ["run", "--model", model, "--interface", settings.rasa_host, "--port", str(port),
                 "--endpoints", endpoints, "--credentials", credentials, "--cors", *settings.chat_origins]
    if settings.rasa_api_token:
        arguments += ["--enable-api", f"--auth-token={settings.rasa_api_token}"]  # "=": a token may start with "-"
    return arguments


def main(argv: Optional[list[str]] = None) -> int:
    """Start the Rasa server with the channels, closed as described above."""
    import rasa.core.run
    from rasa.__main__ import main as rasa_main

    settings = get_settings()
    bot = PROJECT_ROOT / "bot"
    parser = argparse.ArgumentParser(prog="python -m bot.rasa_server", description=main.__doc__)
    parser.add_argument("--model", required=True, help="the trained model (.tar.gz)")
    parser.add_argument("--port", type=int, default=settings.rasa_port, help="port (default: RASA_PORT or 5005)")
    parser.add_argument("--endpoints", default=str(bot / "endpoints.yml"))
    parser.add_argument("--credentials", default=str(bot / "credentials.yml"))
    args = parser.parse_args(argv)
    for name, value in settings.lock_store_env().items():  # bot/endpoints.yml reads them; Rasa refuses unset ones
        os.environ.setdefault(name, value)
    rasa.core.run.configure_app = closing(rasa.core.run.configure_app, bool(settings.rasa_api_token))
    sys.argv = ["rasa", *rasa_arguments(args.model, args.port, args.endpoints, args.credentials)]
    from knowledge.shop import default_shop

    default_shop().warm_up(names_only=True)  # the NLU's catalog names, read while the model loads
    rasa_main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run the store page's web server: ``python -m bot.web`` (what ``shopbot web`` starts)."""

from __future__ import annotations

import argparse
from typing import Optional

from knowledge.settings import get_settings


def main(argv: Optional[list[str]] = None) -> int:
    """Serve the store page and the chat widget until stopped."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m bot.web", description=main.__doc__)
    parser.add_argument("--host", default=settings.web_host, help="address to listen on (default: WEB_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=settings.web_port, help="port (default: WEB_PORT or 8000)")
    args = parser.parse_args(argv)
    from bot.web.app import create_app

    create_app(settings).run(host=args.host, port=args.port, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

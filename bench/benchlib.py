"""What the benchmarks share: percentiles and the assistant to measure (running, or started privately)."""

from __future__ import annotations

import contextlib
import secrets
from typing import Iterator, Optional

from bot.stack import Stack
from bot.services import free_port
from knowledge.settings import Settings, get_settings


def percentile(values: list[float], fraction: float) -> float:
    """The value below which this fraction of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def private_settings() -> Settings:
    """Settings for a stack of our own on free ports, its data under var/bench, Rasa's API on with a token."""
    oxigraph = free_port()
    return Settings(
        var_dir=get_settings().var_dir / "bench", oxigraph_port=oxigraph,
        sparql_query_url=f"http://127.0.0.1:{oxigraph}/query", sparql_update_url=f"http://127.0.0.1:{oxigraph}/update",
        action_port=free_port(), rasa_port=free_port(), web_port=free_port(), rasa_api_token=secrets.token_urlsafe(24),
    )


def conversation(rasa_url: str, settings: Settings, customer: Optional[str] = None) -> tuple[str, dict[str, str]]:
    """A conversation id the server issued, and the headers to send with its messages (a signed-in customer's
    shopper token). A bot without server-issued ids (a bare Rasa bot) gets a made-up id instead."""
    import time

    import requests

    from bot.identity import issue_shopper_token

    headers = {"Authorization": f"Bearer {issue_shopper_token(customer, settings)}"} if customer else {}
    answer = requests.post(f"{rasa_url}/webhooks/rest/conversation", headers=headers, timeout=30)
    if answer.status_code in (404, 405):
        return f"bench-{time.time_ns()}", {}
    answer.raise_for_status()
    return answer.json()["sender"], headers


@contextlib.contextmanager
def assistant(start: bool) -> Iterator[Settings]:
    """The settings of the assistant to measure: a private stack while in the block, or the running one."""
    if not start:
        yield get_settings()
        return
    stack = Stack(private_settings())
    try:
        stack.start()
        yield stack.settings
    finally:
        stack.stop()

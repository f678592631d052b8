"""What the benchmarks share: percentiles and the assistant to measure (running, or started privately)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from bot.cli import Stack
from bot.services import free_port
from knowledge.settings import Settings, get_settings


def percentile(values: list[float], fraction: float) -> float:
    """The value below which this fraction of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def private_settings() -> Settings:
    """Settings for a stack of our own on free ports, its data under var/bench."""
    oxigraph = free_port()
    return Settings(
        var_dir=get_settings().var_dir / "bench", oxigraph_port=oxigraph,
        sparql_query_url=f"http://127.0.0.1:{oxigraph}/query", sparql_update_url=f"http://127.0.0.1:{oxigraph}/update",
        action_port=free_port(), rasa_port=free_port(), web_port=free_port(),
    )


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

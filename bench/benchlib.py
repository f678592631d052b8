"""What the benchmarks share: percentiles and the assistant to measure (running, or started privately)."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

from bot.stack import Stack
from bot.services import free_port, oxigraph_service
from knowledge.settings import PROJECT_ROOT, Settings, get_settings


def percentile(values: list[float], fraction: float) -> float:
    """The value below which this fraction of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def private_settings(var_dir: Optional[Path] = None) -> Settings:
    """Settings for a stack of our own on free ports, its data under ``var_dir`` (var/bench by default), Rasa's
    API on with a token."""
    oxigraph = free_port()
    return Settings(
        var_dir=var_dir or get_settings().var_dir / "bench", oxigraph_port=oxigraph,
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


def load_catalog(settings: Settings, path: Path) -> tuple[float, str]:
    """`shopbot kg load FILE` into a private stack's (stopped) Oxigraph store, as a process; (seconds, output)."""
    server = oxigraph_service(settings.oxigraph_dir, settings.oxigraph_port, settings.var_dir / "logs")
    server.start()
    try:
        server.wait_ready(30, busy_grace=60)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("SPARQL_", "SHOPBOT_VAR_DIR"))}
        env.update(settings.service_env(), OXIGRAPH_PORT=str(settings.oxigraph_port), PYTHONPATH=str(PROJECT_ROOT))
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bot.cli", "kg", "load", str(path), "--quiet", "--no-text-index"],
                              capture_output=True, text=True, env=env, check=False)
        took = time.perf_counter() - began
    finally:
        server.stop()
    if done.returncode != 0:
        raise RuntimeError(f"shopbot kg load {path} failed:\n{done.stdout}{done.stderr}")
    return took, (done.stdout + done.stderr).strip()


@contextlib.contextmanager
def assistant(start: bool, catalog: Optional[Path] = None) -> Iterator[Settings]:
    """The settings of the assistant to measure: a private stack while in the block (on a store holding
    ``catalog``, loaded with `shopbot kg load`, when given), or the running one."""
    if not start:
        yield get_settings()
        return
    if catalog is not None:
        settings = private_settings(Path(tempfile.mkdtemp(prefix="shopbot-bench-catalog-")))
        print(f"shopbot kg load {catalog}: {load_catalog(settings, catalog)[0]:.1f} s", file=sys.stderr, flush=True)
    else:
        settings = private_settings()
    stack = Stack(settings)
    try:
        stack.start()
        yield stack.settings
    finally:
        stack.stop()

"""Unit tests of bot.services.Service.wait_ready: a slow but busy start is waited for, an idle one is not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.services import Service, ServiceError, free_port

BUSY_THEN_SERVE = """
import http.server, sys, time
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    sum(range(10_000))  # opening a large store: busy, not listening yet
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def _service(tmp_path: Path, code: str, *args: str) -> Service:
    port = free_port()
    return Service("slow", [sys.executable, "-c", code, str(port), *args], f"http://127.0.0.1:{port}/",
                   tmp_path / "slow.log", port)


def test_a_busy_start_is_waited_for_past_the_timeout(tmp_path: Path) -> None:
    service = _service(tmp_path, BUSY_THEN_SERVE, "4")
    said: list[str] = []
    service.start()
    try:
        took = service.wait_ready(1, busy_grace=3, say=said.append)
        assert took > 1.5
    finally:
        service.stop()


def test_an_idle_start_gives_up_after_the_grace(tmp_path: Path) -> None:
    service = _service(tmp_path, "import time, sys; time.sleep(60)")
    service.start()
    try:
        with pytest.raises(ServiceError, match="no progress"):
            service.wait_ready(1, busy_grace=1.5)
    finally:
        service.stop()


def test_without_grace_the_timeout_holds(tmp_path: Path) -> None:
    service = _service(tmp_path, BUSY_THEN_SERVE, "30")
    service.start()
    try:
        with pytest.raises(ServiceError, match="not ready after"):
            service.wait_ready(1)
    finally:
        service.stop()

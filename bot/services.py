"""Starting, watching and stopping the processes of the assistant: Oxigraph, action server, Rasa."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from knowledge.settings import PROJECT_ROOT


class ServiceError(RuntimeError):
    """A service did not start or died."""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on a TCP port yet."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment for child processes: ours, quieter TensorFlow, the project importable."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")  # no reports to the outside: there is no network here
    env.setdefault("HF_HUB_OFFLINE", "1")  # models come installed (make setup); never fetched at run time
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


@dataclass
class Service:
    """One background process with a URL that answers once it is ready."""

    name: str
    command: list[str]
    ready_url: str
    log_path: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    process: Optional[subprocess.Popen] = None
    probe: Optional[Callable[[], bool]] = None  # instead of the ready URL (a database, Redis)
    stop_signal: int = signal.SIGTERM

    def start(self) -> None:
        """Start the process, its output going to the log file."""
        if not port_free(self.port):
            raise ServiceError(f"{self.name}: port {self.port} is already in use; stop what runs there or set another port")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=child_env(self.env), cwd=str(PROJECT_ROOT), start_new_session=True,
        )
        log.close()

    def ready(self) -> bool:
        """Whether the service answers: its probe, else its ready URL (any status below 500)."""
        if self.probe is not None:
            try:
                return self.probe()
            except Exception:  # noqa: BLE001 - any failure of a probe means "not yet"
                return False
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                return response.status < 500
        except urllib.error.HTTPError as error:
            return error.code < 500
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float, busy_grace: float = 0.0, say: Optional[Callable[[str], None]] = None) -> float:
        """Wait until ready; return the seconds it took. Raises with the log's tail if it dies or times out.

        With ``busy_grace``, the wait goes on past ``timeout`` while the process keeps using CPU (a large
        store opening): it gives up only after ``busy_grace`` seconds without progress, saying so every 15 s.
        """
        started = time.monotonic()
        last_cpu, last_progress, last_said = self.cpu_seconds(), started, started
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(f"{self.name} exited with code {self.process.returncode}\n{self.log_tail()}")
            if self.ready():
                return time.monotonic() - started
            now = time.monotonic()
            cpu = self.cpu_seconds()
            if cpu is not None and last_cpu is not None and cpu > last_cpu + 0.05:
                last_cpu, last_progress = cpu, now
            if now - started >= timeout and (not busy_grace or now - last_progress >= busy_grace):
                raise ServiceError(f"{self.name} not ready after {now - started:.0f} s"
                                   + (f" (no progress for {now - last_progress:.0f} s)" if busy_grace else "")
                                   + f"\n{self.log_tail()}")
            if say is not None and now - started >= timeout and now - last_said >= 15:
                say(f"{self.name} still starting after {now - started:.0f} s, busy ({cpu or 0:.0f} s of CPU): waiting")
                last_said = now
            time.sleep(0.3)

    def cpu_seconds(self) -> Optional[float]:
        """CPU seconds the process used so far (None when unknown: not started, or no /proc)."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the service's log."""
        if not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(f"  | {line}" for line in text[-lines:])

    def stop(self, timeout: float = 10) -> None:
        """Stop the process and its children."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, self.stop_signal)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass


def _probe(env: Optional[dict[str, str]], variable: str, port: int, path: str) -> str:
    """Where to check that a service answers: on loopback, unless it listens on one other address only."""
    host = (env or {}).get(variable) or "127.0.0.1"
    if host in ("0.0.0.0", "::", "") or host.startswith("127."):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def oxigraph_service(location: Path, port: int, log_dir: Path) -> Service:
    """A local Oxigraph SPARQL server with its data under ``location``, on loopback only.

    Its update endpoint has no authentication, so it listens on 127.0.0.1: only this machine's processes reach
    it (docs/scaling.md says how to do the same across hosts).
    """
    location.mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).with_name("oxigraph")
    return Service(
        "oxigraph",
        [str(binary), "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        f"http://127.0.0.1:{port}/",
        log_dir / "oxigraph.log",
        port,
    )


def action_service(port: int, log_dir: Path, env: Optional[dict[str, str]] = None) -> Service:
    """The action server running the project's actions: on ``ACTION_HOST``, answering only with its token."""
    return Service(
        "action server",
        [sys.executable, "-m", "bot.action_server", "--port", str(port)],
        _probe(env, "ACTION_HOST", port, "/health"),
        log_dir / "actions.log",
        port,
        env or {},
    )


def rasa_service(model: Path, port: int, log_dir: Path, action_url: str, env: Optional[dict[str, str]] = None) -> Service:
    """The Rasa server with the REST and socket.io channels; its HTTP API only with ``RASA_API_TOKEN``."""
    return Service(
        "rasa server",
        [sys.executable, "-m", "bot.rasa_server", "--model", str(model), "--port", str(port)],
        _probe(env, "RASA_HOST", port, "/"),
        log_dir / "rasa.log",
        port,
        {"ACTION_ENDPOINT_URL": action_url, **(env or {})},
    )


def web_service(port: int, log_dir: Path, env: Optional[dict[str, str]] = None) -> Service:
    """The web server of the store page, its chat widget, the admin page and the staff API."""
    return Service(
        "web server",
        [sys.executable, "-m", "bot.web", "--port", str(port)],
        _probe(env, "WEB_HOST", port, "/healthz"),
        log_dir / "web.log",
        port,
        env or {},
    )

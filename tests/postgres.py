"""A private PostgreSQL server for the tests: Debian's binaries, a temp folder, loopback only, a password.

``make test`` installs Debian's ``postgresql`` package (as it installs chromium); the ``postgres_url`` fixture
(tests/conftest.py) starts one server per test session with ``initdb`` and ``pg_ctl`` on a free port of
127.0.0.1, as the ``postgres`` system user when the tests run as root (PostgreSQL refuses to run as root).
``TEST_DATABASE_URL=postgresql://...`` uses an existing server instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from sqlalchemy.engine import make_url

from bot.cluster_services import postgres_binaries


class PrivatePostgres:
    """One PostgreSQL server in a temp folder, listening on 127.0.0.1 only, with a random password."""

    def __init__(self, port: int, user: str = "shopbot") -> None:
        self.port, self.user = port, user
        self.password = secrets.token_urlsafe(18)
        self.root = Path(tempfile.mkdtemp(prefix="shopbot-postgres-"))
        self.data = self.root / "data"
        self.bin = postgres_binaries()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        """initdb (scram-sha-256 for everyone), then pg_ctl start on loopback; waits until it accepts connections."""
        if self.bin is None:
            raise FileNotFoundError("no PostgreSQL binaries: make test installs Debian's postgresql package")
        password_file = self.root / "password"
        password_file.write_text(self.password)
        if self._as:
            shutil.chown(self.root, "postgres")
            shutil.chown(password_file, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "--pwfile", str(password_file),
                  "--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C.UTF-8")
        password_file.unlink()
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self.data.exists() and self.bin is not None:
            subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database on this server."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"


def create_database(server_url: str, name: str, template: Optional[str] = None) -> str:
    """Create a database (a copy of ``template`` if given) on the server of ``server_url``; return its URL."""
    from sqlalchemy import create_engine

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT", future=True)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)

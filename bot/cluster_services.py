"""The shared servers of a cluster on one machine: a private PostgreSQL, Redis and nginx, each on loopback.

Each runs in the foreground as a ``Service`` (``bot/services.py``) with its data and configuration under one
folder (``var/cluster/`` for ``shopbot run --replicas N``) and a password generated once and kept there (mode
0600): nothing listens on another address, nothing is shared with a system-wide server, and the passwords never
appear on a command line. Debian's packages provide the programs (``make run-cluster`` installs them).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Optional

from bot.services import Service, ServiceError

REDIS_SERVER = "/usr/bin/redis-server"
NGINX = "/usr/sbin/nginx"


def generated_password(path: Path) -> str:
    """The password kept in ``path``, generated once (random, readable by its owner only)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def write_private(path: Path, text: str) -> Path:
    """Write a configuration file readable by its owner only (it may hold a password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    return path


def postgres_binaries() -> Optional[Path]:
    """The folder of ``initdb`` and ``postgres``: Debian's newest /usr/lib/postgresql/N/bin, else the PATH's."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class Postgres:
    """A PostgreSQL server of its own in ``root``: initialised once, loopback only, one user with a password."""

    user = "shopbot"

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "data"
        self.password = generated_password(root.parent / "postgres.password")
        self.bin = postgres_binaries()
        # PostgreSQL refuses to run as root: then it runs as Debian's postgres user.
        self.as_user = (["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
                        if os.geteuid() == 0 else [])

    def initialise(self) -> None:
        """Create the data folder (scram-sha-256 for every connection) unless it exists."""
        if self.bin is None:
            raise ServiceError("no PostgreSQL: install Debian's postgresql package (make run-cluster does)")
        if (self.data / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        password_file = write_private(self.root / ".initdb-password", self.password)
        if self.as_user:
            shutil.chown(self.root, "postgres")
            shutil.chown(password_file, "postgres")
        try:
            done = subprocess.run([*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user,
                                   "--pwfile", str(password_file), "--auth", "scram-sha-256", "--encoding", "UTF8",
                                   "--locale", "C.UTF-8"], capture_output=True, text=True, timeout=120)
        finally:
            password_file.unlink()
        if done.returncode:
            raise ServiceError(f"initdb failed: {done.stdout}{done.stderr}")

    def service(self, log_dir: Path) -> Service:
        """The server in the foreground; SIGINT stops it (PostgreSQL's fast shutdown)."""
        self.initialise()
        command = [*self.as_user, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                   "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
                   "-c", "max_connections=200", "-c", "synchronous_commit=off"]
        return Service("postgresql", command, "", log_dir / "postgresql.log", self.port,
                       probe=self.answers, stop_signal=signal.SIGINT)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database on this server."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def answers(self) -> bool:
        """Whether the server accepts a connection."""
        import psycopg2

        psycopg2.connect(self.url(), connect_timeout=2).close()
        return True

    def create_databases(self, *names: str) -> None:
        """Create the databases that do not exist yet."""
        import psycopg2

        connection = psycopg2.connect(self.url(), connect_timeout=5)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                for name in names:
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                    if cursor.fetchone() is None:
                        cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()


class Redis:
    """A Redis server of its own: loopback only, a password, nothing written to disk."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.password = generated_password(root.parent / "redis.password")

    def service(self, log_dir: Path) -> Service:
        """The server in the foreground with its configuration file (which holds the password)."""
        self.root.mkdir(parents=True, exist_ok=True)
        config = write_private(self.root / "redis.conf", "\n".join([
            "bind 127.0.0.1", f"port {self.port}", "protected-mode yes", f"requirepass {self.password}",
            'save ""', "appendonly no", f"dir {self.root}", "daemonize no", 'logfile ""', "",
        ]))
        if not Path(REDIS_SERVER).exists():
            raise ServiceError("no redis-server: install Debian's redis-server package (make run-cluster does)")
        return Service("redis", [REDIS_SERVER, str(config)], "", log_dir / "redis.log", self.port, probe=self.answers)

    def url(self, db: int) -> str:
        """The ``redis://`` URL of one database on this server, with the password."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def answers(self) -> bool:
        """Whether the server answers PING."""
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=2).ping())


def nginx_config(root: Path, public_port: int, internal_port: int, rasa_ports: list[int], action_ports: list[int],
                 web_ports: list[int]) -> str:
    """nginx in front of the cluster, on loopback.

    The public port: ``/socket.io/`` sticky (by a cookie nginx sets on the first request, so the long-polling
    requests of one browser reach the replica holding its session), ``/webhooks/`` round robin over the Rasa
    replicas, everything else round robin over the web apps. The internal port: the action servers (Rasa's
    ``ACTION_ENDPOINT_URL``) and the Rasa replicas' hand-over relay (the web app's ``RASA_INTERNAL_URL``), round
    robin, without forwarding headers (the relay answers only this machine's processes, not proxied requests).
    """
    def servers(ports: list[int]) -> str:
        return "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports)

    temp = root / "temp"
    return f"""# written by bot/cluster.py: nginx in front of the shopbot cluster (docs/scaling.md)
daemon off;
worker_processes 1;
pid {root / 'nginx.pid'};
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp / 'body'};
    proxy_temp_path {temp / 'proxy'};
    fastcgi_temp_path {temp / 'fastcgi'};
    uwsgi_temp_path {temp / 'uwsgi'};
    scgi_temp_path {temp / 'scgi'};

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    # Sticky socket.io without NGINX Plus: the first request gets a random route cookie, later requests hash it.
    map $cookie_shopbot_route $shopbot_route {{
        ''      $request_id;
        default $cookie_shopbot_route;
    }}

    upstream rasa_sticky {{
        hash $shopbot_route consistent;
{servers(rasa_ports)}
    }}
    upstream rasa {{
{servers(rasa_ports)}
        keepalive 32;
        keepalive_timeout 3s;  # shorter than Sanic's 5 s: nginx never reuses a connection the server is closing
    }}
    upstream actions {{
{servers(action_ports)}
        keepalive 32;
        keepalive_timeout 3s;  # shorter than Sanic's 5 s: nginx never reuses a connection the server is closing
    }}
    upstream shop_web {{
{servers(web_ports)}
        keepalive 16;
        keepalive_timeout 3s;
    }}

    server {{
        listen 127.0.0.1:{public_port};
        location /socket.io/ {{
            proxy_pass http://rasa_sticky;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
            proxy_next_upstream error timeout;
            add_header Set-Cookie "shopbot_route=$shopbot_route; Path=/socket.io/; HttpOnly; SameSite=Lax";
        }}
        location /webhooks/ {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 330s;
            client_max_body_size 64k;
        }}
        location / {{
            proxy_pass http://shop_web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            client_max_body_size 6m;
        }}
    }}

    server {{
        listen 127.0.0.1:{internal_port};
        location = /webhook {{
            proxy_pass http://actions;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 300s;
            client_max_body_size 20m;
        }}
        location /internal/handoff/ {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            client_max_body_size 64k;
        }}
        location / {{ return 404; }}
    }}
}}
"""


def nginx_service(root: Path, config: str, public_port: int, internal_port: int, log_dir: Path) -> Service:
    """nginx in the foreground with ``config`` written under ``root``; ready when the store page answers through it."""
    if not Path(NGINX).exists():
        raise ServiceError("no nginx: install Debian's nginx package (make run-cluster does)")
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / "temp" / folder).mkdir(parents=True, exist_ok=True)
    path = write_private(root / "nginx.conf", config)
    return Service("nginx", [NGINX, "-p", str(root), "-c", str(path), "-e", "stderr"],
                   f"http://127.0.0.1:{public_port}/healthz", log_dir / "nginx.log", public_port)

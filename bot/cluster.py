"""Several Rasa replicas on one machine, configured as docs/scaling.md says: ``shopbot run --replicas N``.

``Cluster`` starts, all on loopback: a private PostgreSQL (tracker store ``rasa`` and shop database ``shop``),
Redis (database 1: Rasa's lock store; database 2: the socket.io message queue), the graph (the local Oxigraph
unless ``SPARQL_QUERY_URL`` names another server), M action servers, N Rasa replicas, the web app and nginx in
front of them (``bot/cluster_services.py``). Every process gets its configuration through the same environment
variables as a deployment across hosts would (README, "Configuration"); the code is the one ``shopbot run``
runs. Data, configuration files, logs and the generated passwords live under ``$SHOPBOT_VAR_DIR/cluster/``.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Callable, Optional

from bot.console import say
from bot.stack import Stack, run_until_stopped
from knowledge.settings import Settings, get_settings

#: Rasa's SQL tracker store pool per replica (Rasa's default, 50 + 100, would exhaust PostgreSQL's connections).
RASA_SQL_POOL = {"SQL_POOL_SIZE": "5", "SQL_MAX_OVERFLOW": "10"}
LOCK_DB, SOCKETIO_DB = 1, 2
#: The thread pools of a Rasa process: TensorFlow's (Rasa sizes them from these, ``rasa.utils.tensorflow.environment``),
#: OpenMP's and OpenBLAS's (numpy, scikit-learn). Idle pool threads spin; more threads than cores only burn CPU.
THREAD_POOLS = ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS", "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS")


def replica_threads(replicas: int, cores: Optional[int] = None) -> dict[str, str]:
    """The thread-pool sizes of one of ``replicas`` replicas: its share of the cores, unless set already."""
    share = str(max(1, (cores or os.cpu_count() or 1) // max(1, replicas)))
    return {name: os.environ.get(name, share) for name in THREAD_POOLS}


def distinct_free_ports(count: int, taken: set[int]) -> list[int]:
    """``count`` free TCP ports on loopback, none of them in ``taken`` (which grows by them)."""
    from bot.services import free_port

    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in taken:
            taken.add(port)
            ports.append(port)
    return ports


class Cluster(Stack):
    """PostgreSQL, Redis, the graph, action servers, Rasa replicas, the web app and nginx in front."""

    def __init__(self, settings: Settings, replicas: int = 2, action_servers: int = 1,
                 public_port: Optional[int] = None) -> None:
        from bot.cluster_services import Postgres, Redis

        if replicas < 1 or action_servers < 1:
            raise ValueError("a cluster needs at least one Rasa replica and one action server")
        super().__init__(settings)
        self.root = settings.var_dir / "cluster"
        self.public_port = public_port or settings.web_port
        taken = {self.public_port, settings.oxigraph_port}
        self.internal_port, self.web_port, postgres_port, redis_port = distinct_free_ports(4, taken)
        self.rasa_ports = distinct_free_ports(replicas, taken)
        self.action_ports = distinct_free_ports(action_servers, taken)
        self.postgres = Postgres(self.root / "postgres", postgres_port)
        self.redis = Redis(self.root / "redis", redis_port)
        self.replicas: list = []  # the Rasa replicas' services, in port order
        self.model: Optional[Path] = None
        self.startup_seconds = 0.0

    @property
    def public_url(self) -> str:
        """Where shoppers reach the cluster: nginx (store page, chat widget, REST channel)."""
        return f"http://127.0.0.1:{self.public_port}"

    def replica_url(self, index: int) -> str:
        """One Rasa replica directly, bypassing nginx."""
        return f"http://127.0.0.1:{self.rasa_ports[index]}"

    def cluster_settings(self) -> Settings:
        """The settings every process of the cluster gets: PostgreSQL, Redis, nginx's addresses."""
        public = f"http://localhost:{self.public_port}"
        internal = f"http://127.0.0.1:{self.internal_port}"
        return dataclasses.replace(
            self.settings, database_url=self.postgres.url("shop"), tracker_store_url=self.postgres.url("rasa"),
            lock_store_type="redis", redis_host="127.0.0.1", redis_port=self.redis.port,
            redis_password=self.redis.password, redis_lock_db=LOCK_DB,
            socketio_message_queue=self.redis.url(SOCKETIO_DB), public_url=public, rasa_public_url=public,
            rasa_internal_url=internal, action_endpoint_url=f"{internal}/webhook", trusted_proxies="127.0.0.1",
            web_port=self.web_port,
        )

    def start(self, with_actions: bool = True, with_rasa: bool = True, with_web: bool = True) -> None:
        """Start every process (the databases first, nginx last) and wait until the store answers through nginx."""
        from bot.cluster_services import nginx_config, nginx_service

        started = time.monotonic()
        logs = self.root / "logs"
        self._start(self.postgres.service(logs), timeout=60)
        self.postgres.create_databases("shop", "rasa")
        self._start(self.redis.service(logs), timeout=30)
        self.settings = self.cluster_settings()
        self.model = self.prepare()
        self._start_together([self.action_server(port) for port in self.action_ports], timeout=90)
        self.replicas = [self.rasa_replica(index) for index in range(len(self.rasa_ports))]
        self._start_together(self.replicas, timeout=300)
        self._start(self.web_app(), timeout=60)
        config = nginx_config(self.root / "nginx", self.public_port, self.internal_port, self.rasa_ports,
                              self.action_ports, [self.web_port])
        self._start(nginx_service(self.root / "nginx", config, self.public_port, self.internal_port, logs), timeout=30)
        self.startup_seconds = time.monotonic() - started
        say(f"cluster ready in {self.startup_seconds:.0f} s: {len(self.replicas)} Rasa replicas, "
            f"{len(self.action_ports)} action servers, at {self.public_url}")

    def _start_together(self, services: list, timeout: float) -> None:
        """Start several services at once, then wait for each (Rasa replicas load their models in parallel)."""
        for service in services:
            say(f"starting {service.name} on port {service.port} (log: {service.log_path})")
            service.start()
            self.services.append(service)
        for service in services:
            seconds = service.wait_ready(timeout, say=say)
            say(f"{service.name} ready in {seconds:.1f} s")

    def action_server(self, port: int):  # noqa: ANN201 - bot.services.Service
        """One action server, answering only Rasa's token."""
        from bot.services import action_service

        env = {**self.settings.service_env(), **self.settings.secret_env("action-server")}
        number = self.action_ports.index(port) + 1
        return dataclasses.replace(action_service(port, self.root / "logs", env), name=f"action server {number}",
                                   log_path=self.root / "logs" / f"actions-{number}.log")

    def rasa_replica(self, index: int):  # noqa: ANN201 - bot.services.Service
        """Rasa replica ``index``: Redis lock store and message queue, small tracker pool, a share of the cores."""
        from bot.services import rasa_service

        settings = self.settings
        env = {**settings.service_env(), **settings.lock_store_env(), **RASA_SQL_POOL, "SANIC_WORKERS": "1",
               **replica_threads(len(self.rasa_ports)),
               **settings.secret_env("shopper-token", "action-server", "handoff-relay"),
               "SOCKETIO_MESSAGE_QUEUE": settings.socketio_message_queue, "RASA_API_TOKEN": settings.rasa_api_token}
        service = rasa_service(self.model, self.rasa_ports[index], self.root / "logs", settings.action_endpoint_url,
                               env)
        return dataclasses.replace(service, name=f"rasa replica {index + 1}",
                                   log_path=self.root / "logs" / f"rasa-{index + 1}.log")

    def web_app(self):  # noqa: ANN201 - bot.services.Service
        """The web app: store page, widget, admin page, staff API; it reaches the relay through nginx."""
        from bot.services import web_service

        env = {**self.settings.service_env(),
               **self.settings.secret_env("shopper-token", "handoff-relay", "handoff-webhook")}
        return web_service(self.web_port, self.root / "logs", env)

    def kill_replica(self, index: int) -> None:
        """Kill a Rasa replica at once (SIGKILL), as a crash would."""
        self.replicas[index].stop_signal = signal.SIGKILL
        self.replicas[index].stop()

    def restart_replica(self, index: int, timeout: float = 300) -> float:
        """Start a stopped Rasa replica again; the seconds until it answered."""
        old = self.replicas[index]
        self.services.remove(old)
        replica = self.rasa_replica(index)
        self.replicas[index] = replica
        replica.start()
        self.services.append(replica)
        return replica.wait_ready(timeout, say=say)


def run_cluster(body: Callable[[Cluster], int], replicas: int, action_servers: int) -> int:
    """Start a cluster, run ``body`` with it, and stop it on return, error, Ctrl-C or SIGTERM."""
    cluster = Cluster(get_settings(), replicas=replicas, action_servers=action_servers)
    return run_until_stopped(cluster, cluster.start, body)

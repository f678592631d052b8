"""The running assistant as one object: the graph server (when local), action server, Rasa server and web server.

``Stack`` prepares what the services need (the demo store in an empty graph, the shop database, the recommender,
the product text index, the trained model) and starts and stops the services; ``shopbot run``, the tests and the
benchmarks all use it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from bot.console import say
from knowledge.connections import bulk_graph_client, shop_database
from knowledge.settings import Settings, get_settings

TEXT_INDEX_AT_START = 20_000  # catalogs up to this size get their product texts encoded when the stack starts


class Stack:
    """The running assistant: the graph server (when local), action server, Rasa server and web server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = []
        self.text_job: Optional[subprocess.Popen] = None  # `shopbot kg index-texts` in the background, large catalogs

    def start(self, with_actions: bool = True, with_rasa: bool = True, with_web: bool = True) -> None:
        """Start the services, loading the demo store and training the model when needed."""
        from bot.services import action_service, rasa_service, web_service

        settings, logs = self.settings, self.settings.var_dir / "logs"
        model = self.prepare()
        # Each service gets only the secrets it needs, in its environment (never on its command line).
        env = settings.service_env()
        if with_actions:
            self._start(action_service(settings.action_port, logs, {**env, **settings.secret_env("action-server")}),
                        timeout=90)
        if with_rasa:
            secrets = {**settings.secret_env("shopper-token", "action-server", "handoff-relay"),
                       **settings.lock_store_env(), "RASA_API_TOKEN": settings.rasa_api_token}
            rasa = rasa_service(model, settings.rasa_port, logs, settings.action_endpoint_url, {**env, **secrets})
            self._start(rasa, timeout=300)
        if with_web:
            web_secrets = settings.secret_env("shopper-token", "handoff-relay", "handoff-webhook")
            self._start(web_service(settings.web_port, logs, {**env, **web_secrets}), timeout=60)

    def prepare(self) -> Path:
        """The graph server (when local) with the store in it, the shop database, the recommender, the text
        index and the trained model: what every Rasa and action server needs. Returns the model's path."""
        from bot.services import oxigraph_service
        from bot.training import train
        from knowledge.demo_store import write_store
        from knowledge.loading import load_graph, read_turtle
        from knowledge.products import count_products

        settings, logs = self.settings, self.settings.var_dir / "logs"
        if not settings.catalog_file.exists():
            say("generating the demo store")
            write_store(settings.store_dir)
        if settings.local_oxigraph:
            from bot.store_switch import put_in_place

            if put_in_place(settings):  # `shopbot kg load --new-store` built a store while no server ran
                say(f"switched to the new store built by `shopbot kg load --new-store` in {settings.oxigraph_dir}")
            # a large store takes a while to open: wait while the server keeps working, not a fixed time
            self._start(oxigraph_service(settings.oxigraph_dir, settings.oxigraph_port, logs), timeout=30, busy_grace=60)
        kg = bulk_graph_client(settings)
        products = count_products(kg)
        if products == 0:
            say(f"loading the demo store into {settings.sparql_update_url}")
            load_graph(kg, read_turtle(settings.catalog_file))
            products = count_products(kg)
        say(f"knowledge graph: {products} products at {settings.sparql_query_url}")
        ensure_shop_database(settings)
        ensure_recommender(settings, kg)
        if products <= TEXT_INDEX_AT_START:
            ensure_text_index(settings, kg)
        else:  # encoding 100,000 texts takes an hour or more on 2 cores: not before the start, but beside it
            self.text_job = start_text_index_job(settings)
            say(f"product text index: {products:,} products, the missing texts encoded in the background "
                f"(`shopbot kg index-texts`, niced, pid {self.text_job.pid}, log: {settings.var_dir / 'logs'}); "
                "until then a descriptive search encodes the texts it ranks")
        model, seconds = train()
        say(f"model: {model}" + (f" (trained in {seconds:.0f} s)" if seconds else " (up to date)"))
        return model

    def _start(self, service, timeout: float, busy_grace: float = 0.0) -> None:  # noqa: ANN001 - bot.services.Service
        say(f"starting {service.name} on port {service.port} (log: {service.log_path})")
        service.start()
        self.services.append(service)
        seconds = service.wait_ready(timeout, busy_grace=busy_grace, say=say)
        say(f"{service.name} ready in {seconds:.1f} s")

    def follow(self) -> bool:
        """Switch the local Oxigraph server to the store `shopbot kg load --new-store` built, when it asks for
        it (bot/store_switch.py); whether it did."""
        from bot.services import oxigraph_service
        from bot.store_switch import put_in_place, switch_request

        index = next((i for i, s in enumerate(self.services) if s.name == "oxigraph"), None)
        if index is None or not switch_request(self.settings).exists():
            return False
        settings = self.settings
        say("switching the graph server to the new store built by `shopbot kg load --new-store`")
        began = time.monotonic()
        self.services[index].stop()
        put_in_place(settings)
        server = oxigraph_service(settings.oxigraph_dir, settings.oxigraph_port, settings.var_dir / "logs")
        server.start()
        self.services[index] = server
        server.wait_ready(30, busy_grace=60, say=say)
        say(f"the graph server answers from the new store ({time.monotonic() - began:.1f} s without one)")
        return True

    def stop(self) -> None:
        """Stop every service this stack started, newest first, and its background text encoding."""
        if self.text_job is not None and self.text_job.poll() is None:
            os.killpg(self.text_job.pid, signal.SIGTERM)
            self.text_job.wait(timeout=30)
        self.text_job = None
        for service in reversed(self.services):
            say(f"stopping {service.name}")
            service.stop()
        self.services.clear()

    def wait(self) -> int:
        """Block until Ctrl-C or until a service dies, switching graph stores when asked to."""
        while True:
            self.follow()
            for service in self.services:
                if service.process.poll() is not None:
                    say(f"{service.name} exited with code {service.process.returncode}\n{service.log_tail()}")
                    return 1
            time.sleep(1)


def ensure_shop_database(settings: Settings) -> None:
    """Create the shop database and fill it with the demo shop when it holds no orders yet."""
    from datetime import date

    from knowledge.demo_store import generate_products
    from knowledge.shopdb.generate import generate_shop

    shop = shop_database(settings)
    try:
        if shop.is_empty():
            say(f"generating the demo shop's customers and orders into {shop.url}")
            counts = generate_shop(shop, generate_products(), today=date.today())
            say("  " + ", ".join(f"{count} {table}" for table, count in counts.items()))
        else:
            say(f"shop database: {shop.url}")
    finally:
        shop.dispose()


def ensure_text_index(settings: Settings, kg) -> None:  # noqa: ANN001 - a SparqlEndpoint
    """Embed the products' texts for descriptive search when the index lacks some (the first run: ~10 s)."""
    from knowledge.textsearch import ProductTextIndex, index_catalog

    products, embedded = index_catalog(kg, ProductTextIndex(path=settings.text_index_file))
    say(f"product text index: {products} products" + (f" ({embedded} texts embedded now)" if embedded else ""))


def start_text_index_job(settings: Settings) -> subprocess.Popen:
    """`shopbot kg index-texts` as a low-priority background process: the turns keep the CPU they need."""
    from bot.services import child_env

    logs = settings.var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "index-texts.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "kg", "index-texts"], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                env=child_env(settings.service_env()), preexec_fn=lambda: os.nice(19))


def ensure_recommender(settings: Settings, kg) -> None:  # noqa: ANN001 - a SparqlEndpoint
    """Train the recommender from the interaction log when no trained model is saved yet."""
    from knowledge.recommend.shop import ensure_model

    if not settings.recommender_file.exists():
        say("training the recommender from the interaction log")
    shop = shop_database(settings)
    try:
        say(f"recommender: {ensure_model(settings.recommender_file, shop, kg)}")
    finally:
        shop.dispose()


def run_stack(body: Callable[[Stack], int], with_actions: bool = True, with_rasa: bool = True,
              with_web: bool = True) -> int:
    """Start a stack, run ``body`` with it, and stop it on return, error, Ctrl-C or SIGTERM."""
    stack = Stack(get_settings())
    return run_until_stopped(stack, lambda: stack.start(with_actions=with_actions, with_rasa=with_rasa,
                                                        with_web=with_web), body)


def run_until_stopped(services: Any, start: Callable[[], None], body: Callable[[Any], int]) -> int:
    """Call ``start``, then ``body(services)``; ``services.stop()`` on return, error, Ctrl-C or SIGTERM."""
    from bot.services import ServiceError

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        start()
        return body(services)
    except ServiceError as error:
        say(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        services.stop()

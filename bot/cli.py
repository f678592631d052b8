"""The ``shopbot`` command line: generate the demo store, load the graph, train, run and test."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from bot.console import say
from bot.cli_recommend import register as register_recommend
from bot.cli_segments import register as register_segments
from bot.cli_shop import register as register_shop
from bot.cli_kg_edit import register as register_kg_edit
from bot.cli_nlu import register as register_nlu
from bot.stack import Stack, ensure_text_index, run_stack
from knowledge.connections import bulk_graph_client
from knowledge.settings import PROJECT_ROOT, Settings, get_settings


# --- data -----------------------------------------------------------------------------------------

def cmd_data_generate(args: argparse.Namespace) -> int:
    """Generate the demo store's catalog and product images."""
    from knowledge.demo_store import write_store

    settings = get_settings()
    out = Path(args.out) if args.out else settings.store_dir
    if (out / "catalog.ttl").exists() and not args.force:
        say(f"demo store already at {out / 'catalog.ttl'} (use --force to regenerate)")
        return 0
    catalog, count = write_store(out, seed=args.seed)
    say(f"wrote {count} products to {catalog} and their images to {out / 'images'}")
    return 0


# --- knowledge graph ------------------------------------------------------------------------------

def cmd_kg_load(args: argparse.Namespace) -> int:
    """Load a Turtle, N-Triples or N-Quads file into the SPARQL endpoint, replacing what it holds."""
    from tqdm import tqdm

    from knowledge.bulk_loading import content_type, load_file, load_file_atomically

    settings = get_settings()
    path = Path(args.file) if args.file else settings.catalog_file
    if not path.exists():
        say(f"no such file: {path} (run `shopbot data generate` for the demo store)")
        return 2
    if args.atomic and args.new_store:
        say("--atomic and --new-store are two ways of replacing the catalog: give one")
        return 2
    if (args.atomic or args.new_store) and args.append:
        say("--atomic and --new-store replace the catalog: they cannot be combined with --append")
        return 2
    try:
        content_type(path)
    except ValueError as error:
        say(str(error))
        return 2
    kg = bulk_graph_client(settings)
    kg.timeout = max(kg.timeout, 600.0)  # clearing a large graph is one long request
    started = time.monotonic()
    if args.new_store:
        status = load_new_store(settings, kg, path)
        if status is not None:
            return status
        return check_loaded(settings, kg, started, args.no_text_index)
    how = f"streaming to {settings.sparql_store_url}" if settings.sparql_store_url else "as SPARQL updates"
    say(f"loading {path} ({path.stat().st_size / 1e6:.1f} MB) {how}")
    with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc="load", file=sys.stderr,
              disable=args.quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        if args.atomic:
            load_file_atomically(kg, path, settings.sparql_store_url, progress=progress)
        else:
            load_file(kg, path, settings.sparql_store_url, replace=not args.append, progress=progress)
    return check_loaded(settings, kg, started, args.no_text_index)


SWITCH_WAIT_SECONDS = 120.0  # how long `kg load --new-store` waits for the running stack to switch stores


def load_new_store(settings: Settings, kg, path: Path) -> Optional[int]:  # noqa: ANN001 - HttpSparqlClient
    """Build the catalog into a new local Oxigraph store and switch to it (bot/store_switch.py); an exit status
    when there is nothing more to do, else None (the server answers from the new store)."""
    from bot.store_switch import build_store, live_state, put_in_place, staged_dir, switch_request, wait_for_switch

    if not settings.local_oxigraph:
        say("--new-store builds a store for the local Oxigraph server; for another server use --atomic")
        return 2
    state = live_state(kg)
    say(f"building a new store from {path} ({path.stat().st_size / 1e6:.1f} MB) in {staged_dir(settings)}")
    began = time.monotonic()
    try:
        load_id = build_store(path, staged_dir(settings), state[1] if state else 0)
    except ValueError as error:
        say(str(error))
        return 1
    say(f"new store built in {time.monotonic() - began:.1f} s")
    switch_request(settings).write_text(load_id + "\n")
    if state is None:
        put_in_place(settings)
        say(f"no server answers at {settings.sparql_query_url}: the new store is in place for the next start")
        return 0
    seconds = wait_for_switch(kg, load_id, SWITCH_WAIT_SECONDS)
    if seconds is None:
        say(f"the server did not switch to the new store within {SWITCH_WAIT_SECONDS:.0f} s (is it run by "
            "`shopbot run`?); it stays staged and the next `shopbot run` starts on it")
        return 1
    say(f"the server answers from the new store ({seconds:.1f} s after the switch was asked for)")
    return None


def check_loaded(settings: Settings, kg, started: float, no_text_index: bool) -> int:  # noqa: ANN001 - kg: any SPARQL client of knowledge.sparql
    """Report what the graph holds now, validate a sample and (unless told not to) embed the product texts."""
    from knowledge.bulk_loading import validate_sample
    from knowledge.products import count_products, count_triples

    say(f"loaded {count_triples(kg):,} triples ({count_products(kg):,} products) in "
        f"{time.monotonic() - started:.1f} s into {settings.sparql_update_url}")
    checked, report = validate_sample(kg)
    if not report.conforms:
        say(f"{len(report.problems)} problems in a sample of {checked} products (`shopbot kg validate` checks all):")
        for problem in report.problems[:20]:
            print(f"  - {problem}")
        return 1
    say(f"a sample of {checked} products conforms to the shapes")
    if not no_text_index:
        ensure_text_index(settings, bulk_graph_client(settings))
    return 0


def cmd_kg_index_texts(args: argparse.Namespace) -> int:
    """Encode the product texts descriptive search lacks, saving after each batch (`shopbot run` runs it in the
    background for catalogs above 20,000 products)."""
    settings = get_settings()
    ensure_text_index(settings, bulk_graph_client(settings))
    return 0


def cmd_kg_validate(args: argparse.Namespace) -> int:
    """Validate a Turtle file, or the live graph, against the SHACL shapes."""
    from knowledge.loading import dump_graph, read_turtle
    from knowledge.validation import validate

    settings = get_settings()
    if args.file:
        graph, where = read_turtle(Path(args.file)), args.file
    else:
        graph, where = dump_graph(bulk_graph_client(settings)), settings.sparql_query_url
    report = validate(graph)
    if report.conforms:
        say(f"{where}: {len(graph)} triples conform to the shapes")
        return 0
    say(f"{where}: {len(report.problems)} problems")
    for problem in report.problems:
        print(f"  - {problem}")
    return 1


def cmd_kg_stats(args: argparse.Namespace) -> int:
    """Print how many triples and products the graph holds."""
    from knowledge.products import count_products, count_triples

    kg = bulk_graph_client(get_settings())
    print(f"triples: {count_triples(kg)}\nproducts: {count_products(kg)}")
    return 0


def cmd_kg_serve(args: argparse.Namespace) -> int:
    """Run the local Oxigraph server in the foreground."""
    from bot.services import oxigraph_service

    settings = get_settings()
    service = oxigraph_service(settings.oxigraph_dir, settings.oxigraph_port, settings.var_dir / "logs")
    os.execv(service.command[0], service.command)
    return 0  # pragma: no cover


# --- model ----------------------------------------------------------------------------------------

def cmd_train(args: argparse.Namespace) -> int:
    """Train the Rasa model if its inputs changed."""
    from bot.training import model_path, train

    target = model_path()
    if target.exists() and not args.force:
        say(f"model is up to date: {target}")
        return 0
    say(f"training {target.name} (about 2-3 minutes on 2 cores)")
    path, seconds = train(force=args.force)
    say(f"trained {path} in {seconds:.0f} s")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Start the whole assistant and keep it running until Ctrl-C."""
    if args.replicas:
        return run_cluster_command(args.replicas, args.action_servers)
    settings = get_settings()

    def serve(stack: Stack) -> int:
        say("shopbot is running:")
        print(f"  store and chat    http://localhost:{settings.web_port}/")
        print(f"  REST channel      http://localhost:{settings.rasa_port}/webhooks/rest/webhook")
        print(f"  socket.io channel http://localhost:{settings.rasa_port}/socket.io")
        print(f"  action server     {settings.action_endpoint_url} (token required)")
        print("  Rasa HTTP API     " + ("on, loopback only, with RASA_API_TOKEN" if settings.rasa_api_token
                                         else "off (set RASA_API_TOKEN to turn it on, for this machine only)"))
        print(f"  SPARQL endpoint   {settings.sparql_query_url}")
        print(f"  logs              {settings.var_dir / 'logs'}")
        print(f"  try: curl -s -X POST localhost:{settings.rasa_port}/webhooks/rest/conversation   # a conversation id")
        print(f"       curl -s localhost:{settings.rasa_port}/webhooks/rest/webhook "
              "-d '{\"sender\":\"<that id>\",\"message\":\"how much is the trailblazer 2?\"}'")
        say("press Ctrl-C to stop")
        return stack.wait()

    return run_stack(serve)


def run_cluster_command(replicas: int, action_servers: int) -> int:
    """Start a cluster (``shopbot run --replicas N``) and keep it running until Ctrl-C."""
    from bot.cluster import Cluster, run_cluster

    def serve(cluster: Cluster) -> int:
        say(f"shopbot cluster is running (started in {cluster.startup_seconds:.0f} s):")
        print(f"  store and chat    http://localhost:{cluster.public_port}/   (nginx: /socket.io/ sticky, "
              "/webhooks/ and / round robin)")
        for index, port in enumerate(cluster.rasa_ports):
            print(f"  rasa replica {index + 1}    http://127.0.0.1:{port}")
        print(f"  action servers    {', '.join(f'http://127.0.0.1:{p}' for p in cluster.action_ports)} "
              f"(behind http://127.0.0.1:{cluster.internal_port}/webhook, token required)")
        print(f"  PostgreSQL        127.0.0.1:{cluster.postgres.port} (databases rasa, shop; password in "
              f"{cluster.root / 'postgres.password'})")
        print(f"  Redis             127.0.0.1:{cluster.redis.port} (db {1}: lock store, db 2: socket.io queue)")
        print(f"  logs              {cluster.root / 'logs'}")
        say("press Ctrl-C to stop")
        return cluster.wait()

    return run_cluster(serve, replicas, action_servers)


def cmd_shell(args: argparse.Namespace) -> int:
    """Chat with the assistant in the terminal (starts the graph and action server first)."""
    from bot.training import model_path

    settings = get_settings()

    def shell(stack: Stack) -> int:
        from bot.services import child_env

        command = [
            sys.executable, "-m", "rasa", "shell", "--model", str(model_path()), "--interface", "127.0.0.1",
            "--endpoints", str(PROJECT_ROOT / "bot" / "endpoints.yml"),
        ]
        env = {"ACTION_ENDPOINT_URL": settings.action_endpoint_url, **settings.service_env(),
               **settings.lock_store_env(), **settings.secret_env("shopper-token", "action-server")}
        return subprocess.call(command, env=child_env(env))

    return run_stack(shell, with_rasa=False, with_web=False)


def cmd_actions(args: argparse.Namespace) -> int:
    """Run the action server in the foreground (on ACTION_HOST, answering only with ACTION_SERVER_TOKEN)."""
    from bot.services import child_env

    settings = get_settings()
    command = [sys.executable, "-m", "bot.action_server", "--port", str(settings.action_port)]
    os.execve(sys.executable, command, child_env(settings.secret_env("action-server")))
    return 0  # pragma: no cover


def cmd_web(args: argparse.Namespace) -> int:
    """Run the store page and chat widget's web server in the foreground."""
    from bot.web.__main__ import main as web_main

    port = args.port or get_settings().web_port
    say(f"store page on http://localhost:{port}/ (Ctrl-C stops it)")
    return web_main(["--host", args.host or get_settings().web_host, "--port", str(port)])


# --- testing --------------------------------------------------------------------------------------

def cmd_test(args: argparse.Namespace) -> int:
    """Validate the training data, run the test stories, then the pytest suite; print one summary."""
    import tempfile

    from bot.services import child_env, free_port
    from bot.training import CONFIG, DOMAIN, TRAINING_DATA, model_path

    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args  # "-- -m slow"
    steps = [
        ("rasa data validate", [sys.executable, "-m", "rasa", "data", "validate", "--fail-on-warnings",
                                "--config", str(CONFIG), "--domain", str(DOMAIN),
                                "--data", *[str(p) for p in TRAINING_DATA]]),
        ("test stories", [sys.executable, "-m", "rasa", "test", "core", "--model", str(model_path()),
                          "--stories", str(PROJECT_ROOT / "tests" / "stories"),
                          "--out", str(PROJECT_ROOT / "results"), "--fail-on-prediction-errors"]),
        ("pytest", [sys.executable, "-m", "pytest", *pytest_args]),
    ]
    report = Path(tempfile.mkdtemp(prefix="shopbot-pytest-")) / "junit.xml"  # read back for the summary's counts
    steps[-1][1].append(f"--junit-xml={report}")
    steps = [step for step in steps if not args.only or step[0] in args.only]
    # The test stories run the real NLU pipeline, whose catalog matcher reads a real graph: a private Oxigraph.
    graph_settings = Settings(var_dir=Path(tempfile.mkdtemp(prefix="shopbot-test-")), oxigraph_port=free_port())
    graph_env = graph_settings.service_env()
    results = []

    def run_steps(stack: Stack) -> int:
        for name, command in steps:
            say(f"{name}: {' '.join(command[2:])}")
            started = time.monotonic()
            env = child_env(graph_env if name == "test stories" else {})
            code = subprocess.call(command, cwd=str(PROJECT_ROOT), env=env)
            results.append((name, code, time.monotonic() - started))
        return 0

    stack = Stack(graph_settings)
    try:
        stack.start(with_actions=False, with_rasa=False, with_web=False)
        run_steps(stack)
    finally:
        stack.stop()
    say("summary:")
    for name, code, seconds in results:
        counts = f": {pytest_counts(report)}" if name == "pytest" and report.exists() else ""
        print(f"  {'ok  ' if code == 0 else 'FAIL'} {name} ({seconds:.0f} s){counts}")
    for test, reason in pytest_skips(report) if report.exists() else []:
        print(f"       skipped {test}: {reason}")
    return 0 if results and all(code == 0 for _, code, _ in results) else 1


def _testcases(report: Path) -> list:  # xml.etree elements
    import xml.etree.ElementTree as ElementTree

    return list(ElementTree.parse(report).getroot().iter("testcase"))


def pytest_counts(report: Path) -> str:
    """How many tests passed, failed and were skipped, from pytest's JUnit XML report."""
    cases = _testcases(report)
    failed = sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
    skipped = len(pytest_skips(report))
    return f"{len(cases) - failed - skipped} passed, {failed} failed, {skipped} skipped"


def pytest_skips(report: Path) -> list[tuple[str, str]]:
    """Each skipped test of pytest's JUnit XML report, with the reason it gave."""
    return [(f"{c.get('classname')}::{c.get('name')}", c.find("skipped").get("message", ""))
            for c in _testcases(report)
            if c.find("skipped") is not None and c.find("skipped").get("type") != "pytest.xfail"]


# --- parser ---------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every shopbot command."""
    parser = argparse.ArgumentParser(
        prog="shopbot",
        description="A conversational shop assistant: Rasa, an RDF product graph and recommendations. "
        "Settings come from environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="demo store data").add_subparsers(dest="sub", required=True, metavar="SUB")
    generate = data.add_parser("generate", help="generate the demo store's catalog (Turtle) and images")
    generate.add_argument("--force", action="store_true", help="overwrite an existing catalog")
    generate.add_argument("--seed", type=int, default=20261129, help="random seed (default: %(default)s)")
    generate.add_argument("--out", help="output folder (default: SHOPBOT_STORE_DIR or data/store)")
    generate.set_defaults(func=cmd_data_generate)

    kg = commands.add_parser("kg", help="the knowledge graph").add_subparsers(dest="sub", required=True, metavar="SUB")
    load = kg.add_parser("load", help="load a Turtle file into the SPARQL endpoint (replaces its content)",
                         epilog="What answers see while a catalog loads, and the cost of each way: docs/catalogs.md")
    load.add_argument("file", nargs="?", help="Turtle, N-Triples or N-Quads file (default: the demo store's catalog)")
    load.add_argument("--append", action="store_true", help="add to the graph instead of replacing it")
    load.add_argument("--atomic", action="store_true",
                      help="for a shop that stays open: stage the file in a named graph, then replace the catalog in "
                           "one transaction, so the assistant answers from the old catalog until the new one is whole "
                           "(without it, answers during the load see an empty or partly loaded catalog); any SPARQL "
                           "server, but one transaction the size of the catalog")
    load.add_argument("--new-store", action="store_true",
                      help="for the local Oxigraph server: build the catalog into a new store directory (oxigraph load) "
                           "and have the running `shopbot run` switch its server to it; answers come from the old "
                           "catalog until the switch, from the whole new one after it, and apologise during the "
                           "server's restart (about a second)")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.add_argument("--no-text-index", action="store_true",
                      help="do not encode the products' texts now (descriptive search encodes them on first use)")
    load.set_defaults(func=cmd_kg_load)
    index_texts = kg.add_parser("index-texts", help="encode the product texts descriptive search lacks, saving as it goes")
    index_texts.set_defaults(func=cmd_kg_index_texts)
    validate = kg.add_parser("validate", help="check a Turtle file or the live graph against the SHACL shapes")
    validate.add_argument("file", nargs="?", help="Turtle file (default: the live graph)")
    validate.set_defaults(func=cmd_kg_validate)
    kg.add_parser("stats", help="count triples and products in the live graph").set_defaults(func=cmd_kg_stats)
    kg.add_parser("serve", help="run the local Oxigraph server in the foreground").set_defaults(func=cmd_kg_serve)

    train = commands.add_parser("train", help="train the Rasa model when its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if the model is up to date")
    train.set_defaults(func=cmd_train)

    run = commands.add_parser("run", help="start the graph, action server and Rasa server; Ctrl-C stops them")
    run.add_argument("--replicas", type=int, default=0, metavar="N",
                     help="a cluster instead: PostgreSQL, Redis, N Rasa replicas and nginx in front (docs/scaling.md)")
    run.add_argument("--action-servers", type=int, default=1, metavar="M", help="with --replicas: action servers")
    run.set_defaults(func=cmd_run)
    commands.add_parser("shell", help="chat with the assistant in the terminal").set_defaults(func=cmd_shell)
    commands.add_parser("actions", help="run the action server in the foreground").set_defaults(func=cmd_actions)
    web = commands.add_parser("web", help="run the store page with the chat widget in the foreground "
                                          "(the graph and Rasa server must be running: `shopbot run` starts all)")
    web.add_argument("--host", default=None, help="address to listen on (default: WEB_HOST or 127.0.0.1)")
    web.add_argument("--port", type=int, help="port (default: WEB_PORT or 8000)")
    web.set_defaults(func=cmd_web)

    test = commands.add_parser("test", help="rasa data validate, test stories and pytest, with one summary")
    test.add_argument("--only", action="append", choices=["rasa data validate", "test stories", "pytest"],
                      help="run only this step (repeatable)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="arguments passed on to pytest")
    test.set_defaults(func=cmd_test)

    register_kg_edit(kg, commands)
    register_recommend(commands)
    register_shop(commands)
    register_segments(commands)
    register_nlu(commands)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Run the shopbot command line."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one clear line instead of a traceback for known failures
        from knowledge.sparql import KnowledgeGraphUnavailable

        if isinstance(error, KnowledgeGraphUnavailable):
            say(f"error: {error}\n  is the SPARQL server running? `shopbot run` starts a local one")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())

"""Run the knowledge-layer tests against a private Virtuoso server (Debian's virtuoso-opensource).

Installs the package when `virtuoso-t` is missing (apt-get, non-interactive, without starting the system
service), starts `virtuoso-t +foreground` with its own virtuoso.ini and database in a temp dir on free
loopback ports, sets a random dba password, creates a SPARQL user with the SPARQL_UPDATE role, loads the
demo store, and runs pytest with the TEST_SPARQL_* hooks of tests/conftest.py pointing at it:

  query:  http://127.0.0.1:PORT/sparql?default-graph-uri=G        (anonymous, read only)
  update: http://127.0.0.1:PORT/sparql-auth?default-graph-uri=G   (HTTP Digest, the SPARQL user)

Both name one graph G as the default graph: Virtuoso's default graph is otherwise the union of every graph
(its own system graphs too), and it refuses CLEAR DEFAULT / INSERT DATA without a declared default graph.
TEST_SPARQL_SERVER=virtuoso is set, and the plugin tests/virtuoso/plugin.py marks the tests that fail
because of a Virtuoso deviation (xfail, with the reason). Virtuoso is stopped and
its temp dir removed afterwards, whatever happens (unless --keep). Exit code: pytest's.

Default tests: tests/unit, tests/integration/test_actions.py (the actions against the server),
tests/integration/test_atomic_load.py (`kg load --atomic` while a reader counts) and
tests/virtuoso/server_checks.py (escaping round trips and answers compared with Oxigraph, on the server).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_ROOT))

from bot.services import Service, ServiceError, free_port, port_free  # noqa: E402 - after the sys.path set-up that lets the script run from a checkout

GRAPH = "https://shop.example/graph"
DEFAULT_TESTS = ["tests/unit", "tests/integration/test_actions.py", "tests/integration/test_atomic_load.py",
                 "tests/virtuoso/server_checks.py"]
PACKAGE = "virtuoso-opensource"

INI = """\
; a private, throw-away Virtuoso for shopbot's tests: loopback only, data in this folder
[Database]
DatabaseFile       = {dir}/virtuoso.db
ErrorLogFile       = {dir}/virtuoso.log
LockFile           = {dir}/virtuoso.lck
TransactionFile    = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {dir}/virtuoso-temp.db
TransactionFile    = {dir}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort           = 127.0.0.1:{sql_port}
DisableUnixSocket    = 1
DisableTcpSocket     = 0
MaxClientConnections = 10
CheckpointInterval   = 60
CaseMode             = 2
DirsAllowed          = ., {dir}
NumberOfBuffers      = 20000
MaxDirtyBuffers      = 15000
ThreadsPerQuery      = 2
MaxQueryMem          = 1G

[HTTPServer]
ServerPort           = 127.0.0.1:{http_port}
ServerRoot           = {dir}/vsp
MaxClientConnections = 10
ServerThreads        = 10
Charset              = UTF-8
EnabledGzipContent   = 0

[SPARQL]
; Debian's virtuoso.ini says 10000: a longer answer is cut off silently (the catalog-names query of a
; large catalog has one row a name)
ResultSetMaxRows           = 1000000
MaxQueryExecutionTime      = 120
; no MaxQueryCostEstimationTime (Debian's virtuoso.ini says 400): with cost estimation on, an INSERT DATA
; of more than about 1,300 triples fails with "SP031: The length of generated SQL text has exceeded 10000
; lines of code", and knowledge.loading.load_graph sends 20,000 a request
"""


def say(message: str) -> None:
    """A progress line."""
    print(f"[virtuoso] {message}", flush=True)


def ensure_installed() -> None:
    """Install Debian's virtuoso-opensource if `virtuoso-t` is missing, without starting its system service."""
    if shutil.which("virtuoso-t") and shutil.which("isql-vt"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # The package asks for a dba password (debconf); with none it leaves its own instance disabled. We never
    # use that instance: ours has its own ini, database and password.
    selections = "\n".join(
        f"virtuoso-opensource-7 virtuoso-opensource-7/{name} password " for name in ("dba-password", "dba-password-again")
    ) + "\n"
    subprocess.run([*sudo, "debconf-set-selections"], input=selections, text=True, check=False, env=env)
    # Keep the package's postinst from starting the system service (policy-rc.d exit 101 = "not now").
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = False
    if not policy.exists() and not sudo:
        policy.write_text("#!/bin/sh\n# shopbot tests/virtuoso/run.py: no service starts while installing\nexit 101\n")
        policy.chmod(0o755)
        added_policy = True
    try:
        say(f"installing {PACKAGE} with apt-get")
        command = [*sudo, "apt-get", "install", "-y", "-q", PACKAGE]
        if subprocess.run(command, env=env, check=False).returncode != 0:
            subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(command, env=env, check=True)
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)
    if not shutil.which("virtuoso-t"):
        raise SystemExit(f"{PACKAGE} installed, but virtuoso-t is not on PATH")


def isql(sql_port: int, password: str, statements: str) -> str:
    """Run SQL statements through isql-vt as dba; raise with its output when one fails."""
    done = subprocess.run(
        ["isql-vt", f"127.0.0.1:{sql_port}", "dba", password, f"EXEC={statements}"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0 or "*** Error" in output:
        raise ServiceError(f"isql-vt failed ({done.returncode}):\n{output[-2000:]}")
    return output


class Virtuoso:
    """A private Virtuoso server on free loopback ports, with its database in a temp dir."""

    def __init__(self, keep: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="shopbot-virtuoso-"))
        self.keep = keep
        self.http_port, self.sql_port = free_port(), free_port()
        while self.sql_port == self.http_port or not port_free(self.sql_port):
            self.sql_port = free_port()
        self.dba_password = "pw" + secrets.token_hex(12)  # an SQL identifier: no leading digit
        self.user, self.password = "shopbot", "pw" + secrets.token_hex(12)
        (self.dir / "vsp").mkdir()
        (self.dir / "virtuoso.ini").write_text(INI.format(
            dir=self.dir, sql_port=self.sql_port, http_port=self.http_port,
        ))
        self.service = Service(
            "virtuoso",
            ["virtuoso-t", "+foreground", "+configfile", str(self.dir / "virtuoso.ini")],
            f"http://127.0.0.1:{self.http_port}/sparql",
            self.dir / "stdout.log",
            self.http_port,
        )

    @property
    def query_url(self) -> str:
        """The anonymous SPARQL endpoint, reading the test graph."""
        return f"http://127.0.0.1:{self.http_port}/sparql?default-graph-uri={GRAPH}"

    @property
    def update_url(self) -> str:
        """The Digest-authenticated SPARQL endpoint, writing the test graph."""
        return f"http://127.0.0.1:{self.http_port}/sparql-auth?default-graph-uri={GRAPH}"

    def start(self) -> None:
        """Start the server, change the dba password, create the SPARQL user allowed to update."""
        say(f"starting virtuoso-t in {self.dir} (HTTP 127.0.0.1:{self.http_port}, SQL 127.0.0.1:{self.sql_port})")
        self.service.start()
        took = self.service.wait_ready(120)
        say(f"ready after {took:.1f} s")
        isql(self.sql_port, "dba", f"SET PASSWORD dba {self.dba_password};")
        isql(self.sql_port, self.dba_password,
             f"DB.DBA.USER_CREATE('{self.user}', '{self.password}'); GRANT SPARQL_UPDATE TO \"{self.user}\";")
        say(f"dba password changed; SPARQL user {self.user!r} may update through /sparql-auth (HTTP Digest)")

    def stop(self) -> None:
        """Stop the server (SIGTERM: it checkpoints and exits; SIGKILL after 20 s) and remove its temp dir."""
        if self.service.process is not None and self.service.process.poll() is None:
            say("stopping virtuoso-t")
            self.service.stop(timeout=20)
        if self.keep:
            say(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self) -> str:
        """The last lines of Virtuoso's own log."""
        log = self.dir / "virtuoso.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else "(no log)"


def load_demo_store(server: Virtuoso) -> None:
    """Load the demo catalog as `shopbot kg load` does, and check the triple count."""
    from knowledge.loading import load_graph, read_turtle
    from knowledge.products import count_products, count_triples
    from knowledge.sparql import HttpSparqlClient

    catalog = PROJECT_ROOT / "data" / "store" / "catalog.ttl"
    if not catalog.exists():
        from knowledge.demo_store import write_store

        catalog, _ = write_store(server.dir / "store")
    client = HttpSparqlClient(server.query_url, server.update_url, timeout=60, auth=(server.user, server.password))
    graph = read_turtle(catalog)
    started = time.monotonic()
    count = load_graph(client, graph)
    took = time.monotonic() - started
    held = count_triples(client)
    say(f"loaded {count:,} triples of {catalog.name} in {took:.2f} s; the server holds {held:,} triples, "
        f"{count_products(client)} products")
    if held != len(graph):
        raise ServiceError(f"Virtuoso holds {held} triples, the catalog has {len(graph)}")


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the tests against a private Virtuoso, stop it."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Anything after -- goes to pytest, e.g. `run.py -- -x -k search`. "
               "Without test paths there, the default tests run.",
    )
    parser.add_argument("--no-install", action="store_true", help="fail instead of installing virtuoso-opensource")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, ini, logs) afterwards")
    parser.add_argument("--serve", action="store_true",
                        help="start Virtuoso, load the demo store, print the URLs and wait for Ctrl-C (no tests)")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (put them after --)")
    args = parser.parse_args(argv)

    if args.no_install and not shutil.which("virtuoso-t"):
        print("virtuoso-t is not installed (apt-get install virtuoso-opensource)", file=sys.stderr)
        return 2
    ensure_installed()
    server = Virtuoso(keep=args.keep)

    def terminate(signum: int, frame: object) -> None:  # signal handler signature
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background (SIG_IGN)
    started = time.monotonic()
    try:
        server.start()
        load_demo_store(server)
        env = dict(os.environ, TEST_SPARQL_SERVER="virtuoso", TEST_SPARQL_QUERY_URL=server.query_url,
                   TEST_SPARQL_UPDATE_URL=server.update_url, TEST_SPARQL_USER=server.user,
                   TEST_SPARQL_PASSWORD=server.password)
        if args.serve:
            say(f"query  {server.query_url}\n[virtuoso] update {server.update_url} "
                f"(Digest: {server.user} / {server.password})\n[virtuoso] Ctrl-C stops it")
            while server.service.process.poll() is None:
                time.sleep(1)
            return 1
        paths = [a for a in args.pytest_args if not a.startswith("-") and (PROJECT_ROOT / a.split("::")[0]).exists()]
        command = [sys.executable, "-m", "pytest", "-p", "tests.virtuoso.plugin",
                   *([] if paths else DEFAULT_TESTS), *args.pytest_args]
        say("running " + " ".join(command[1:]))
        code = subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=False).returncode
        say(f"pytest exited {code} after {time.monotonic() - started:.0f} s in all")
        return code
    except (RuntimeError, subprocess.SubprocessError, OSError) as error:  # ServiceError, KnowledgeGraphUnavailable
        print(f"[virtuoso] failed: {error}\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())

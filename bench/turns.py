"""Concurrent shoppers over the REST channel: throughput, latency per turn type, and where the time goes.

N simulated shoppers (N = 1, 10, 50 by default) talk to the assistant at the same time, each running
scripted conversations drawn from a realistic mix. Every turn has a type:

  product    price, stock or colour of a named product ("how much is the <name>?", "is it in stock?")
  search     faceted search ("red running shoes under 130", "jackets by Northpeak")
  order      a signed-in demo customer tracks one of their own orders ("where is my order SB-100002")
  recommend  "what would you recommend?" (signed-in: the hybrid's picks; guest: items like the one in focus)
  chitchat   "hi", "thanks", "bye"

For each N it prints throughput (turns/s), p50/p95/p99 latency per turn type and the errors (not HTTP 200,
no answer, or no fact where one was expected: the price, the order's status, search results...).

Where the time goes, per turn type (mean ms per turn, so the parts add up to the total):
  NLU+load   client send -> Rasa's user event: HTTP in, tracker load, session start, NLU (and queueing)
  policy     user event -> last action_listen, minus the action server calls: policies, forms, the
             tracker and domain serialised for each action call
  action     the HTTP calls to the action server (of which: SPARQL time and queries per turn)
  rest       last action_listen -> answer received: saving the tracker, the HTTP answer
The event timestamps come from Rasa's tracker API after each run (GET /conversations/<id>/tracker; the API is
off unless RASA_API_TOKEN is set: --start sets one, a running assistant needs it in its and our environment).
Conversations are started the way the chat channels require (POST /webhooks/rest/conversation), signed-in ones
with a shopper token for their customer. With
--start the private stack runs behind two timing proxies started by this benchmark (in a separate
process): one in front of the action server (ACTION_ENDPOINT_URL), one in front of the SPARQL endpoint
(SPARQL_QUERY_URL); they record every call, which process made each SPARQL query (Rasa's NLU, the action
server) and the action server's calls per conversation. Against an already running assistant (no
--start) only the tracker-based parts are shown.

CPU: every process's user+system CPU seconds during each run (from /proc), per turn and as a share of one
core: the Rasa server, action server, SPARQL server, the timing proxies, this client, the bare bot, and the
whole machine (other people's processes included, to show how loaded the box was).

Baseline: a bare `rasa init --no-prompt` bot (generated into a temporary directory, or --baseline-dir,
reused when it already holds a model), run with `rasa run` on a free port and measured with the same
client at the same N with its own mix ("hello", "I am sad", "yes", "bye"). The report shows our p95 per
turn type against the bare bot's p95 and the ratio.

Cluster: ``--cluster --replicas 1,2 --shoppers 10,50`` starts a private cluster per number of Rasa replicas
(PostgreSQL, Redis, nginx; bench/turns_cluster.py) and prints turns/s, p95 per turn type and CPU-seconds per turn
of each kind of process, with the turns/s they project for 4, 8 and 16 cores.

Figures go to stdout, progress to stderr. It never fails on slow figures; it exits 2 when the assistant
can't be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional
from urllib.parse import parse_qs, urlsplit

TURN_TYPES = ("product", "search", "order", "recommend", "chitchat")
BARE_TYPES = ("greet", "mood", "affirm", "goodbye")
DEMO_CUSTOMERS = ("C0001", "C0002", "C0003", "C0004")
# Answers that mean the bot did not deliver what was asked.
APOLOGY = re.compile(
    r"didn't quite get that|rephrase|can't look that up|couldn't work out|can't help with that|"
    r"couldn't find|no suggestions|which product do you mean|several products that match",
    re.I,
)


def log(message: str) -> None:
    """One progress line on stderr."""
    print(f"[turns] {message}", file=sys.stderr, flush=True)


# --- what shoppers say ------------------------------------------------------------------------------

Check = Callable[[str, list], Optional[str]]


@dataclass
class Turn:
    """One message of a scripted conversation, with what its answer must hold."""

    kind: str
    text: str
    check: Check
    metadata: Optional[dict] = None


def _carousel(messages: list) -> bool:
    return any(isinstance(m.get("custom"), dict) and m["custom"].get("type") == "carousel" for m in messages)


def answered(text: str, messages: list) -> Optional[str]:
    """Any answer that is not an apology."""
    if not text.strip() and not messages:
        return "no answer"
    if APOLOGY.search(text):
        return f"apology: {text[:80]!r}"
    return None


def containing(*needles: str) -> Check:
    """An answer holding every needle (facts such as a price or an order number)."""
    def check(text: str, messages: list) -> Optional[str]:
        missing = [n for n in needles if n not in text]
        if not missing:
            return None
        return answered(text, messages) or f"missing {missing[0]!r} in {text[:80]!r}"
    return check


def search_results(text: str, messages: list) -> Optional[str]:
    """Search results: a list and a carousel."""
    if "Here's what I found" in text or _carousel(messages):
        return None
    return answered(text, messages) or f"no results: {text[:80]!r}"


def recommendations(text: str, messages: list) -> Optional[str]:
    """Suggestions with cards."""
    if "picks" in text or _carousel(messages):
        return None
    return answered(text, messages) or f"no picks: {text[:80]!r}"


@dataclass
class Catalog:
    """What the scripts talk about: products from the graph, the demo customers' orders from the shop database."""

    products: list  # knowledge.products.Product
    orders: dict[str, list[str]]  # customer id -> order ids


def load_catalog(sparql_query_url: str, database_url: str) -> Catalog:
    """Products (knowledge.products.get_products) and the demo customers' orders (knowledge.shopdb)."""
    from knowledge.products import all_product_ids, get_products
    from knowledge.shopdb.engine import connect
    from knowledge.shopdb.orders import customer_orders
    from knowledge.sparql import HttpSparqlClient

    kg = HttpSparqlClient(sparql_query_url, timeout=30)
    products = [p for p in get_products(kg, all_product_ids(kg)) if p.name]
    db = connect(database_url)
    try:
        orders = {c: [o.order_id for o in customer_orders(db, c, limit=20)] for c in DEMO_CUSTOMERS}
    finally:
        db.dispose()
    return Catalog(products, {c: ids for c, ids in orders.items() if ids})


def our_conversations(rng: random.Random, catalog: Catalog) -> Iterator[list[Turn]]:
    """Endless conversations from the shop's mix: products 40 %, search 20 %, orders 15 %, recommendations 15 %,
    small talk 10 % (most conversations also open or close with small talk)."""
    def hello() -> Turn:
        return Turn("chitchat", rng.choice(["hi", "hello", "hey there"]), answered)

    def thanks() -> Turn:
        return Turn("chitchat", rng.choice(["thanks", "thank you", "thanks a lot"]), answered)

    def named(product) -> str:  # noqa: ANN001 - a Product or None
        return product.name if rng.random() < 0.7 else product.name.lower()

    def product_chat() -> list[Turn]:
        p = rng.choice(catalog.products)
        price = f"{p.price:,.2f}"
        first = rng.choice([
            Turn("product", f"how much is the {named(p)}?", containing(price)),
            Turn("product", f"what does the {named(p)} cost", containing(price)),
            Turn("product", f"tell me about the {named(p)}", containing(p.name, price)),
        ])
        turns = [first, Turn("product", "is it in stock?", containing(p.name, "stock"))]
        if p.colors and rng.random() < 0.5:
            turns.append(Turn("product", f"does it come in {rng.choice(p.colors)}?", containing(p.name)))
        else:
            turns.append(Turn("product", "what colours does it come in?", containing(p.name)))
        return ([hello()] if rng.random() < 0.5 else []) + turns + [thanks()]

    def search_chat() -> list[Turn]:
        p = rng.choice([p for p in catalog.products if p.colors] or catalog.products)
        category, budget = p.category.lower(), int(math.ceil((float(p.price) + 1) / 10) * 10)
        text = rng.choice([
            f"{rng.choice(p.colors) if p.colors else ''} {category} under {budget}".strip(),
            f"show me {category} under {budget}",
            f"{category} by {p.brand}",
        ])
        return ([hello()] if rng.random() < 0.5 else []) + [Turn("search", text, search_results), thanks()]

    def order_chat() -> list[Turn]:
        customer = rng.choice(sorted(catalog.orders))
        order = rng.choice(catalog.orders[customer])
        meta = {"customer_id": customer}
        text = rng.choice([f"where is my order {order}", f"what's the status of order {order}"])
        return [Turn("chitchat", "hi", answered, meta), Turn("order", text, containing(f"Order {order}"), meta),
                Turn("chitchat", "thanks", answered, meta)]

    def recommend_chat() -> list[Turn]:
        ask = rng.choice(["what would you recommend?", "any recommendations for me?"])
        if catalog.orders and rng.random() < 0.5:
            meta = {"customer_id": rng.choice(sorted(catalog.orders))}
            return [Turn("chitchat", "hi", answered, meta), Turn("recommend", ask, recommendations, meta)]
        p = rng.choice(catalog.products)
        return [Turn("product", f"how much is the {named(p)}?", containing(f"{p.price:,.2f}")),
                Turn("recommend", ask, recommendations)]

    def small_talk() -> list[Turn]:
        return [hello(), Turn("chitchat", rng.choice(["are you a bot?", "thanks", "bye"]), answered)]

    mix = [(product_chat, 40), (search_chat, 20), (recommend_chat, 15), (small_talk, 10)]
    if catalog.orders:
        mix.append((order_chat, 15))
    makers, weights = zip(*mix)
    while True:
        yield rng.choices(makers, weights)[0]()


def bare_conversations(rng: random.Random, catalog: Optional[Catalog] = None) -> Iterator[list[Turn]]:
    """The bare `rasa init` bot's own conversation, over and over."""
    while True:
        yield [Turn("greet", "hello", answered), Turn("mood", "I am sad", answered),
               Turn("affirm", "yes", answered), Turn("goodbye", "bye", answered)]


# --- the shoppers -----------------------------------------------------------------------------------

@dataclass
class Result:
    """One measured turn."""

    sender: str
    kind: str
    text: str
    t_send: float  # wall clock (time.time(), comparable with Rasa's event timestamps)
    t_recv: float
    latency: float  # seconds, monotonic
    error: Optional[str] = None
    first: bool = False  # the conversation's first turn (Rasa starts a session first)


@dataclass
class Run:
    """One load level against one bot."""

    bot: str
    shoppers: int
    results: list[Result] = field(default_factory=list)
    elapsed: float = 0.0
    started: float = 0.0  # wall clock
    finished: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used during the run, by process
    machine: float = 0.0  # CPU seconds used on the whole machine (every process, others' too)


# --- CPU use of the processes -----------------------------------------------------------------------

def listening_pid(port: int) -> Optional[int]:
    """The process that listens on a local TCP port (from /proc; None when it isn't visible)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{parts[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")) if inodes else ():
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None


def cpu_seconds(pid: Optional[int]) -> float:
    """User plus system CPU seconds a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU seconds every process on the machine has used so far (busy time of all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


#: The assistant's settings, to sign shopper tokens for the signed-in customers' conversations (set in main).
_SETTINGS: list = []


async def _conversation(session, url: str, fallback: str, turns: list[Turn]) -> tuple[str, dict]:  # noqa: ANN001 - an aiohttp ClientSession, imported only when the benchmark runs
    """A conversation id the server issued (with the customer's shopper token when the turns are signed in);
    a bot without server-issued ids (the bare Rasa bot) keeps ``fallback``."""
    from bot.identity import issue_shopper_token

    customer = next((t.metadata["customer_id"] for t in turns if (t.metadata or {}).get("customer_id")), None)
    headers = {"Authorization": f"Bearer {issue_shopper_token(customer, _SETTINGS[0])}"} if customer else {}
    async with session.post(url.rsplit("/", 1)[0] + "/conversation", headers=headers) as response:
        if response.status != 200:
            return fallback, {}
        return (await response.json())["sender"], headers


async def _shopper(session, url: str, prefix: str, conversations: Iterator[list[Turn]],  # noqa: ANN001 - an aiohttp ClientSession, imported only when the benchmark runs
                   run: Run, turns: Optional[int], deadline: float, think: float, timeout: float) -> None:
    import aiohttp

    done, conversation = 0, 0
    while (turns is None or done < turns) and time.monotonic() < deadline:
        script = next(conversations)
        sender, headers = await _conversation(session, url, f"{prefix}-c{conversation:03d}", script)
        conversation += 1
        for number, turn in enumerate(script):
            if (turns is not None and done >= turns) or time.monotonic() >= deadline:
                break
            body = {"sender": sender, "message": turn.text, "metadata": turn.metadata or {}}
            t_send, started = time.time(), time.monotonic()
            error: Optional[str] = None
            messages: list = []
            try:
                async with session.post(url, json=body, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                    if response.status != 200:
                        error = f"HTTP {response.status}"
                    else:
                        messages = await response.json()
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:100]
            latency = time.monotonic() - started
            if error is None:
                text = "\n".join(m.get("text", "") for m in messages if m.get("text"))
                error = turn.check(text, messages)
            run.results.append(Result(sender, turn.kind, turn.text, t_send, time.time(), latency, error, number == 0))
            done += 1
            if think:
                await asyncio.sleep(think)


async def _load(url: str, run: Run, make: Callable, seed: int, turns: Optional[int], duration: float,
                think: float, timeout: float, tag: str) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + (duration if turns is None else 1e9)
        run.started, started = time.time(), time.monotonic()
        await asyncio.gather(*[
            _shopper(session, url, f"{tag}-s{i:02d}", make(random.Random(seed * 1000 + i)), run, turns, deadline,
                     think, timeout)
            for i in range(run.shoppers)
        ])
        run.elapsed, run.finished = time.monotonic() - started, time.time()


def measure(rasa_url: str, bot: str, shoppers: int, make: Callable, args: argparse.Namespace, tag: str,
            pids: dict[str, Optional[int]]) -> Run:
    """N shoppers talking to one bot at the same time until the turns or the time run out."""
    run = Run(bot, shoppers)
    turns = args.turns_per_shopper
    log(f"{bot}: {shoppers} shoppers, " + (f"{turns} turns each" if turns else f"{args.duration:.0f} s"))
    before = {name: cpu_seconds(pid) for name, pid in pids.items() if pid}
    machine = machine_cpu_seconds()
    asyncio.run(_load(f"{rasa_url}/webhooks/rest/webhook", run, make, args.seed, turns, args.duration,
                      args.think, args.timeout, tag))
    run.machine = machine_cpu_seconds() - machine
    run.cpu = {name: cpu_seconds(pids[name]) - used for name, used in before.items()}
    errors = sum(1 for r in run.results if r.error)
    log(f"{bot}: {len(run.results)} turns in {run.elapsed:.1f} s, {errors} errors")
    for result in [r for r in run.results if r.error][:3]:
        log(f"  error ({result.kind}) {result.text!r}: {result.error}")
    return run


def fetch_trackers(rasa_url: str, senders: list[str]) -> dict[str, list[dict]]:
    """Each conversation's events from Rasa's HTTP API (on with RASA_API_TOKEN, from this machine); empty when refused."""
    import aiohttp

    async def fetch_all() -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        limit = asyncio.Semaphore(4)
        async with aiohttp.ClientSession() as session:
            async def one(sender: str) -> None:
                async with limit:
                    try:
                        async with session.get(f"{rasa_url}/conversations/{sender}/tracker",
                                               params={"token": _SETTINGS[0].rasa_api_token if _SETTINGS else ""},
                                               timeout=aiohttp.ClientTimeout(total=60)) as response:
                            if response.status == 200:
                                found[sender] = (await response.json()).get("events") or []
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        pass
            await asyncio.gather(*[one(s) for s in senders])
        return found

    return asyncio.run(fetch_all())


# --- timing proxies ---------------------------------------------------------------------------------

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"}


def _socket_inode(peer_port: int, server_port: int) -> Optional[str]:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == peer_port and int(parts[2].rsplit(":", 1)[1], 16) == server_port:
                return parts[9]
    return None


def peer_role(peer_port: int, server_port: int, bench_pid: int) -> str:
    """Which process holds the client end of a local TCP connection: rasa, actions, web, bench or other."""
    inode = _socket_inode(peer_port, server_port)
    if not inode:
        return "unknown"
    target = f"socket:[{inode}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if not any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in fds):
                continue
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(pid) == bench_pid:
            return "bench"
        if "rasa_sdk" in command:
            return "actions"
        if "-m rasa " in command or "/rasa " in command:
            return "rasa"
        if "bot.web" in command:
            return "web"
        return "other"
    return "unknown"


def query_signature(query: str) -> str:
    """A SPARQL query's shape without prefixes and values, to count queries by kind."""
    if 'BIND("name" AS ?kind)' in query:
        return "catalog names (vocabulary)"
    body = "\n".join(line for line in query.splitlines() if not line.strip().upper().startswith("PREFIX"))
    body = re.sub(r'"(?:[^"\\]|\\.)*"(\^\^\S+|@\w+)?', '"…"', body)
    body = re.sub(r"<[^>]*>", "<…>", body)
    body = re.sub(r"\b\d+(\.\d+)?\b", "N", body)
    body = re.sub(r"(prod|brand|cat):\S+", r"\1:…", body)
    body = re.sub(r"(<…>\s*)+", "<…> ", body)
    return " ".join(body.split())[:70]


async def _serve_proxies(spec: dict) -> None:
    import aiohttp
    from aiohttp import web

    loop = asyncio.get_running_loop()
    out = open(spec["records"], "a", buffering=1)
    client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=True,
                                   timeout=aiohttp.ClientTimeout(total=None))
    roles: dict[tuple[int, int], Any] = {}  # (proxy port, client port) -> future of the client's role
    pending: set = set()

    async def write(record: dict, role: Any) -> None:
        record["role"] = await role if role is not None else ""
        out.write(json.dumps(record) + "\n")

    def handler(route: dict):  # noqa: ANN202 - a Playwright route handler
        async def handle(request: web.Request) -> web.StreamResponse:
            t0 = time.time()
            body = await request.read()
            role = None
            if route["name"] == "sparql":  # who asks: looked up once per connection, off the request's path
                peer = (request.transport.get_extra_info("peername") or ("", 0))[1]
                key = (route["port"], peer)
                if key not in roles:
                    roles[key] = loop.run_in_executor(None, peer_role, peer, route["port"], spec["bench_pid"])
                role = roles[key]
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
            status, payload, ctype = 502, b"", "text/plain"
            try:
                async with client.request(request.method, route["upstream"] + request.path_qs, data=body,
                                          headers=headers) as upstream:
                    status, payload = upstream.status, await upstream.read()
                    ctype = upstream.headers.get("Content-Type", ctype)
            except aiohttp.ClientError as error:
                payload = str(error).encode()
            t1 = time.time()
            record = {"route": route["name"], "t0": t0, "t1": t1, "status": status, "req": len(body),
                      "resp": len(payload)}
            if route["name"] == "sparql":
                query = request.query.get("query") or (parse_qs(body.decode(errors="replace")).get("query") or [""])[0]
                record["sig"] = query_signature(query)
            elif route["name"] == "actions" and body:
                try:
                    call = json.loads(body)
                    record.update(sender=call.get("sender_id"), action=call.get("next_action"))
                except ValueError:
                    pass
            task = asyncio.ensure_future(write(record, role))
            pending.add(task)
            task.add_done_callback(pending.discard)
            return web.Response(body=payload, status=status, headers={"Content-Type": ctype})
        return handle

    runners = []
    for route in spec["routes"]:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", handler(route))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", route["port"]).start()
        runners.append(runner)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    if pending:
        await asyncio.wait(pending, timeout=5)
    for runner in runners:
        await runner.cleanup()
    await client.close()
    out.close()


class Probes:
    """The timing proxies, in a process of their own, and the calls they recorded."""

    def __init__(self, directory: Path) -> None:
        from bot.services import free_port

        self.records = directory / "probe-records.jsonl"
        self.sparql_port, self.action_port = free_port(), free_port()
        self.process: Optional[subprocess.Popen] = None

    def start(self, sparql_upstream: str, action_upstream: str) -> None:
        """Start both proxies and wait until they listen."""
        spec = {"records": str(self.records), "bench_pid": os.getpid(), "routes": [
            {"name": "sparql", "port": self.sparql_port, "upstream": sparql_upstream},
            {"name": "actions", "port": self.action_port, "upstream": action_upstream},
        ]}
        self.process = subprocess.Popen([sys.executable, __file__, "--proxy-worker", json.dumps(spec)],
                                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the timing proxies did not start")

    def stop(self) -> None:
        """Stop the proxies' process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def read(self, since: float, until: float) -> list[dict]:
        """Records of calls that started in this wall-clock window."""
        time.sleep(0.2)  # the proxies write each record when its answer is sent
        if not self.records.exists():
            return []
        rows = [json.loads(line) for line in self.records.read_text().splitlines() if line.strip()]
        return [r for r in rows if since <= r["t0"] <= until]


# --- the assistants ---------------------------------------------------------------------------------

@contextlib.contextmanager
def progress_to_stderr() -> Iterator[None]:
    """Send stdout to stderr meanwhile, child processes' included (`rasa train` when the model is stale)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def quiet_assistant(start: bool) -> Iterator[Any]:
    """benchlib.assistant (the running assistant, or a private one), its progress lines on stderr."""
    from benchlib import assistant

    context = assistant(start)
    with progress_to_stderr():
        settings = context.__enter__()
    try:
        yield settings
    finally:
        with progress_to_stderr():
            context.__exit__(None, None, None)


@contextlib.contextmanager
def probed_stack(var_dir: Optional[str]) -> Iterator[tuple[Any, Probes]]:
    """A private stack (benchlib.private_settings: free ports, data under var/bench) whose action server and
    SPARQL endpoint are reached through the timing proxies."""
    from benchlib import private_settings
    from bot.stack import Stack
    from bot.services import oxigraph_service
    from knowledge.settings import Settings

    base = private_settings()
    root = Path(var_dir) if var_dir else base.var_dir
    root.mkdir(parents=True, exist_ok=True)
    probes = Probes(Path(tempfile.mkdtemp(prefix="turns-probes-")))
    settings = Settings(
        var_dir=root, oxigraph_port=base.oxigraph_port,
        sparql_query_url=f"http://127.0.0.1:{probes.sparql_port}/query", sparql_update_url=base.sparql_update_url,
        action_port=base.action_port, action_endpoint_url=f"http://127.0.0.1:{probes.action_port}/webhook",
        rasa_port=base.rasa_port, web_port=base.web_port, rasa_api_token=base.rasa_api_token,
    )
    # The query URL is the proxy's, so the stack doesn't see a local Oxigraph: start it here.
    oxigraph = oxigraph_service(settings.oxigraph_dir, settings.oxigraph_port, root / "logs")
    stack = Stack(settings)
    try:
        with progress_to_stderr():
            log(f"starting oxigraph on port {settings.oxigraph_port} ({settings.oxigraph_dir})")
            oxigraph.start()
            oxigraph.wait_ready(60)
            probes.start(f"http://127.0.0.1:{settings.oxigraph_port}", f"http://127.0.0.1:{settings.action_port}")
            log(f"timing proxies: SPARQL on {probes.sparql_port}, actions on {probes.action_port}")
            stack.start(with_web=False)
        yield settings, probes
    finally:
        with progress_to_stderr():
            stack.stop()
            probes.stop()
            oxigraph.stop()
        shutil.rmtree(probes.records.parent, ignore_errors=True)


@contextlib.contextmanager
def bare_bot(directory: Optional[str]) -> Iterator[str]:
    """A bare `rasa init --no-prompt` bot served by `rasa run` on a free port; yields its URL."""
    from bot.services import Service, child_env, free_port

    temporary = None if directory else tempfile.mkdtemp(prefix="turns-bare-")
    path = Path(directory) if directory else Path(temporary) / "bot"
    rasa = Path(sys.executable).with_name("rasa")
    service = None
    try:
        if not list((path / "models").glob("*.tar.gz")):
            path.mkdir(parents=True, exist_ok=True)
            log(f"generating the bare bot with `rasa init --no-prompt` in {path} (trains its model)")
            started = time.monotonic()
            with open(path.parent / f"{path.name}-init.log", "ab") as out:
                subprocess.run([str(rasa), "init", "--no-prompt", "--init-dir", str(path)], cwd=str(path),
                               env=child_env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               check=True)
            log(f"bare bot trained in {time.monotonic() - started:.0f} s")
        model = max((path / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        port = free_port()
        service = Service(
            "bare rasa server",
            [str(rasa), "run", "--enable-api", "--model", str(model), "--port", str(port),
             "--endpoints", str(path / "endpoints.yml"), "--credentials", str(path / "credentials.yml")],
            f"http://127.0.0.1:{port}/", path.parent / f"{path.name}-rasa.log", port,
        )
        log(f"starting the bare bot ({model.name}) on port {port}")
        service.start()
        log(f"bare bot ready in {service.wait_ready(300):.1f} s")
        yield f"http://127.0.0.1:{port}"
    finally:
        if service is not None:
            service.stop()
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


# --- analysis ---------------------------------------------------------------------------------------

@dataclass
class Parts:
    """Where one turn's time went (seconds); action/SPARQL are None without the proxies."""

    kind: str
    first: bool
    total: float
    nlu: float
    dialogue: float
    rest: float
    predictions: int = 0  # actions Rasa predicted after the user event, action_listen included
    action: Optional[float] = None
    action_wait: float = 0.0
    handling: float = 0.0  # Rasa after each action call's answer until it logs the action (validation, events)
    action_calls: int = 0
    action_bytes: int = 0
    sparql: Optional[float] = None
    queries: int = 0


def _serial_calls(probes: list[dict]) -> list[dict]:
    """The action server's calls with their queueing, and its per-call SPARQL queries.

    The action server runs one action at a time (our actions do blocking I/O inside ``async def run``), so
    a call's service starts when the previous call is answered, and a query it sends belongs to the open
    call that is answered first.
    """
    calls = sorted((r for r in probes if r["route"] == "actions" and r.get("sender")), key=lambda r: r["t1"])
    previous_end = 0.0
    for call in calls:
        call["served_from"] = max(call["t0"], previous_end)
        call["queries"], call["sparql"] = 0, 0.0
        previous_end = call["t1"]
    ends = [c["t1"] for c in calls]
    for query in probes:
        if query["route"] != "sparql" or query["role"] != "actions" or query["sig"].startswith("catalog"):
            continue  # catalog names are reloaded by a background thread, not by an action
        index = _bisect(ends, query["t0"])
        while index < len(calls) and calls[index]["t0"] > query["t0"]:
            index += 1
        if index < len(calls):
            calls[index]["queries"] += 1
            calls[index]["sparql"] += query["t1"] - query["t0"]
    return calls


def split_turns(run: Run, trackers: dict[str, list[dict]], probes: Optional[list[dict]]) -> list[Parts]:
    """Each answered turn split by Rasa's event timestamps and the proxies' records."""
    calls_by_sender: dict[str, list[dict]] = defaultdict(list)
    if probes is not None:
        for call in _serial_calls(probes):
            calls_by_sender[call["sender"]].append(call)

    by_sender: dict[str, list[Result]] = defaultdict(list)
    for result in run.results:
        by_sender[result.sender].append(result)
    parts: list[Parts] = []
    for sender, results in by_sender.items():
        events = trackers.get(sender)
        if not events:
            continue
        position = 0
        for result in results:
            # This turn's user event, then the action_listen that ends the bot's reply to it.
            while position < len(events) and not (events[position].get("event") == "user"
                                                  and events[position].get("text") == result.text):
                position += 1
            if position >= len(events):
                break
            user_at, listen_at, action_times = events[position]["timestamp"], None, []
            for event in events[position + 1:]:
                if event.get("event") == "action":
                    action_times.append(event["timestamp"])
                    if event.get("name") == "action_listen":
                        listen_at = event["timestamp"]
                        break
            position += 1
            if listen_at is None or result.error and result.error.startswith(("HTTP", "Client", "Timeout")):
                continue
            item = Parts(result.kind, result.first, result.latency, user_at - result.t_send, listen_at - user_at,
                         result.t_recv - listen_at, len(action_times))
            if probes is not None:
                calls = [c for c in calls_by_sender.get(sender, []) if user_at - 0.01 <= c["t0"] <= listen_at]
                item.action = sum(c["t1"] - c["t0"] for c in calls)
                item.action_wait = sum(c["served_from"] - c["t0"] for c in calls)
                item.action_calls, item.action_bytes = len(calls), sum(c["req"] for c in calls)
                item.sparql, item.queries = sum(c["sparql"] for c in calls), sum(c["queries"] for c in calls)
                # Rasa logs an action once its answer is handled: the first action event after the call's answer.
                item.handling = sum(min((t for t in action_times if t >= c["t1"]), default=c["t1"]) - c["t1"]
                                    for c in calls)
            parts.append(item)
    return parts


def _bisect(values: list[float], x: float) -> int:
    import bisect

    return bisect.bisect_left(values, x)


# --- report -----------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    """Milliseconds, for a table cell."""
    return f"{1000 * seconds:.0f}"


def latency_row(name: str, results: list[Result], bare_p95: Optional[float]) -> str:
    """One line of the latency table."""
    from benchlib import percentile

    values = [r.latency for r in results]
    errors = sum(1 for r in results if r.error)
    if not values:
        return f"  {name:<10} {0:>6}"
    p95 = percentile(values, 0.95)
    line = (f"  {name:<10} {len(values):>6} {ms(percentile(values, 0.50)):>7} {ms(p95):>7} "
            f"{ms(percentile(values, 0.99)):>7} {errors:>6}")
    if bare_p95:
        line += f" {ms(bare_p95):>9} {p95 / bare_p95:>6.1f}x"
    return line


def report_load(ours: Run, bare: Optional[Run]) -> None:
    """Throughput, latency per turn type and errors at one N."""
    from benchlib import percentile

    def throughput(run: Run) -> str:
        errors = sum(1 for r in run.results if r.error)
        return (f"{len(run.results)} turns in {run.elapsed:.1f} s = {len(run.results) / max(run.elapsed, 1e-9):.2f} "
                f"turns/s, {errors} errors")

    print(f"\n== N = {ours.shoppers} concurrent shoppers ==")
    print(f"  shopbot:  {throughput(ours)}")
    bare_p95 = None
    if bare is not None and bare.results:
        print(f"  bare bot: {throughput(bare)}")
        bare_p95 = percentile([r.latency for r in bare.results], 0.95)
    head = f"  {'type':<10} {'turns':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"
    print(head + (f" {'bare p95':>9} {'ratio':>7}" if bare_p95 else ""))
    for kind in TURN_TYPES:
        results = [r for r in ours.results if r.kind == kind]
        if results:
            print(latency_row(kind, results, bare_p95))
    print(latency_row("all", ours.results, bare_p95))
    if bare is not None and bare.results:
        print("  bare bot (rasa init), its own mix:")
        for kind in BARE_TYPES:
            results = [r for r in bare.results if r.kind == kind]
            if results:
                print(latency_row(kind, results, None))
        print(latency_row("all", bare.results, None))
    for kind, count in sorted(_error_kinds(ours).items()):
        print(f"  errors ({kind}): {count}")


def _error_kinds(run: Run) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for result in run.results:
        if result.error:
            found[f"{result.kind}: {re.sub(r' in .*| for .*|:.*', '', result.error)}"] += 1
    return found


def report_parts(title: str, parts: list[Parts], kinds: tuple[str, ...], first_turns: bool = True) -> None:
    """Mean time per turn by part, per turn type."""
    probed = any(p.action is not None for p in parts)
    print(f"  {title}")
    head = f"    {'type':<10} {'turns':>6} {'NLU+load':>9}"
    if probed:
        head += (f" {'policy':>7} {'preds':>5} {'ms/pred':>7} {'handle':>7} {'action':>7} {'queued':>7} {'SPARQL':>7}"
                 f" {'q/turn':>6} {'calls':>5} {'KB/call':>7}")
    else:
        head += f" {'dialogue':>8} {'preds':>5} {'ms/pred':>7}"
    print(head + f" {'rest':>6} {'total':>7}   (mean ms per turn)")
    groups = [(kind, [p for p in parts if p.kind == kind]) for kind in kinds]
    groups += [("1st turn", [p for p in parts if p.first and first_turns]), ("all", parts)]
    for kind, group in groups:
        if not group:
            continue

        def mean(get: Callable[[Parts], float]) -> float:
            return statistics.fmean(get(p) for p in group)  # noqa: B023 - called only within this iteration

        predictions = sum(p.predictions for p in group)
        line = f"    {kind:<10} {len(group):>6} {ms(mean(lambda p: p.nlu)):>9}"
        if probed:
            policy = sum(p.dialogue - (p.action or 0) for p in group)
            calls = sum(p.action_calls for p in group)
            kb = sum(p.action_bytes for p in group) / calls / 1024 if calls else 0
            handling = sum(p.handling for p in group)
            line += (f" {ms(policy / len(group)):>7} {predictions / len(group):>5.1f}"
                     f" {ms((policy - handling) / predictions):>7} {ms(handling / len(group)):>7}"
                     f" {ms(mean(lambda p: p.action or 0)):>7} {ms(mean(lambda p: p.action_wait)):>7}"
                     f" {ms(mean(lambda p: p.sparql or 0)):>7} {mean(lambda p: p.queries):>6.1f}"
                     f" {calls / len(group):>5.1f} {kb:>7.0f}")
        else:
            dialogue = sum(p.dialogue for p in group)
            line += f" {ms(dialogue / len(group)):>8} {predictions / len(group):>5.1f} {ms(dialogue / predictions):>7}"
        print(line + f" {ms(mean(lambda p: p.rest)):>6} {ms(mean(lambda p: p.total)):>7}")


def report_cpu(run: Run) -> None:
    """CPU the processes used during one run, per turn and as a share of one core."""
    turns, seconds = max(len(run.results), 1), max(run.elapsed, 1e-9)
    cores = os.cpu_count() or 1
    print(f"    CPU during the {run.bot} run (ms per turn, share of one core):")
    for name, used in run.cpu.items():
        print(f"      {name:<17} {1000 * used / turns:7.1f} ms/turn {100 * used / seconds:5.0f} %")
    ours = sum(run.cpu.values())
    print(f"      {'whole machine':<17} {1000 * run.machine / turns:7.1f} ms/turn {100 * run.machine / seconds:5.0f} % "
          f"(of {cores * 100} %; processes not listed above: {100 * max(run.machine - ours, 0) / seconds:.0f} %)")


def report_background(run: Run, records: list[dict]) -> None:
    """SPARQL traffic by process and kind of query during one run."""
    from benchlib import percentile

    sparql = [r for r in records if r["route"] == "sparql"]
    if not sparql:
        return
    seconds = max(run.elapsed, 1e-9)
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for record in sparql:
        groups[(record["role"], record["sig"])].append(record["t1"] - record["t0"])
    print("    SPARQL queries during the run, by process and kind (through the timing proxy):")
    for (role, sig), durations in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"      {role:<8} {len(durations):>6} ({len(durations) / seconds:5.1f}/s) "
              f"mean {1000 * statistics.fmean(durations):6.1f} ms  "
              f"p95 {1000 * percentile(durations, 0.95):6.1f} ms  {sig}")
    failed = sum(1 for r in sparql if r["status"] >= 400)
    if failed:
        print(f"      failed SPARQL requests: {failed}")


# --- main -------------------------------------------------------------------------------------------

def warm_up(rasa_url: str, make: Callable, catalog: Optional[Catalog], bot: str, seed: int) -> None:
    """A few unmeasured conversations first (model graphs, caches, the recommender's first load)."""
    import requests

    from benchlib import conversation

    rng = random.Random(seed)
    conversations = make(rng, catalog) if catalog is not None else make(rng)
    for _ in range(6):
        script = next(conversations)
        customer = next((t.metadata["customer_id"] for t in script if (t.metadata or {}).get("customer_id")), None)
        sender, headers = conversation(rasa_url, _SETTINGS[0], customer)
        for turn in script:
            requests.post(f"{rasa_url}/webhooks/rest/webhook", headers=headers,
                          json={"sender": sender, "message": turn.text, "metadata": turn.metadata or {}}, timeout=300)


def parse_levels(text: str) -> list[int]:
    """``1,10,50`` -> [1, 10, 50]."""
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("shopper counts must be 1 or more")
    return levels


def main(argv: Optional[list[str]] = None) -> int:
    """Run the benchmark and print its figures."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--proxy-worker"]:
        asyncio.run(_serve_proxies(json.loads(argv[1])))
        return 0
    if "--cluster" in argv:  # several Rasa replicas behind nginx: bench/turns_cluster.py
        from turns_cluster import main as cluster_main

        return cluster_main(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=parse_levels, default=[1, 10, 50], metavar="N,N,...",
                        help="concurrent shoppers, one run per number (default: 1,10,50)")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=60.0,
                        help="seconds each run lasts (default: %(default)s)")
    amount.add_argument("--turns-per-shopper", type=int, help="turns each shopper takes, instead of --duration")
    parser.add_argument("--think", type=float, default=0.0, help="seconds a shopper waits between turns (default: 0)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a turn counts as failed")
    parser.add_argument("--start", action="store_true",
                        help="start a private stack on free ports, behind the timing proxies")
    parser.add_argument("--no-probes", action="store_true",
                        help="with --start: no timing proxies (benchlib.assistant as it is); no action/SPARQL split")
    parser.add_argument("--var-dir", help="with --start: data folder of the private stack (default: var/bench)")
    parser.add_argument("--no-baseline", action="store_true", help="don't measure the bare `rasa init` bot")
    parser.add_argument("--baseline-dir", help="where the bare bot lives; generated (and trained) there when it "
                                               "holds no model yet (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the conversations (default: 7)")
    parser.add_argument("--save-raw", metavar="FILE", help="also write every turn, tracker event list and proxy "
                                                            "record to this JSON file, for a closer look")
    args = parser.parse_args(argv)

    run_id = time.strftime("%H%M%S")
    with contextlib.ExitStack() as stack:
        if args.start and not args.no_probes:
            settings, probes = stack.enter_context(probed_stack(args.var_dir))
            sparql_direct = f"http://127.0.0.1:{settings.oxigraph_port}/query"
        else:
            settings, probes = stack.enter_context(quiet_assistant(args.start)), None
            sparql_direct = settings.sparql_query_url
        url = f"http://127.0.0.1:{settings.rasa_port}"
        _SETTINGS[:] = [settings]
        import requests

        try:
            requests.get(url, timeout=5)
        except requests.ConnectionError:
            log(f"no assistant at {url}: start it with `make run`, or pass --start")
            return 2
        catalog = load_catalog(sparql_direct, settings.database_url)
        log(f"{len(catalog.products)} products; orders of {', '.join(sorted(catalog.orders)) or 'no demo customers'}")
        bare_url = None if args.no_baseline else stack.enter_context(bare_bot(args.baseline_dir))

        def local_pid(address: str) -> Optional[int]:
            parts = urlsplit(address)
            return listening_pid(parts.port) if parts.hostname in ("127.0.0.1", "localhost") and parts.port else None

        pids = {"rasa server": listening_pid(settings.rasa_port),
                "action server": local_pid(settings.action_endpoint_url if not probes
                                           else f"http://127.0.0.1:{settings.action_port}"),
                "SPARQL server": local_pid(sparql_direct),
                "timing proxies": probes.process.pid if probes else None,
                "bench client": os.getpid(),
                "bare rasa server": local_pid(bare_url) if bare_url else None}
        log("warming up")
        warm_up(url, our_conversations, catalog, "ours", args.seed + 1)
        if bare_url:
            warm_up(bare_url, bare_conversations, None, "bare", args.seed + 1)

        measured = []
        for shoppers in args.shoppers:
            ours = measure(url, "shopbot", shoppers, lambda rng: our_conversations(rng, catalog), args,
                           f"turns-{run_id}-ours-n{shoppers}", pids)
            records = probes.read(ours.started - 1, ours.finished + 1) if probes else None
            bare = None
            if bare_url:
                bare = measure(bare_url, "bare bot", shoppers, bare_conversations, args,
                               f"turns-{run_id}-bare-n{shoppers}", pids)
            measured.append((ours, bare, records))

        log("reading the conversations' event timestamps from Rasa's tracker API")
        splits, raw = [], []
        for ours, bare, records in measured:
            ours_trackers = fetch_trackers(url, sorted({r.sender for r in ours.results}))
            ours_parts = split_turns(ours, ours_trackers, records)
            bare_parts, bare_trackers = [], {}
            if bare is not None:
                bare_trackers = fetch_trackers(bare_url, sorted({r.sender for r in bare.results}))
                bare_parts = split_turns(bare, bare_trackers, None)
            splits.append((ours_parts, bare_parts))
            if args.save_raw:
                raw.append({"shoppers": ours.shoppers, "ours": [vars(r) for r in ours.results],
                            "ours_trackers": ours_trackers, "probes": records,
                            "bare": [vars(r) for r in bare.results] if bare else [], "bare_trackers": bare_trackers})
        if args.save_raw:
            Path(args.save_raw).write_text(json.dumps(raw))
            log(f"raw data written to {args.save_raw}")

    where = ("a private stack behind timing proxies" if probes else "a private stack" if args.start
             else f"the running assistant at {url}")
    amount = (f"{args.turns_per_shopper} turns per shopper" if args.turns_per_shopper
              else f"{args.duration:.0f} s per run")
    print(f"\nshopbot ({where}) over the REST channel, concurrent scripted shoppers ({amount}, think time "
          f"{args.think:g} s); latencies per turn in ms; 'ratio' = our p95 / the bare bot's p95 (all its turns)")
    for ours, bare, _ in measured:
        report_load(ours, bare)

    print("\n== Where the time goes ==")
    print("  NLU+load: send -> Rasa's user event (HTTP in, tracker load, session start, NLU, waiting for the loop);"
          "\n  policy: user event -> last action_listen minus the action-server calls; preds: actions predicted"
          "\n  (action_listen included); ms/pred: policy time per prediction, without 'handle' (Rasa handling an"
          "\n  action server's answer: response schema validation, events, responses); action: action-server"
          "\n  calls, of which 'queued' waiting for the (one-at-a-time) action server, SPARQL: their queries' time,"
          "\n  q/turn: how many; calls: action-server calls per turn, KB/call: request size (tracker + domain);"
          "\n  rest: last action_listen -> answer received (tracker save, HTTP out). Bare bot: 'dialogue' ="
          "\n  policy + its built-in actions.")
    for (ours, bare, records), (ours_parts, bare_parts) in zip(measured, splits):
        print(f"\n  N = {ours.shoppers}")
        if ours_parts:
            report_parts("shopbot:", ours_parts, TURN_TYPES)
        else:
            print("    (no tracker events: is the Rasa HTTP API enabled, `rasa run --enable-api`?)")
        if bare_parts:
            report_parts("bare bot:", bare_parts, BARE_TYPES, first_turns=False)
        if ours.cpu:
            report_cpu(ours)
        if bare is not None and bare.cpu:
            report_cpu(bare)
        if records:
            report_background(ours, records)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench/turns.py against a cluster: ``python bench/turns.py --cluster --replicas 1,2 --shoppers 10,50``.

For each number of Rasa replicas it starts a private cluster (``bot/cluster.py``: PostgreSQL, Redis, the graph,
as many action servers as replicas, the web app, nginx; data under ``var/bench-cluster``), sends the same scripted
shoppers as bench/turns.py to nginx's REST channel (round robin over the replicas) at each N, and prints turns/s,
p50/p95/p99 per turn type and the errors. It reads every process's CPU seconds (its children's included: the
PostgreSQL back-ends, nginx's worker) before and after each run, prints CPU-seconds per turn per kind of process,
and projects the turns/s of 4, 8 and 16 cores from them: all cores busy, ``cores / CPU-s per turn``, unless a
single-threaded part (Redis, one nginx worker) caps it first; that assumes about one replica per core.
The machine's load average is printed with each run: on a shared machine the figures are only as good as the idle
CPU they got.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

import turns
from turns import Run, load_catalog, log, measure, our_conversations, parse_levels, report_load, warm_up

GROUPS = ("rasa", "actions", "graph", "postgresql", "redis", "nginx", "web app", "bench client")
SINGLE_THREADED = ("redis", "nginx")  # one process each (nginx: worker_processes 1)
CORES = (4, 8, 16)


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (empty when the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, the children it has reaped and its live descendants (0 when it is gone)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat(int(entry))
        if fields:
            children[int(fields[1])].append(int(entry))
    ticks, todo = 0, [pid]
    while todo:
        current = todo.pop()
        fields = _stat(current)
        if fields:
            ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        todo += children.get(current, [])
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process alone (its children are the cluster's processes, counted by kind)."""
    fields = _stat(os.getpid())
    return sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def group_pids(cluster) -> dict[str, list[int]]:  # noqa: ANN001 - bot.cluster.Cluster
    """The cluster's processes by kind."""
    def pids(prefix: str) -> list[int]:
        return [s.process.pid for s in cluster.services if s.name.startswith(prefix) and s.process is not None]

    return {"rasa": pids("rasa replica"), "actions": pids("action server"), "graph": pids("oxigraph"),
            "postgresql": pids("postgresql"), "redis": pids("redis"), "nginx": pids("nginx"),
            "web app": pids("web server")}


def cpu_by_group(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each kind of process."""
    used = {name: sum(tree_cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}
    return {**used, "bench client": own_cpu_seconds()}


def measure_cluster(cluster, shoppers: int, args: argparse.Namespace, catalog, tag: str) -> Run:  # noqa: ANN001 - a bot.cluster.Cluster and the bench's catalog
    """N shoppers against nginx's REST channel; the run's CPU per kind of process."""
    groups = group_pids(cluster)
    before = cpu_by_group(groups)
    run = measure(cluster.public_url, f"{len(cluster.replicas)} replica(s)", shoppers,
                  lambda rng: our_conversations(rng, catalog), args, tag, {})
    after = cpu_by_group(groups)
    run.cpu = {name: after[name] - before[name] for name in after}
    return run


def per_turn(run: Run) -> dict[str, float]:
    """CPU seconds per turn of each kind of process."""
    count = max(len(run.results), 1)
    return {name: used / count for name, used in run.cpu.items()}


def report_cpu(run: Run, replicas: int) -> None:
    """CPU-seconds per turn by kind of process, and the turns/s they allow on more cores."""
    shares = per_turn(run)
    seconds = max(run.elapsed, 1e-9)
    print(f"  CPU per turn ({replicas} replica(s), N = {run.shoppers}); share of one core during the run:")
    for name in GROUPS:
        print(f"    {name:<13} {1000 * shares.get(name, 0):7.1f} ms  {100 * run.cpu.get(name, 0) / seconds:5.0f} %")
    server = sum(v for k, v in shares.items() if k != "bench client")
    print(f"    {'cluster total':<13} {1000 * server:7.1f} ms  (the bench client not counted)")


def projection(run: Run) -> list[str]:
    """Projected turns/s on 4, 8 and 16 cores from one run's CPU-seconds per turn."""
    shares = per_turn(run)
    server = sum(v for k, v in shares.items() if k != "bench client")
    lines = []
    for cores in CORES:
        caps = {"all cores busy": cores / server}
        for name in SINGLE_THREADED:
            if shares.get(name):
                caps[f"one {name} process"] = 1 / shares[name]
        limit, value = min(caps.items(), key=lambda item: item[1])
        lines.append(f"  {cores:>2} cores: {value:6.1f} turns/s (bound: {limit}; Rasa {cores * shares['rasa'] / server:.1f}"
                     f" cores, action servers {cores * shares['actions'] / server:.1f} cores)")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    """Start a cluster per number of replicas, measure every N against it, print the figures."""
    from bot.cluster import Cluster
    from bot.services import free_port
    from knowledge.settings import PROJECT_ROOT, Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster", action="store_true", help="(this mode)")
    parser.add_argument("--replicas", type=parse_levels, default=[1, 2], metavar="R,R,...",
                        help="Rasa replicas, one cluster per number (default: 1,2)")
    parser.add_argument("--shoppers", type=parse_levels, default=[10, 50], metavar="N,N,...",
                        help="concurrent shoppers, one run per number (default: 10,50)")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=60.0, help="seconds each run lasts (default: %(default)s)")
    amount.add_argument("--turns-per-shopper", type=int, help="turns each shopper takes, instead of --duration")
    parser.add_argument("--think", type=float, default=0.0, help="seconds a shopper waits between turns (default: 0)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a turn counts as failed")
    parser.add_argument("--var-dir", default=str(PROJECT_ROOT / "var" / "bench-cluster"),
                        help="data folder of the private clusters (default: var/bench-cluster)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the conversations (default: 7)")
    args = parser.parse_args(argv)

    root = Path(args.var_dir)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # PostgreSQL runs as the postgres user under root
    results: list[tuple[int, Run, float, tuple[float, float, float]]] = []
    startups: dict[int, float] = {}
    run_id = time.strftime("%H%M%S")
    for replicas in args.replicas:
        oxigraph_port = free_port()
        settings = Settings(var_dir=root, oxigraph_port=oxigraph_port,
                            sparql_query_url=f"http://127.0.0.1:{oxigraph_port}/query",
                            sparql_update_url=f"http://127.0.0.1:{oxigraph_port}/update")
        cluster = Cluster(settings, replicas=replicas, action_servers=replicas, public_port=free_port())
        try:
            with turns.progress_to_stderr():
                cluster.start()
            startups[replicas] = cluster.startup_seconds
            turns._SETTINGS[:] = [cluster.settings]
            catalog = load_catalog(cluster.settings.sparql_query_url, cluster.settings.database_url)
            log(f"{replicas} replica(s): warming up")
            warm_up(cluster.public_url, our_conversations, catalog, "ours", args.seed + 1)
            for shoppers in args.shoppers:
                load_before = os.getloadavg()
                run = measure_cluster(cluster, shoppers, args, catalog, f"cluster-{run_id}-r{replicas}-n{shoppers}")
                results.append((replicas, run, load_before[0], os.getloadavg()))
        finally:
            with turns.progress_to_stderr():
                cluster.stop()

    amount = (f"{args.turns_per_shopper} turns per shopper" if args.turns_per_shopper
              else f"{args.duration:.0f} s per run")
    print(f"\nshopbot cluster (nginx round robin over the Rasa replicas' REST channel, PostgreSQL tracker store, "
          f"Redis lock store) on {os.cpu_count()} cores shared by every process; {amount}")
    for replicas, seconds in startups.items():
        print(f"  start-up with {replicas} replica(s): {seconds:.0f} s (PostgreSQL, Redis, graph, models, nginx)")
    for replicas, run, load_before, load_after in results:
        print(f"\n##### {replicas} Rasa replica(s), {replicas} action server(s); load average before "
              f"{load_before:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
        report_load(run, None)
        report_cpu(run, replicas)

    print("\n== Summary ==")
    print(f"  {'replicas':>8} {'N':>4} {'turns/s':>8} {'p95 ms':>7} {'errors':>6}")
    from benchlib import percentile

    rates: dict[tuple[int, int], float] = {}
    for replicas, run, _, _ in results:
        rate = len(run.results) / max(run.elapsed, 1e-9)
        rates[(replicas, run.shoppers)] = rate
        errors = sum(1 for r in run.results if r.error)
        p95 = percentile([r.latency for r in run.results], 0.95) if run.results else 0.0
        print(f"  {replicas:>8} {run.shoppers:>4} {rate:8.2f} {1000 * p95:7.0f} {errors:>6}")
    for shoppers in args.shoppers:
        if (1, shoppers) in rates and (2, shoppers) in rates:
            print(f"  N = {shoppers}: 2 replicas / 1 replica = {rates[(2, shoppers)] / rates[(1, shoppers)]:.2f}x")
    widest = max((item for item in results), key=lambda item: (item[0], item[1].shoppers), default=None)
    if widest is not None:
        replicas, run, _, _ = widest
        print(f"\n== Projection from the {replicas}-replica run at N = {run.shoppers} (CPU-seconds per turn) ==")
        for line in projection(run):
            print(line)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())

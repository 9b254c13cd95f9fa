"""The worker's own work per event, one commit against another: cProfile and CPU time, not throughput.

    python -m bench.worker_profile BASE [REV] [--events 20000] [--rounds 2] [--top 12]

Throughput figures swing by a factor of two on this shared 2-core machine (bench/worker.py), too
much to see a change of a few tens of percent in what the worker itself does per event. This bench
counts that work instead: on one redis-server and one Elasticsearch node, K reference-shaped events
are put on the queue (the receiver's writer), then one burst worker (`run_worker(burst=True)`, as
`zoom-ingest worker --burst` runs it) of the commit drains them inside cProfile. BASE (the
baseline: a git revision, e.g. the commit before a change) and REV (default: the work tree) are
exported with `git archive` and alternated for --rounds rounds; the worker imports the exported
code (PYTHONPATH), the bench harness is this work tree's.

Figures, each REV against BASE in the same run (medians of rounds):
- `worker_function_calls_per_event`: Python function calls of the worker's main thread (cProfile),
  per event: deterministic, unaffected by load;
- `worker_redis_commands_per_event`: commands the worker sent to Redis (INFO commandstats,
  total_commands_processed, the enqueueing subtracted);
- `worker_cpu_us_per_event`: the process's CPU time (all threads, start-up included, under the
  profiler: inflated, compare the two only).
The functions with the most own time in the last round go to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from redis import Redis

from bench.common import REPO, distinct_bodies, emit, log, redis_server, service_environment, stop_on_sigterm
from bench.indexing import elasticsearch_node, enqueue_all, settings_for

BENCH = "worker_profile"

# Runs in the exported tree: its worker, profiled; one JSON line of figures, then the table.
CHILD = r"""
import cProfile, io, json, pstats, resource, sys
from worker.process import run_worker
profile = cProfile.Profile()
profile.enable()
events = run_worker(burst=True)
profile.disable()
usage = resource.getrusage(resource.RUSAGE_SELF)
stats = pstats.Stats(profile, stream=io.StringIO())
print(json.dumps({"events": events, "cpu_s": usage.ru_utime + usage.ru_stime, "calls": stats.total_calls}))
table = io.StringIO()
pstats.Stats(profile, stream=table).sort_stats("tottime").print_stats(int(sys.argv[1]))
print(table.getvalue())
"""


def export(revision: str, into: Path) -> Path:
    """A clean export of `revision` (git archive) in `into`."""
    into.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def commands_processed(redis: Redis) -> int:
    return int(redis.info("stats")["total_commands_processed"])


def profile_once(
    tree: Path, label: str, bodies: list[bytes], services: dict[str, Any], top: int
) -> dict[str, Any]:
    redis: Redis = services["redis"]
    namespace = "prof" + "".join(filter(str.isalnum, label)).lower()
    enqueue_all(settings_for(services["es_url"], services["redis_url"]), bodies)
    before = commands_processed(redis)
    environment = service_environment(services["redis_url"], services["es_url"], namespace)
    environment["PYTHONPATH"] = str(tree)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(top)],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{label}: the worker failed:\n{done.stderr[-2000:]}")
    # The INFO call itself is one command.
    commands = commands_processed(redis) - before - 1
    figures = json.loads(done.stdout.splitlines()[0])
    if figures["events"] != len(bodies):
        raise RuntimeError(f"{label}: the worker handled {figures['events']} of {len(bodies)} events")
    figures["commands"] = commands
    figures["table"] = "\n".join(done.stdout.splitlines()[1:])
    per_event = figures["cpu_s"] / len(bodies) * 1e6
    calls, redis_commands = figures["calls"] / len(bodies), commands / len(bodies)
    log(f"{label}: {calls:.0f} calls, {redis_commands:.3f} Redis commands, {per_event:.0f} µs CPU per event")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.worker_profile", description=__doc__.split("\n")[0]
    )
    parser.add_argument("base", help="the baseline's git revision")
    parser.add_argument("revision", nargs="?", help="the git revision measured (default: the work tree)")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--top", type=int, default=12, help="functions listed per commit on stderr")
    args = parser.parse_args()
    stop_on_sigterm()
    bodies = distinct_bodies(args.events)
    with ExitStack() as stack:
        directory = Path(tempfile.mkdtemp(prefix="zoom-bench-profile-"))
        stack.callback(shutil.rmtree, directory, ignore_errors=True)
        trees = {"base": export(args.base, directory / "base")}
        trees["measured"] = export(args.revision, directory / "measured") if args.revision else REPO
        labels = {"base": args.base, "measured": args.revision or "work tree"}
        server = stack.enter_context(redis_server())
        node, _ = stack.enter_context(elasticsearch_node())
        services = {"redis": Redis.from_url(server.url), "redis_url": server.url, "es_url": node.url}
        runs: dict[str, list[dict[str, Any]]] = {"base": [], "measured": []}
        for number in range(1, args.rounds + 1):
            for side in ("base", "measured"):
                runs[side].append(
                    profile_once(trees[side], f"{labels[side]} round {number}", bodies, services, args.top)
                )
    for side in ("base", "measured"):
        log(f"{labels[side]}, last round, own time:\n{runs[side][-1]['table']}")

    def median(side: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[side]) / args.events

    common = {
        "events": args.events,
        "rounds": args.rounds,
        "baseline_is": f"commit {args.base}",
        "measured": labels["measured"],
    }
    emit(
        BENCH,
        "worker_function_calls_per_event",
        median("measured", "calls"),
        median("base", "calls"),
        **common,
    )
    emit(
        BENCH,
        "worker_redis_commands_per_event",
        median("measured", "commands"),
        median("base", "commands"),
        **common,
    )
    emit(
        BENCH,
        "worker_cpu_us_per_event",
        median("measured", "cpu_s") * 1e6,
        median("base", "cpu_s") * 1e6,
        note="under cProfile, start-up included: compare the two, not the absolute figure",
        **common,
    )


if __name__ == "__main__":
    main()

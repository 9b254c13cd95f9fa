"""Worker throughput, queue to searchable documents, against elasticsearch.helpers.bulk.

    python -m bench.worker [--events 20000] [--workers 1] [--rounds 3]

On one redis-server and one Elasticsearch node, after a 2,000-document warm-up, R rounds of:
the baseline, `helpers.bulk` of the same K documents (pre-built with to_document, one client,
namespace benchbulk<n>); then K distinct reference-shaped events enqueued with
the receiver's EventWriter while no worker runs, and W `zoom-ingest worker` processes started and
timed until all K are searchable (namespace benchworker<n>). Medians are reported. Last, the same
worker run once with ZOOM_INGEST_BATCH_SIZE=1 (namespace benchbatch1). An idle worker on an empty
queue runs alongside each worker run as the memory baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import (
    distinct_bodies,
    emit,
    log,
    redis_server,
    service_environment,
    stop_on_sigterm,
)
from bench.indexing import bulk_baseline, elasticsearch_node, enqueue_all, run_workers, settings_for
from shared.config import Settings

BENCH = "worker"


def worker_run(
    namespace: str, bodies: list[bytes], services: dict[str, Any], args: Any, **extra: str
) -> dict[str, Any]:
    """Enqueue every body while no worker runs, then time the workers draining into `namespace`."""
    events = enqueue_all(settings_for(services["es_url"], services["redis_url"]), bodies)
    environment = service_environment(services["redis_url"], services["es_url"], namespace, **extra)
    label = " ".join(f"ZOOM_INGEST_{key.upper()}={value}" for key, value in extra.items()) or "defaults"
    return run_workers(environment, args.workers, events, len(bodies), services, args.timeout, label)


def report(
    args: Any,
    baselines: list[float],
    transform: list[float],
    runs: list[dict[str, Any]],
    single: dict[str, Any] | None,
) -> None:
    baseline = statistics.median(baselines)
    ordered = sorted(runs, key=lambda run: run["events_per_s"] or 0.0)
    default = ordered[len(ordered) // 2]  # the median run
    rate = default["events_per_s"]
    emit(
        BENCH,
        "events_per_s",
        rate,
        baseline,
        target="ratio >= 0.5",
        met=rate >= 0.5 * baseline,
        events=args.events,
        workers=args.workers,
        runs=[round(run["events_per_s"] or 0) for run in runs],
        baseline_runs=[round(value) for value in baselines],
        searchable=[run["count"] for run in runs],
        failed_jobs=sum(run["failed_jobs"] for run in runs),
        startup_s=round(default["startup_s"], 2),
        worker_process_cpu=round(default["worker_cpu"], 3),
        es_process_cpu=round(default["es_cpu"], 3),
        baseline_is="elasticsearch.helpers.bulk, pre-built documents, one client, chunks of 500",
        note="median of rounds; from the first job claimed to all events searchable (refresh + _count)",
    )
    emit(BENCH, "events_per_s_incl_startup", default["count"] / default["elapsed_s"], baseline)
    transform_rate = statistics.median(transform)
    emit(
        BENCH,
        "transform_only_events_per_s",
        transform_rate,
        baseline,
        note="to_document + document_id alone, one core, no I/O: a ceiling for one worker process",
    )
    # CPU time is steadier than throughput on a shared machine: it does not count time spent
    # waiting for a core. The idle worker, started at the same moment, carries the same start-up
    # (imports, connections), so the difference is the per-event work.
    per_event = [(run["worker_cpu_s"] - args.workers * run["idle_cpu_s"]) / args.events * 1e6 for run in runs]
    emit(
        BENCH,
        "worker_cpu_us_per_event",
        statistics.median(per_event),
        1e6 / transform_rate,
        runs=[round(value, 1) for value in per_event],
        baseline_is="transform only (to_document + document_id), microseconds per event: the floor",
        note="worker processes' CPU time minus an idle worker's (start-up), per event; median of rounds",
    )
    emit(
        BENCH,
        "worker_peak_rss_mb",
        default["rss"],
        default["idle_rss"],
        batch_size_1=round(single["rss"], 1) if single else None,
        baseline_is="an idle zoom-ingest worker on an empty queue, same run",
    )
    if single is None:  # --skip-batch-size-1
        return
    batch_known = "batch_size" in Settings.model_fields
    emit(
        BENCH,
        "events_per_s_batch_size_1",
        single["events_per_s"],
        rate,
        searchable=single["count"],
        failed_jobs=single["failed_jobs"],
        baseline_is="the default worker run above",
        note=(
            "ZOOM_INGEST_BATCH_SIZE=1: one job, one index request"
            if batch_known
            else "today's worker has no batch size setting and indexes one document per job: both runs "
            "are the same code path, so the ratio is only noise"
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=1, help="zoom-ingest worker processes (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/worker rounds, median reported")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up a drain after (s)")
    parser.add_argument(
        "--skip-batch-size-1",
        action="store_true",
        help="leave out the ZOOM_INGEST_BATCH_SIZE=1 run (about 100 s) and the peak-RSS figure, "
        "e.g. to compare many commits",
    )
    args = parser.parse_args()
    stop_on_sigterm()
    bodies = distinct_bodies(args.events)
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoom-bench-worker-")))
        redis = stack.enter_context(redis_server())
        node, es = stack.enter_context(elasticsearch_node())
        assert node.process is not None
        services = {"es": es, "es_url": node.url, "redis_url": redis.url, "directory": directory}
        services["es_pid"] = node.process.pid
        log("warm-up, then the baseline: helpers.bulk of the same documents")
        bulk_baseline(es, node.url, distinct_bodies(2000), "warmup")
        baseline, transform, default = [], [], []
        for number in range(1, args.rounds + 1):
            bulk_seconds, build_seconds = bulk_baseline(es, node.url, bodies, f"benchbulk{number}")
            baseline.append(args.events / bulk_seconds)
            transform.append(args.events / build_seconds)
            log(f"round {number}: baseline {baseline[-1]:.0f} documents/s")
            default.append(worker_run(f"benchworker{number}", bodies, services, args))
        single = None
        if not args.skip_batch_size_1:
            single = worker_run("benchbatch1", bodies, services, args, batch_size="1")
    report(args, baseline, transform, default, single)


if __name__ == "__main__":
    main()

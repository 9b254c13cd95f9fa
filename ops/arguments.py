"""The `zoom-ingest` command line: its subcommands, their flags and help texts.

Flags override ZOOM_INGEST_* environment variables. They are applied by writing the environment, so
that processes started from here (uvicorn workers, the local stack) see the same configuration.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ops.local import (
    DEFAULT_ES_PORT,
    DEFAULT_METRICS_PORT,
    DEFAULT_PORT,
    DEFAULT_RECEIVER_METRICS_PORT,
    DEFAULT_REDIS_PORT,
)
from ops.selection import add_selection_arguments
from shared.config import Settings, env_name, load_settings
from shared.reports import STREAMS

SETTING_FLAGS: dict[str, tuple[str, str]] = {
    # flag -> (setting, help)
    "--redis-url": ("redis_url", "Redis URL (ZOOM_INGEST_REDIS_URL)"),
    "--queue": ("queue", "RQ queue name (ZOOM_INGEST_QUEUE)"),
}
RECEIVER_FLAGS: dict[str, tuple[str, str]] = {
    "--host": ("listen_host", "address to listen on (ZOOM_INGEST_LISTEN_HOST)"),
    "--port": ("listen_port", "port to listen on (ZOOM_INGEST_LISTEN_PORT)"),
    "--tls-certfile": ("tls_certfile", "serve HTTPS with this PEM certificate (ZOOM_INGEST_TLS_CERTFILE)"),
    "--tls-keyfile": ("tls_keyfile", "private key for --tls-certfile (ZOOM_INGEST_TLS_KEYFILE)"),
}
ELASTICSEARCH_FLAGS: dict[str, tuple[str, str]] = {
    "--es-hosts": ("es_hosts", "comma-separated Elasticsearch URLs (ZOOM_INGEST_ES_HOSTS)"),
    "--namespace": ("namespace", "data stream namespace (ZOOM_INGEST_NAMESPACE)"),
}


def _add_flags(parser: argparse.ArgumentParser, flags: dict[str, tuple[str, str]]) -> None:
    for flag, (setting, text) in flags.items():
        parser.add_argument(flag, dest=f"setting_{setting}", metavar=setting.upper(), help=text)


def apply_flags(arguments: argparse.Namespace) -> Settings:
    for name, value in vars(arguments).items():
        if name.startswith("setting_") and value is not None:
            os.environ[env_name(name.removeprefix("setting_"))] = str(value)
    return load_settings()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoom-ingest",
        description="Zoom webhooks into Elasticsearch: receiver -> Redis (RQ) -> worker -> data stream.",
    )
    parser.add_argument(
        "--log-level",
        dest="setting_log_level",
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR (ZOOM_INGEST_LOG_LEVEL, default INFO)",
    )
    parser.add_argument(
        "--log-format",
        dest="setting_log_format",
        choices=("auto", "ecs", "human"),
        help="ECS JSON lines, human text, or auto: human on a terminal (ZOOM_INGEST_LOG_FORMAT)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    receiver = commands.add_parser(
        "receiver",
        help="serve the webhook URL (Starlette under uvicorn)",
        description="Serve the webhook URL: authenticate each POST, answer Zoom's URL validation, and "
        "answer 200 once the raw event is durably in Redis. Never waits on Elasticsearch.",
    )
    _add_flags(receiver, SETTING_FLAGS | RECEIVER_FLAGS)
    receiver.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")

    worker = commands.add_parser(
        "worker",
        help="turn queued events into ECS documents in Elasticsearch",
        description="Install the index template, then take events from the queue, transform each into "
        "an ECS document and index it into logs-zoom.webhook-<namespace>, retrying while "
        "Elasticsearch is unavailable. Run several to index in parallel.",
    )
    _add_flags(worker, SETTING_FLAGS | ELASTICSEARCH_FLAGS)
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")

    poll = commands.add_parser(
        "poll",
        help="poll Zoom's report APIs (sign-ins, operation log, meeting audit trail) into the queue",
        description="Authenticate with Zoom Server-to-Server OAuth and page through each enabled report "
        "(ZOOM_INGEST_POLL_STREAMS) every ZOOM_INGEST_POLL_INTERVAL_SECONDS, putting each record on the "
        "queue for the workers, which index it into logs-zoom.<stream>-<namespace>. Run as many as you "
        "like: one polls at a time (a lease in Redis).",
    )
    _add_flags(poll, SETTING_FLAGS)
    poll.add_argument(
        "--if-configured",
        action="store_true",
        help="without Zoom credentials, idle until stopped instead of failing (for compose)",
    )

    setup = commands.add_parser(
        "setup",
        help="install the index template in Elasticsearch",
        description="Create or update the composable index templates for logs-zoom.webhook-* and the "
        "report streams' logs-zoom.activity-*, logs-zoom.operation-*, logs-zoom.meeting_activity-* "
        "(workers also do this when they start).",
    )
    _add_flags(setup, ELASTICSEARCH_FLAGS)

    transform = commands.add_parser(
        "transform",
        help="print the document the worker would index for each webhook body",
        description="Read webhook bodies (one JSON object per line) from FILEs or stdin and write the "
        "document the worker would index for each, one JSON per line, in order. For previewing the "
        "mapping and reproducing a case; touches neither Redis nor Elasticsearch.",
    )
    transform.add_argument("files", nargs="*", metavar="FILE", help="NDJSON files; none or '-' = stdin")
    transform.add_argument(
        "--stream",
        choices=STREAMS,
        help="read records of this Zoom report API (as `zoom-ingest poll` fetches them) instead of "
        "webhook bodies; documents go to logs-zoom.<stream>-<namespace>",
    )
    transform.add_argument(
        "--geoip-city-db",
        dest="setting_geoip_city_db",
        metavar="PATH",
        help="MaxMind City database (ZOOM_INGEST_GEOIP_CITY_DB)",
    )
    transform.add_argument(
        "--geoip-asn-db",
        dest="setting_geoip_asn_db",
        metavar="PATH",
        help="MaxMind ASN database (ZOOM_INGEST_GEOIP_ASN_DB)",
    )
    transform.add_argument(
        "--preserve-original",
        dest="setting_preserve_original",
        action="store_const",
        const="true",
        help="keep the raw body in event.original (ZOOM_INGEST_PRESERVE_ORIGINAL)",
    )
    _add_flags(transform, {"--namespace": ELASTICSEARCH_FLAGS["--namespace"]})

    replay = commands.add_parser(
        "replay",
        help="requeue failed events (all, by id, by event type, by receive time)",
        description="Put failed events back on the queue with RQ's own requeue, as `rq requeue` does: "
        "same job id, body, receive time and description, at the end of the queue. Criteria combine "
        "with AND; without any, nothing is requeued unless --all is given.",
    )
    _add_flags(replay, SETTING_FLAGS)
    add_selection_arguments(replay, "requeue")

    failed = commands.add_parser(
        "failed",
        help="one failed event in full (show), or discard failed events",
        description="Look at failed events one at a time and discard the ones that should not be "
        "replayed. `replay` puts them back on the queue instead.",
    )
    failed_commands = failed.add_subparsers(dest="failed_command", required=True, metavar="ACTION")
    show = failed_commands.add_parser(
        "show",
        help="a failed event's complete reason and raw body",
        description="Print one failed event: its event type, receive and failure times, the complete "
        "failure reason as recorded (Elasticsearch's, values included) and the raw body as received. "
        "Read-only. Exit code 1 when the id is not in the failed registry.",
    )
    _add_flags(show, SETTING_FLAGS)
    show.add_argument("job_id", metavar="JOB_ID", help="a failed job id (status, replay --dry-run list them)")
    shown = show.add_mutually_exclusive_group()
    shown.add_argument("--json", dest="as_json", action="store_true", help="one JSON object on stdout")
    shown.add_argument(
        "--body", dest="body_only", action="store_true", help="only the raw body (e.g. for `transform`)"
    )
    discard = failed_commands.add_parser(
        "discard",
        help="delete failed events (all, by id, by event type, by receive time)",
        description="Delete failed events for good, with the selection `replay` takes, each with a "
        "log line. Criteria combine with AND; without any, nothing is discarded unless --all is given.",
    )
    _add_flags(discard, SETTING_FLAGS)
    add_selection_arguments(discard, "discard")

    status = commands.add_parser(
        "status",
        help="show queue depth, jobs in progress, failures by reason, oldest waiting event, workers",
        description="Show what the queue holds now. Read-only. --json prints one JSON object for scripts.",
    )
    _add_flags(status, SETTING_FLAGS)
    status.add_argument("--json", dest="as_json", action="store_true", help="one JSON object on stdout")
    status.add_argument("--verbose", "-v", action="store_true", help="also list each worker and its state")

    check = commands.add_parser(
        "check",
        help="verify configuration, Redis and Elasticsearch, and say what to fix",
        description="Check the configuration, Redis (reachable, version, persistence, eviction, memory, "
        "queue depth) and Elasticsearch (reachable, version, credentials, index template, privileges), "
        "one line each: OK, WARN or FAIL with a fix. Read-only; never prints secrets. Exit code 1 when "
        "any check fails, 0 otherwise.",
    )
    _add_flags(check, SETTING_FLAGS | ELASTICSEARCH_FLAGS)
    check.add_argument(
        "--json", dest="as_json", action="store_true", help="a JSON list of {check, status, detail, fix}"
    )

    local = commands.add_parser(
        "local",
        help="run the whole service on this machine: Redis, Elasticsearch, receiver, worker, poller",
        description="Start redis-server and an Elasticsearch 8.14.1 node (Elastic's minimal integ-test "
        "build) on loopback, then a receiver, a worker and a poller (idle unless ZOOM_INGEST_ZOOM_* are "
        "set) wired to them, until SIGINT (Ctrl-C) or SIGTERM. Data is kept in --data-dir; the settings "
        "status, replay and check need are written to <data dir>/settings.env.",
    )
    local.add_argument(
        "--data-dir", type=Path, default=Path(".local"), help="state directory (default ./.local)"
    )
    local.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"receiver port (default {DEFAULT_PORT})"
    )
    local.add_argument(
        "--es-port",
        type=int,
        default=DEFAULT_ES_PORT,
        help=f"Elasticsearch HTTP port (default {DEFAULT_ES_PORT}, beside a system one on 9200)",
    )
    local.add_argument(
        "--redis-port",
        type=int,
        default=DEFAULT_REDIS_PORT,
        help=f"Redis port (default {DEFAULT_REDIS_PORT}, beside a system one on 6379)",
    )
    local.add_argument(
        "--metrics-port",
        type=int,
        default=DEFAULT_METRICS_PORT,
        help=f"the worker's Prometheus metrics port (default {DEFAULT_METRICS_PORT})",
    )
    local.add_argument(
        "--receiver-metrics-port",
        type=int,
        default=DEFAULT_RECEIVER_METRICS_PORT,
        help=f"the receiver's Prometheus metrics port (default {DEFAULT_RECEIVER_METRICS_PORT})",
    )
    local.add_argument(
        "--es-hosts",
        dest="local_es_hosts",
        metavar="URLS",
        help="use this Elasticsearch (comma-separated URLs; credentials from ZOOM_INGEST_ES_*) instead of "
        "starting a node",
    )
    return parser

"""`zoom-ingest`: one command, a subcommand per process or task (the command line itself:
ops/arguments.py)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import IO

from ops.arguments import apply_flags, build_parser
from ops.local import Ports, run_local
from ops.selection import chosen_by
from shared import logs
from shared.config import ConfigError, Settings, retired_settings
from shared.reports import STREAMS


def _read_lines(paths: Sequence[str]) -> Iterator[bytes]:
    for path in paths or ["-"]:
        stream: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        with stream:
            for line in stream:
                if line.strip():
                    yield line.rstrip(b"\r\n")


def run_transform(settings: Settings, paths: Sequence[str], out: IO[str], stream: str | None = None) -> None:
    """Webhook bodies (or, given a stream, report records) in, the worker's documents out."""
    from worker.job import transform_options
    from worker.transform import to_document
    from worker.transform.report import to_report_document

    options = transform_options(settings)
    for line in _read_lines(paths):
        now = datetime.now(UTC)
        if stream is None:
            document = to_document(line, now, options)
        else:
            document = to_report_document(stream, line, now, options)
        out.write(json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n")


def _with_elasticsearch(settings: Settings, arguments: argparse.Namespace) -> int:
    """`worker` or `setup`: Elasticsearch refusing the settings ends them with one line, not a trace."""
    from worker.sink import Sink, refusal

    try:
        if arguments.command == "worker":
            from worker.process import run_worker

            run_worker(burst=arguments.burst)
        else:
            Sink(settings).install_template()
            streams = [
                settings.data_stream,
                *(f"logs-zoom.{stream}-{settings.namespace}" for stream in STREAMS),
            ]
            print(f"index templates installed for {', '.join(streams)}")
    except Exception as error:
        reason = refusal(error)
        if reason is None:
            raise
        print(f"zoom-ingest: {reason}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        if arguments.command == "check":
            from ops.check import run_check

            # Before the settings load: invalid configuration is one of the things check reports.
            return run_check(lambda: apply_flags(arguments), as_json=arguments.as_json, out=sys.stdout)
        settings = apply_flags(arguments)
        logs.configure(settings.log_level, settings.log_format, arguments.command)
        for warning in retired_settings():
            logging.getLogger("zoom_ingest").warning(warning)
        if arguments.command == "local":
            ports = Ports(
                arguments.port,
                arguments.es_port,
                arguments.redis_port,
                arguments.metrics_port,
                arguments.receiver_metrics_port,
            )
            return run_local(settings, arguments.data_dir, ports, arguments.local_es_hosts)
        if arguments.command == "receiver":
            from receiver.server import serve

            serve(settings, workers=arguments.workers)
        elif arguments.command == "poll":
            from poller.process import run_poller

            return run_poller(settings, idle_unconfigured=arguments.if_configured)
        elif arguments.command in ("worker", "setup"):
            return _with_elasticsearch(settings, arguments)
        elif arguments.command == "transform":
            run_transform(settings, arguments.files, sys.stdout, arguments.stream)
        elif arguments.command == "replay":
            from ops.replay import run_replay

            return run_replay(settings, chosen_by(arguments), out=sys.stdout, err=sys.stderr)
        elif arguments.command == "failed":
            from ops.failed import run_discard, run_show

            if arguments.failed_command == "show":
                shown = {"as_json": arguments.as_json, "body_only": arguments.body_only}
                return run_show(settings, arguments.job_id, **shown, out=sys.stdout, err=sys.stderr)
            return run_discard(settings, chosen_by(arguments), out=sys.stdout, err=sys.stderr)
        elif arguments.command == "status":
            from ops.status import run_status

            return run_status(
                settings, as_json=arguments.as_json, verbose=arguments.verbose, out=sys.stdout, err=sys.stderr
            )
    except ConfigError as error:
        print(f"zoom-ingest: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"zoom-ingest: {error.strerror}: {error.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

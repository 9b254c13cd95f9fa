"""A worker process: install the index template, then take jobs from the queue until stopped.

It runs RQ's SimpleWorker, which executes jobs in its own process instead of forking one child per
job: forking costs more than transforming and indexing one event, and would drop the warm
connection to Elasticsearch. Run several processes (on one host or many) to index in parallel.
"""

from __future__ import annotations

import logging
import time

from rq import SimpleWorker

from shared import queue
from worker.job import context
from worker.sink import Sink, is_transient

log = logging.getLogger("zoom_ingest.worker")


def install_template_when_reachable(sink: Sink, pause_seconds: float = 5.0) -> None:
    """Documents must never be indexed without our mappings, and a worker usually starts alongside
    (or before) Elasticsearch: wait for the cluster instead of exiting."""
    while True:
        try:
            sink.install_template()
            return
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("elasticsearch not reachable yet, waiting to install the index template")
            time.sleep(pause_seconds)


def run_worker(*, burst: bool = False) -> bool:
    current = context()
    settings = current.settings
    install_template_when_reachable(current.sink)
    log.info("index template installed; writing to data stream %s", settings.data_stream)
    connection = queue.connect(settings, socket_timeout=None)
    worker = SimpleWorker(
        [queue.event_queue(settings, connection)],
        connection=connection,
        serializer=queue.SERIALIZER,
    )
    return worker.work(burst=burst, logging_level="INFO")

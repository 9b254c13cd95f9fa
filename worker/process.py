"""A worker process: install the index template, then take jobs from the queue until stopped.

It runs RQ's SimpleWorker, which executes jobs in its own process instead of forking one child per
job: forking costs more than transforming and indexing one event, and keeps no warm connection to
Elasticsearch. Run several processes (on one host or many) to index in parallel.
"""

from __future__ import annotations

import logging

from rq import SimpleWorker

from shared import queue
from worker.job import context

log = logging.getLogger("zoom_ingest.worker")


def run_worker(*, burst: bool = False, with_scheduler: bool = False) -> bool:
    current = context()
    settings = current.settings
    current.sink.install_template()
    log.info("index template installed; writing to data stream %s", settings.data_stream)
    connection = queue.connect(settings, socket_timeout=None)
    worker = SimpleWorker(
        [queue.event_queue(settings, connection)],
        connection=connection,
        serializer=queue.SERIALIZER,
    )
    return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")

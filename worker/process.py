"""A worker process: install the index template, then index batches from the queue until stopped.

Jobs run in this process (never a fork per job: forking costs more than indexing one event and
would drop the warm connection to Elasticsearch), a batch per bulk request (worker/batch.py). Run
several processes, on one host or many, to index in parallel: they share nothing but Redis.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from shared.connection import connect
from shared.monitoring import serve_metrics
from worker.batch import BatchWorker
from worker.job import context
from worker.sink import Sink, is_transient

log = logging.getLogger("zoom_ingest.worker")


def install_template_when_reachable(sink: Sink, stopping: Callable[[], bool], pause: float = 5.0) -> bool:
    """Documents must never be indexed without our mappings, and a worker usually starts alongside
    (or before) Elasticsearch: wait for the cluster instead of exiting. False if stopped meanwhile."""
    while not stopping():
        try:
            sink.put_template()
            return True
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("elasticsearch not reachable yet, waiting to install the index template")
            time.sleep(pause)
    return False


def run_worker(*, burst: bool = False) -> int:
    """Returns the number of events handled."""
    current = context()
    settings = current.settings
    connection = connect(settings, socket_timeout=30.0)
    worker = BatchWorker(settings, connection, current.sink, current.options)
    # From here on SIGTERM/SIGINT mean "stop after the current step", even while still starting.
    worker.install_signal_handlers()
    serve_metrics(settings)
    if not install_template_when_reachable(current.sink, lambda: worker.stopping):
        return 0
    log.info("index template installed; writing to data stream %s", settings.data_stream)
    return worker.run(burst=burst)

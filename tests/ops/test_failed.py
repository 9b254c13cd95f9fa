"""`zoom-ingest failed show` and `failed discard` against a real redis-server, on events failed by
the batch worker against the real Elasticsearch node (a document_parsing_exception) and by an RQ
worker that could not reach Elasticsearch."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from elasticsearch import Elasticsearch
from redis import Redis
from rq.job import Job
from rq.results import Result

from ops.cli import main
from ops.services import ElasticsearchNode
from shared import queue
from shared.config import Settings
from shared.connection import connect
from tests.ops.failed_events import NOW, failed_ids, failed_jobs, queued_ids
from tests.support import enqueue_event, event_body, failure_reason
from worker.batch import BatchWorker
from worker.job import transform_options
from worker.sink import Sink

SECRET = "private-value-4711"


@pytest.fixture
def refused(settings: Settings, es_node: ElasticsearchNode, es: Elasticsearch, namespace: str) -> Job:
    """A webhook whose meeting duration is text where the template maps a long: the batch worker
    sends it to the real node, which refuses it for good (document_parsing_exception)."""
    body = event_body("meeting.created", object={"id": 1, "uuid": "u1", "host_id": "h", "duration": SECRET})
    worker_settings = settings.model_copy(update={"es_hosts": [es_node.url], "namespace": namespace})
    with connect(settings) as connection:
        job = enqueue_event(
            queue.event_queue(settings, connection), settings, body.decode(), "meeting.created", NOW
        )
        sink = Sink(worker_settings)
        sink.install_template()
        BatchWorker(worker_settings, connection, sink, transform_options(worker_settings)).run(burst=True)
    assert failed_ids(settings) == {job.id}
    return job


def test_show_prints_the_whole_reason_and_the_body_as_received(
    refused: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["failed", "show", refused.id]) == 0
    text = capsys.readouterr().out
    reason = failure_reason(refused)
    # The whole reason, value preview included (status and replay cut it to one short line).
    assert "document_parsing_exception" in reason and SECRET in reason and "…" not in reason
    assert reason.strip() in text
    assert "event     meeting.created\n" in text
    assert f"received  {refused.meta['received_at']}\n" in text
    assert text.endswith(f"body\n{refused.args[0]}\n")

    assert main(["failed", "show", "--json", refused.id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["job_id"] == refused.id
    assert shown["event"] == "meeting.created"
    assert shown["reason"] == reason
    assert shown["body"] == refused.args[0]
    assert shown["received_at"] == refused.meta["received_at"]
    assert shown["failed_at"]

    # The body alone, byte for byte, e.g. for `zoom-ingest transform`.
    assert main(["failed", "show", "--body", refused.id]) == 0
    assert capsys.readouterr().out == refused.args[0] + "\n"


def test_show_of_an_id_that_is_not_failed_exits_1(
    settings: Settings, redis: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(settings) as connection:
        queued = enqueue_event(queue.event_queue(settings, connection), settings, "{}", "x", NOW)
    assert main(["failed", "show", queued.id]) == 1
    assert f"{queued.id} is not in the failed registry of queue zoom-webhooks" in capsys.readouterr().err
    assert queued_ids(settings) == [queued.id]


def test_short_views_point_to_the_whole_one(refused: Job, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)["failed_by_reason"]
    assert entry["example_job_id"] == refused.id
    assert main(["replay", "--all", "--dry-run"]) == 0
    assert "zoom-ingest failed show JOB_ID" in capsys.readouterr().out


def test_discard_deletes_the_selected_events_each_with_a_log_line(
    settings: Settings,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    jobs = failed_jobs(
        settings,
        [("meeting.started", NOW), ("meeting.ended", NOW - timedelta(days=2)), ("user.created", NOW)],
        monkeypatch,
    )
    started, ended, created = jobs
    # replay's selection: an event type prefix AND a receive time.
    assert main(["failed", "discard", "--event", "meeting.", "--since", NOW.date().isoformat()]) == 0
    captured = capsys.readouterr()
    assert "discarded 1 failed job from queue zoom-webhooks\n  meeting.started  1\n" in captured.out
    assert failed_ids(settings) == {ended.id, created.id}
    # Gone for good: the job, its failure record, and it is not queued either.
    assert redis.exists(started.key, Result.get_key(started.id)) == 0
    assert queued_ids(settings) == []
    # One log line (ECS: stderr is not a terminal) per discarded event.
    [line] = [json.loads(text) for text in captured.err.splitlines() if "discarded failed event" in text]
    assert line["message"].startswith(f"discarded failed event {started.id} (meeting.started)")
    assert line["log.level"] == "warning"
    assert line["event"]["action"] == "meeting.started"

    # By id; a named id that is not failed is an error, as in replay.
    assert main(["failed", "discard", created.id, "no-such-job"]) == 1
    captured = capsys.readouterr()
    assert "discarded 1 failed job" in captured.out
    assert "not in the failed registry of queue zoom-webhooks: no-such-job" in captured.err
    assert failed_ids(settings) == {ended.id}


def test_discard_dry_run_lists_and_changes_nothing(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = failed_jobs(settings, [("meeting.started", NOW), ("user.created", NOW)], monkeypatch)
    before = {key: redis.dump(key) for key in redis.keys("*")}
    assert main(["failed", "discard", "--all", "--dry-run"]) == 0
    assert {key: redis.dump(key) for key in redis.keys("*")} == before
    out = capsys.readouterr().out
    for job in jobs:
        assert f"{job.id}  {job.meta['event']}" in out
    assert "would discard 2 failed jobs from queue zoom-webhooks (dry run: nothing changed)" in out


def test_discard_needs_a_selection(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed_jobs(settings, [("meeting.started", NOW)], monkeypatch)
    assert main(["failed", "discard"]) == 2
    assert "say which failed jobs to discard" in capsys.readouterr().err
    assert len(failed_ids(settings)) == 1


def test_discard_all_empties_the_registry_even_of_expired_entries(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A monitoring check on `failed == 0` goes green again: an entry whose job data has expired
    (not yet cleaned up by RQ) is discarded too."""
    expired, _ = failed_jobs(settings, [("meeting.started", NOW), ("user.created", NOW)], monkeypatch)
    redis.delete(expired.key)
    assert main(["failed", "discard", "--all"]) == 0
    assert "discarded 2 failed jobs" in capsys.readouterr().out
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["failed"] == 0

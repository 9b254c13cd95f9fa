"""`zoom-ingest replay` against a real redis-server, with jobs failed the way workers fail them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq.job import Job, JobStatus

from ops.cli import main
from ops.progress import LARGE_RUN, Progress
from ops.selection import SelectionError, build_selection, parse_moment
from ops.services import free_port
from shared import queue
from shared.config import Settings
from shared.connection import connect
from shared.reports import enqueue_records
from tests.ops.event_queue import QUEUE
from tests.ops.failed_events import (
    NOW,
    body_of,
    enqueue_distinct,
    fail_queued_jobs,
    failed_ids,
    failed_jobs,
    queued_ids,
)


def test_refuses_to_replay_without_a_selection(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed_jobs(settings, [("meeting.started", NOW)], monkeypatch)
    assert main(["replay"]) == 2
    assert "--all" in capsys.readouterr().err
    assert len(failed_ids(settings)) == 1
    assert queued_ids(settings) == []


def test_replay_all_puts_jobs_back_exactly_as_they_were_enqueued(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [
        ("meeting.started", NOW),
        ("meeting.ended", NOW),
        ("user.created", NOW),
        ("meeting.started", NOW),
    ]
    jobs = failed_jobs(settings, events, monkeypatch)
    assert failed_ids(settings) == {job.id for job in jobs}

    assert main(["replay", "--all", "--redis-url", settings.redis_url, "--queue", QUEUE]) == 0

    assert failed_ids(settings) == set()
    assert sorted(queued_ids(settings)) == sorted(job.id for job in jobs)
    for original in jobs:
        job = Job.fetch(original.id, connection=redis, serializer=queue.SERIALIZER)
        assert job.get_status() == JobStatus.QUEUED
        assert job.func_name == queue.JOB_FUNCTION
        assert list(job.args) == list(original.args)  # [raw body, received_at]: untouched
        assert job.description == original.description
        assert job.meta == original.meta
        assert job.origin == QUEUE
    out = capsys.readouterr().out
    assert "requeued 4 failed jobs to queue zoom-webhooks" in out
    assert "meeting.started  2" in out
    assert "meeting.ended    1" in out
    assert "user.created     1" in out
    assert "skipped 0" in out


def test_replay_by_id_and_an_unknown_id_exits_1_naming_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = failed_jobs(settings, [("meeting.started", NOW), ("user.created", NOW)], monkeypatch)

    assert main(["replay", jobs[1].id, "no-such-job"]) == 1

    assert queued_ids(settings) == [jobs[1].id]
    assert failed_ids(settings) == {jobs[0].id}
    captured = capsys.readouterr()
    assert "requeued 1 failed job " in captured.out
    assert "not in the failed registry of queue zoom-webhooks: no-such-job" in captured.err


def test_replay_by_event_prefix(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [
        ("meeting.started", NOW),
        ("meeting.participant_joined", NOW),
        ("meetingroom.checked_in", NOW),
        ("user.created", NOW),
    ]
    jobs = failed_jobs(settings, events, monkeypatch)

    assert main(["replay", "--event", "meeting."]) == 0

    assert sorted(queued_ids(settings)) == sorted([jobs[0].id, jobs[1].id])
    assert failed_ids(settings) == {jobs[2].id, jobs[3].id}
    assert "requeued 2 failed jobs" in capsys.readouterr().out


def test_replay_by_receive_time_with_dates_and_timestamps(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    moments = [
        datetime(2026, 11, 24, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 25, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 13, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
    ]
    jobs = failed_jobs(settings, [("meeting.started", moment) for moment in moments], monkeypatch)
    capsys.readouterr()

    # A bare date covers that whole day, on both ends.
    assert main(["replay", "--dry-run", "--since", "2026-11-25", "--until", "2026-11-25"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.split()}
    assert {job.id for job in jobs} & listed == {jobs[1].id, jobs[2].id, jobs[3].id}

    # Naive timestamps are UTC; criteria combine with AND.
    assert main(["replay", "--since", "2026-11-25T12:00:00", "--event", "meeting."]) == 0
    assert sorted(queued_ids(settings)) == sorted([jobs[2].id, jobs[3].id, jobs[4].id])
    assert main(["replay", "--since", "2026-11-20", "--event", "user."]) == 0
    assert len(queued_ids(settings)) == 3

    # --until is inclusive; an offset is honoured (01:00+01:00 is midnight UTC).
    assert main(["replay", "--until", "2026-11-25T01:00:00+01:00"]) == 0
    assert set(queued_ids(settings)) == {job.id for job in jobs}
    assert failed_ids(settings) == set()


def test_dry_run_lists_and_changes_nothing(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = failed_jobs(settings, [("meeting.started", NOW), ("user.created", NOW)], monkeypatch)
    before = {key: redis.dump(key) for key in redis.keys("*")}

    assert main(["replay", "--all", "--dry-run"]) == 0

    assert {key: redis.dump(key) for key in redis.keys("*")} == before
    lines = capsys.readouterr().out.splitlines()
    ids = {job.id for job in jobs}
    listed = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in ids}
    assert set(listed) == {job.id for job in jobs}
    for job in jobs:
        line = listed[job.id]
        assert job.meta["event"] in line
        assert job.meta["received_at"] in line
        # The failure's exception line: the worker could not reach Elasticsearch.
        assert "ConnectionError" in line
        assert "Traceback" not in line
    assert "would requeue 2 failed jobs to queue zoom-webhooks (dry run: nothing changed)" in lines


def test_summary_counts_jobs_whose_data_has_expired_as_skipped(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = failed_jobs(
        settings, [("meeting.started", NOW), ("meeting.started", NOW), ("user.created", NOW)], monkeypatch
    )
    redis.delete(jobs[2].key)  # what its TTL does after ZOOM_INGEST_FAILURE_TTL_SECONDS

    assert main(["replay", "--all"]) == 0
    out = capsys.readouterr().out
    assert "requeued 2 failed jobs" in out
    assert "meeting.started  2" in out
    assert "skipped 1 (job data expired or missing: 1)" in out
    assert sorted(queued_ids(settings)) == sorted([jobs[0].id, jobs[1].id])

    # Named explicitly, a job that cannot be requeued is an error.
    assert main(["replay", jobs[2].id]) == 1
    assert f"{jobs[2].id} (job data expired or missing)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not an ISO-8601 date or time"),
        (["--since", "2026-11-26", "--until", "2026-11-25"], "--since is after --until"),
        (["--event", ""], "--event: the prefix must not be empty"),
    ],
)
def test_unusable_selections_exit_2(
    settings: Settings, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_parse_moment() -> None:
    assert parse_moment("2026-11-25", "--since") == datetime(2026, 11, 25, tzinfo=UTC)
    assert parse_moment("2026-11-25", "--until", end_of_day=True) == datetime(
        2026, 11, 25, 23, 59, 59, 999999, tzinfo=UTC
    )
    assert parse_moment("2026-11-25T10:30:00Z", "--since") == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert parse_moment("2026-11-25 10:30", "--since") == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert parse_moment("2026-11-25T10:30:00-05:00", "--since") == datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    with pytest.raises(SelectionError):
        build_selection([], [], None, None, False)
    assert build_selection([], [], None, None, True).job_ids == ()


def test_replay_reports_unreachable_redis_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    assert main(["replay", "--all", "--redis-url", url]) == 1
    captured = capsys.readouterr()
    assert "ZOOM_INGEST_REDIS_URL" in captured.err
    assert "hunter2-secret" not in captured.err + captured.out


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_or_for_large_replays() -> None:
    quiet = io.StringIO()
    progress = Progress(LARGE_RUN, quiet, "requeueing")
    progress.advance(LARGE_RUN)
    progress.close()
    assert quiet.getvalue() == ""

    log = io.StringIO()
    progress = Progress(5000, log, "requeueing")
    for _ in range(10):
        progress.advance(500)
    progress.close()
    assert log.getvalue().splitlines()[-1] == "requeueing 5,000/5,000 (100%)"
    assert len(log.getvalue().splitlines()) == 10

    terminal = Terminal()
    progress = Progress(3, terminal, "requeueing", interval=0)
    progress.advance(3)
    progress.close()
    assert "\rrequeueing 3/3 (100%)" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[K")


def test_replayed_job_keeps_its_original_receive_time(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = NOW - timedelta(days=3)
    (job,) = failed_jobs(settings, [("recording.completed", moment)], monkeypatch)
    assert main(["replay", job.id]) == 0
    replayed = Job.fetch(job.id, connection=redis, serializer=queue.SERIALIZER)
    assert list(replayed.args) == [body_of("recording.completed", 0), queue.format_received_at(moment)]


def test_polled_records_are_replayed_by_their_stream(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    webhook = enqueue_distinct(settings, "user.signed_in", NOW)
    record = '{"email":"a@example.com","time":"2026-11-30T10:00:00Z","type":"Sign in"}'
    with connect(settings) as connection, connection.pipeline() as pipe:
        enqueue_records(queue.event_queue(settings, connection), settings, "activity", [record], NOW, pipe)
        pipe.execute()
    fail_queued_jobs(settings, monkeypatch)  # the record job runs worker.job.index_record under RQ
    [record_id] = failed_ids(settings) - {webhook.id}

    assert main(["replay", "--event", "report.activity"]) == 0
    assert "requeued 1 failed job to queue zoom-webhooks\n  report.activity  1\n" in capsys.readouterr().out
    assert queued_ids(settings) == [record_id]
    with connect(settings) as connection:
        job = Job.fetch(record_id, connection=connection, serializer=queue.SERIALIZER)
    assert job.args[0] == record and job.args[2] == "activity"
    assert job.description == f"zoom report activity record polled {job.args[1]}"

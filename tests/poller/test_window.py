"""The date windows a stream is drained in."""

from __future__ import annotations

from datetime import date

from poller.window import next_window

TODAY = date(2026, 12, 1)


def test_first_run_looks_back_the_configured_days() -> None:
    assert next_window(None, TODAY, 1, True) == (date(2026, 11, 30), TODAY)


def test_a_window_spans_at_most_30_days() -> None:
    assert next_window(None, TODAY, 90, True) == (date(2026, 9, 2), date(2026, 10, 2))
    # the next window starts on the last day of the previous one
    assert next_window(date(2026, 10, 2), TODAY, 90, True) == (date(2026, 10, 2), date(2026, 11, 1))


def test_activity_and_operation_never_start_before_the_six_months_zoom_keeps() -> None:
    assert next_window(date(2025, 1, 1), TODAY, 30, True)[0] == date(2026, 6, 4)
    assert next_window(date(2025, 1, 1), TODAY, 30, False)[0] == date(2025, 1, 1)


def test_never_past_today() -> None:
    assert next_window(TODAY, TODAY, 30, True) == (TODAY, TODAY)
    assert next_window(date(2026, 12, 5), TODAY, 30, False) == (TODAY, TODAY)

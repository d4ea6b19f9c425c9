"""The agent's own errors (``_log.internal_error`` / ``capture_internal_errors``): logged
once per place with the traceback, then counted and summed up in one line at most once
a minute and at exit; strict mode raises every time."""

import pytest

from otel_autoinstrument import _log


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(_log, "STRICT", False)
    monkeypatch.setattr(_log, "log", lambda level, msg, *args, exc_info=None: lines.append(
        (level, msg % args, exc_info is not None)))
    return lines


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(_log.time, "monotonic", lambda: now[0])
    return now


def fail(what, times, use_context_manager=False):
    for i in range(times):
        if use_context_manager:
            with _log.capture_internal_errors(what):
                raise ValueError("bad input %d" % i)
        else:
            try:
                raise ValueError("bad input %d" % i)
            except ValueError:
                _log.internal_error(what)


@pytest.mark.parametrize("use_context_manager", [False, True])
def test_a_place_is_logged_once_with_its_traceback_then_counted(logged, clock, use_context_manager):
    fail("parsing a header", 500, use_context_manager)
    assert logged == [(40, "internal error in parsing a header (the application is not affected)", True)]
    _log.report_repeated_errors()
    assert logged[1:] == [(40, "internal error in parsing a header happened 499 more time(s) since it was last "
                               "reported (logged once with its traceback, then counted)", False)]
    _log.report_repeated_errors()
    assert len(logged) == 2  # nothing new to report


def test_repeats_are_summed_up_at_most_once_a_minute(logged, clock):
    fail("parsing a header", 10)
    clock[0] += 59
    fail("parsing a header", 10)
    assert len(logged) == 1
    clock[0] += 1
    fail("parsing a header", 1)
    assert len(logged) == 2 and "happened 20 more time(s)" in logged[1][1]
    fail("parsing a header", 3)
    assert len(logged) == 2


def test_each_place_is_reported_on_its_own(logged, clock):
    fail("parsing a header", 2)
    fail("ending a span", 2)
    assert [line for _, line, _ in logged] == [
        "internal error in parsing a header (the application is not affected)",
        "internal error in ending a span (the application is not affected)"]


def test_strict_mode_raises_every_time(monkeypatch):
    monkeypatch.setattr(_log, "STRICT", True)
    for _ in range(3):
        with pytest.raises(ValueError):
            fail("parsing a header", 1)
        with pytest.raises(ValueError):
            fail("parsing a header", 1, use_context_manager=True)

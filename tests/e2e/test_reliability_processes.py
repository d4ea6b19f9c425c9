"""Processes and threads: every way a process ends flushes what it queued, within the
exit bound; child processes join their parent's trace; a process started with
TRACEPARENT continues that trace; context follows jobs into thread pools and tasks.

Most runs use a schedule delay of 60 s: nothing is exported during the run, so what
arrives can only have come through the flush at exit.
"""

import json
import re
import time

import pytest

from support.agent import agent_env, otel_run
from support.processes import TESTS_DIR, run

SCRIPTS = TESTS_DIR / "scripts"
LATE = dict(OTEL_BSP_SCHEDULE_DELAY=60000, OTEL_BLRP_SCHEDULE_DELAY=60000)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def by_name(spans):
    return {s.name: s for s in spans}


@pytest.mark.parametrize("mode, status", [("normal", 0), ("sys.exit", 3), ("exception", 1), ("thread", 0)])
def test_every_exit_path_flushes(receiver, service_name, mode, status):
    result = run(otel_run("python", SCRIPTS / "reliability_exit.py", mode),
                 env=agent_env(receiver, service_name, **LATE))
    assert result.returncode == status, result.stderr
    expected = 6 + (5 if mode == "thread" else 0)
    spans = receiver.wait_for_spans(count=expected, service=service_name)
    assert len(spans) == expected
    logs = receiver.wait_for_logs(count=1, service=service_name)
    assert [r.body for r in logs] == ["made 5 spans"]
    assert logs[0].trace_id == by_name(spans)["main"].trace_id


def test_a_hanging_collector_holds_the_exit_no_longer_than_the_bound(own_receiver, service_name):
    own_receiver.behave(hang_seconds=30)
    env = agent_env(own_receiver, service_name, OTEL_PYTHON_EXIT_TIMEOUT=1500, OTEL_BSP_SCHEDULE_DELAY=50)
    started = time.monotonic()
    result = run(otel_run("python", SCRIPTS / "reliability_exit.py", "normal"), env=env, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 0
    assert elapsed < 10, elapsed  # 1.5 s bound plus start-up; the collector would hold it 30 s
    assert re.search(r"traces \(pid \d+\): created 6, exported 0, dropped 6", result.stderr)
    own_receiver.stop()  # ends the hang: the request still open is never accepted
    assert not own_receiver.spans(service=service_name)


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_children_join_the_trace_and_flush_at_exit(receiver, service_name, method):
    """A Process and a Pool (close + join: fork workers end with os._exit(), where
    atexit never runs) each make spans; all arrive, children of the parent's span."""
    result = run(otel_run("python", SCRIPTS / "reliability_multiprocessing.py", method),
                 env=agent_env(receiver, service_name, **LATE), timeout=120)
    assert result.returncode == 0, result.stderr
    pids = json.loads(result.stdout)
    spans = receiver.wait_for_spans(count=6, service=service_name)
    assert len(spans) == 6
    parent = by_name(spans)["mp-parent"]
    work = [s for s in spans if s.name.startswith("work ")]
    assert sorted(s.name for s in work) == ["work 0", "work 1", "work 2", "work 3", "work process"]
    for span in work:
        assert (span.trace_id, span.parent_span_id) == (parent.trace_id, parent.span_id), span
    assert {s.resource["process.pid"] for s in work} == set(pids["children"])
    assert parent.resource["process.pid"] == pids["parent"] not in pids["children"]


def test_child_processes_join_the_trace_in_every_way_they_start(receiver, service_name):
    ways = ["subprocess", "subprocess-env", "spawnv", "posix_spawn", "execv"]
    result = run(otel_run("python", SCRIPTS / "reliability_children.py", *ways),
                 env=agent_env(receiver, service_name, **LATE), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    children = {c["way"]: c for c in lines if "way" in c}
    reports = {c["name"]: c for c in lines if "traceparent" in c}
    # Every child saw the carrier, baggage included (but for the caller who passed a
    # TRACEPARENT of its own); exec kept the pid and replaced the process.
    assert sorted(reports) == sorted(ways)
    assert all(reports[w]["baggage"] == {"tenant": "acme"} for w in ways if w != "subprocess-env")
    assert reports["subprocess-env"]["traceparent"] == "00-%s-%s-01" % ("1" * 32, "2" * 16)
    assert reports["execv"]["pid"] == children["execv"]["parent"]
    spans = receiver.wait_for_spans(count=2 * len(ways), service=service_name)
    named = by_name(spans)
    for way in ways:
        child = named[way]
        if way == "subprocess-env":
            # The caller's env set a TRACEPARENT of its own: passed on as the caller chose.
            assert (child.trace_id, child.parent_span_id) == ("1" * 32, "2" * 16)
            continue
        parent = named["parent " + way] if way != "execv" else None
        if parent is not None:
            assert (child.trace_id, child.parent_span_id) == (parent.trace_id, parent.span_id), way
    # exec replaced the process inside its span: what was queued before was flushed first.
    assert "before-children" in named
    execv = named["execv"]
    assert execv.trace_id not in {named["parent " + w].trace_id for w in ways if w != "execv"}


def test_a_process_started_with_traceparent_continues_that_trace(receiver, service_name):
    env = agent_env(receiver, service_name, TRACEPARENT="00-%s-%s-01" % (TRACE_ID, PARENT_ID),
                    TRACESTATE="vendor=opaque", BAGGAGE="job=nightly", **LATE)
    result = run(otel_run("python", SCRIPTS / "reliability_child.py", "ci-step"), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["baggage"] == {"job": "nightly"}
    (span,) = receiver.wait_for_spans(count=1, service=service_name)
    assert (span.name, span.trace_id, span.parent_span_id, span.trace_state) == (
        "ci-step", TRACE_ID, PARENT_ID, "vendor=opaque")


@pytest.mark.parametrize("value", ["", "garbage", "00-%s-%s-01" % ("0" * 32, PARENT_ID), "ff-" + "a" * 52])
def test_an_invalid_traceparent_starts_a_new_trace(receiver, service_name, value):
    env = agent_env(receiver, service_name, TRACEPARENT=value, BAGGAGE="%%%", **LATE)
    result = run(otel_run("python", SCRIPTS / "reliability_child.py", "fresh"), env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    (span,) = receiver.wait_for_spans(count=1, service=service_name)
    assert span.parent_span_id == "" and span.trace_id != TRACE_ID


def test_context_follows_jobs_into_thread_pools_and_asyncio_tasks(receiver, service_name):
    result = run(otel_run("python", SCRIPTS / "reliability_context.py"),
                 env=agent_env(receiver, service_name, **LATE))
    assert result.returncode == 0, result.stderr
    # Only the span travels: a value the pool's initializer set is still seen by the jobs.
    assert json.loads(result.stdout) == {"pool_values": ["set by the pool"]}
    spans = receiver.wait_for_spans(count=10, service=service_name)
    outer = by_name(spans)["outer"]
    inside = [s for s in spans if s.name not in ("outer", "no parent")]
    assert sorted(s.name for s in inside) == ["executor job", "map 0", "map 1", "submit 0", "submit 1",
                                              "submit 2", "task 1", "task 2"]
    for span in inside:
        assert (span.trace_id, span.parent_span_id) == (outer.trace_id, outer.span_id), span
    lonely = by_name(spans)["no parent"]
    assert lonely.parent_span_id == "" and lonely.trace_id != outer.trace_id

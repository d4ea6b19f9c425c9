"""Metrics over OTLP/HTTP, end to end: scripts under otel-run record, the test receiver
decodes (opentelemetry-proto), and the counts and sums are exactly what the script did,
in cumulative and in delta temporality, across periodic exports, forks and exit."""

import json
import time
from collections import defaultdict

import pytest

from support.agent import agent_env, otel_run
from support.processes import TESTS_DIR, run
from support.receiver import METRICS_PATH

SCRIPT = TESTS_DIR / "scripts" / "metrics_work.py"


def run_work(env, *args, timeout=60):
    result = run(otel_run("python", SCRIPT, *args), env=env, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result


def by_process(points):
    found = defaultdict(list)
    for point in points:
        found[point.resource["service.instance.id"]].append(point)
    return found


@pytest.mark.parametrize("protocol, compression, temporality", [
    ("http/protobuf", "none", "cumulative"),
    ("http/json", "gzip", "delta"),
])
def test_counts_and_sums_equal_what_the_script_did(receiver, service_name, protocol, compression, temporality):
    env = agent_env(receiver, service_name, OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
                    OTEL_EXPORTER_OTLP_COMPRESSION=compression, OTEL_METRIC_EXPORT_INTERVAL="250",
                    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=temporality)
    done, result = run_work(env, "record", "1.2")
    assert result.stderr == ""
    receiver.wait_for_spans(count=12, service=service_name)
    orders = receiver.wait_for_metric_points(service=service_name, name="work.orders")
    latency = receiver.metric_points(service=service_name, name="work.latency")
    queue = receiver.metric_points(service=service_name, name="work.queue")
    assert len({p.time_ns for p in orders}) >= 2, "expected periodic exports and the final one"
    assert {p.temporality for p in orders + latency} == {temporality}
    assert {p.temporality for p in queue} == {"cumulative"}  # up-down counters stay cumulative
    assert all(p.monotonic for p in orders) and not any(p.monotonic for p in queue)

    if temporality == "cumulative":
        final = {p.attributes["payment"]: p.value for p in orders if p.time_ns == max(q.time_ns for q in orders)}
        assert final == done["orders"]
        assert len({p.start_ns for p in orders if p.attributes["payment"] == "card"}) == 1
        last = max(latency, key=lambda p: p.time_ns)
        assert (last.count, pytest.approx(last.sum)) == (done["latency_count"], done["latency_sum"])
        assert (last.min, last.max) == (0.005, 2.0)
    else:
        totals = defaultdict(int)
        for point in orders:
            totals[point.attributes["payment"]] += point.value
        assert dict(totals) == done["orders"]  # every delta once: nothing lost, nothing twice
        assert sum(p.count for p in latency) == done["latency_count"]
        assert sum(p.sum for p in latency) == pytest.approx(done["latency_sum"])
        for series in ("card", "cash"):
            spans = sorted((p.start_ns, p.time_ns) for p in orders if p.attributes["payment"] == series)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "delta intervals overlap"
    assert max(queue, key=lambda p: p.time_ns).value == done["queue"]
    histogram = latency[0]
    assert histogram.bounds == [0.01, 0.1, 1.0] and histogram.unit == "s"


def test_exemplars_point_at_spans_that_were_exported(receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_METRIC_EXPORT_INTERVAL="60000")
    done, _ = run_work(env, "record", "0.1")
    spans = receiver.wait_for_spans(count=12, service=service_name)
    exported = {(s.trace_id, s.span_id) for s in spans}
    (latency,) = receiver.wait_for_metric_points(service=service_name, name="work.latency")
    exemplars = [e for e in latency.exemplars]
    assert len(exemplars) == 4  # one per bucket that was hit: the last measurement in it
    assert {(e.trace_id, e.span_id) for e in exemplars} <= exported
    assert {e.value for e in exemplars} == {0.005, 0.05, 0.5, 2.0}
    orders = receiver.metric_points(service=service_name, name="work.orders")
    assert all(len(p.exemplars) == 1 and (p.exemplars[0].trace_id, p.exemplars[0].span_id) in exported
               for p in orders)
    assert sorted(map(list, exported)) == sorted(done["spans"])


def test_exemplars_follow_the_filter(receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_TRACES_SAMPLER="always_off")
    run_work(env, "record", "0.1")
    (latency,) = receiver.wait_for_metric_points(service=service_name, name="work.latency")
    assert latency.count == 12 and latency.exemplars == []  # trace_based: nothing was sampled
    assert receiver.spans(service=service_name) == []

    other = service_name + "-on"
    done, _ = run_work(agent_env(receiver, other, OTEL_TRACES_SAMPLER="always_off",
                                 OTEL_METRICS_EXEMPLAR_FILTER="always_on"), "record", "0.1")
    (latency,) = receiver.wait_for_metric_points(service=other, name="work.latency")
    # always_on: unsampled spans' measurements qualify, each exemplar naming its own span.
    assert len(latency.exemplars) == 4
    assert {(e.trace_id, e.span_id) for e in latency.exemplars} <= set(map(tuple, done["spans"]))


def test_forked_children_start_empty_and_nothing_is_counted_twice(receiver, service_name):
    done, _ = run_work(agent_env(receiver, service_name), "fork")
    orders = receiver.wait_for_metric_points(
        lambda points: len(by_process(points)) == 3, service=service_name, name="work.orders")
    processes = by_process(orders)
    values = sorted((p.resource["process.pid"], p.attributes["payment"], p.value) for ps in processes.values()
                    for p in ps)
    parent = [v for v in values if v[1] == "parent"]
    children = [v for v in values if v[1] == "child"]
    assert [v[2] for v in parent] == [5]
    assert sorted(v[0] for v in children) == sorted(done["children"]) and [v[2] for v in children] == [5, 5]
    assert len(values) == 3  # no child reports the parent's series


def test_no_metrics_request_from_a_process_that_records_none(own_receiver, service_name):
    env = agent_env(own_receiver, service_name)
    assert run(otel_run("python", "-c", "pass"), env=env).returncode == 0
    run_work(env, "idle", "0")
    own_receiver.wait_for_logs(count=1, service=service_name)
    assert [r.path for r in own_receiver.requests if r.path == METRICS_PATH] == []


def test_runtime_metrics_once_a_process_has_lived_an_export_interval(receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_METRIC_EXPORT_INTERVAL="300")
    run_work(env, "idle", "1.5")
    points = receiver.wait_for_metric_points(service=service_name)
    names = {p.metric: p for p in points}
    assert {"process.cpu.time", "process.cpu.utilization", "process.memory.usage", "process.memory.virtual",
            "process.thread.count", "process.unix.file_descriptor.count", "process.context_switches",
            "cpython.gc.collections", "cpython.gc.collected_objects",
            "cpython.gc.uncollectable_objects"} <= set(names)
    assert names["process.memory.usage"].value > 1 << 20
    # While it ran, the main thread and the agent's export threads (at the final export only one may be left).
    assert max(p.value for p in points if p.metric == "process.thread.count") >= 2
    assert {p.attributes["cpu.mode"] for p in points if p.metric == "process.cpu.time"} == {"user", "system"}
    assert {p.attributes["cpython.gc.generation"] for p in points if p.metric == "cpython.gc.collections"} == {0, 1, 2}
    assert all(0 <= p.value <= 1 for p in points if p.metric == "process.cpu.utilization")
    assert {p.scope_name for p in points} == {"otel_autoinstrument.runtime"}


def test_metrics_none_records_nothing_and_starts_no_thread(own_receiver, service_name):
    env = agent_env(own_receiver, service_name, OTEL_METRICS_EXPORTER="none")
    done, _ = run_work(env, "threads")
    assert "otel-export-metrics" not in done["threads"]
    assert [r.path for r in own_receiver.requests if r.path == METRICS_PATH] == []
    done, _ = run_work(agent_env(own_receiver, service_name), "threads")
    assert "otel-export-metrics" in done["threads"]


def test_a_hanging_collector_holds_the_exit_no_longer_than_the_bound(own_receiver, service_name):
    own_receiver.behave(hang_seconds=30)
    env = agent_env(own_receiver, service_name, OTEL_PYTHON_EXIT_TIMEOUT="1000", OTEL_TRACES_EXPORTER="none")
    started = time.monotonic()
    _, result = run_work(env, "record", "0", timeout=20)
    seconds = time.monotonic() - started
    assert "metrics (pid" in result.stderr and "not exported before the exit bound" in result.stderr
    assert seconds < 5, seconds  # the 1 s bound plus start-up, never the collector's 30 s


def test_console_prints_a_table(service_name):
    env = agent_env(None, service_name, OTEL_METRICS_EXPORTER="console", OTEL_TRACES_EXPORTER="none",
                    OTEL_LOGS_EXPORTER="none")
    result = run(otel_run("python", SCRIPT, "record", "0"), env=env)
    assert result.returncode == 0 and result.stderr == ""
    table = [line for line in result.stdout.splitlines() if line.startswith("metrics  pid")]
    assert len(table) == 1
    assert any(line.strip().startswith("work.orders") and "{payment=card}  8" in line
               for line in result.stdout.splitlines())
    assert any(line.strip().startswith("work.latency") and "count=12" in line for line in result.stdout.splitlines())

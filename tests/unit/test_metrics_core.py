"""The metrics core in isolation: series, the cardinality limit, temporality, exemplars,
observable instruments, duplicate instruments, threads and fork."""

import math
import os
import sys
import threading

import pytest

from otel_autoinstrument.metrics import series as series_module
from otel_autoinstrument.metrics.collector import Collector, temporality_preference
from otel_autoinstrument.metrics.data import CUMULATIVE, DELTA, HISTOGRAM
from otel_autoinstrument.metrics.instruments import DEFAULT_BOUNDARIES
from otel_autoinstrument.metrics.provider import MeterProvider
from otel_autoinstrument.metrics.series import EXEMPLARS_ALWAYS_ON, EXEMPLARS_OFF
from otel_autoinstrument.trace.context import attach, detach
from otel_autoinstrument.trace.span import NonRecordingSpan, SpanContext

HTTP_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


@pytest.fixture
def provider():
    made = MeterProvider(cardinality_limit=5)
    yield made
    series_module.process.on_fork.remove(made._after_fork)


def points(collector, name):
    return [p for m in collector.collect() if m.name == name for p in m.points]


def metric(collector, name):
    return next(m for m in collector.collect() if m.name == name)


def sampled(trace_id=0xAB, span_id=0xCD):
    return NonRecordingSpan(SpanContext(trace_id, span_id, 1))


def test_histogram_buckets_are_upper_inclusive_with_the_default_boundaries(provider):
    histogram = provider.get_meter("t").histogram("h", "ms")
    assert histogram.bounds == DEFAULT_BOUNDARIES
    for value in (0, 5, 5.0001, 10000, 10001):
        histogram.record(value)
    (point,) = points(Collector(provider), "h")
    assert point.count == 5 and point.sum == pytest.approx(20011.0001)
    assert point.bucket_counts[0] == 1  # (-inf, 0]
    assert point.bucket_counts[1] == 1  # (0, 5]
    assert point.bucket_counts[2] == 1  # (5, 10]
    assert point.bucket_counts[-2] == 1 and point.bucket_counts[-1] == 1  # (7500, 10000], (10000, +inf)
    assert sum(point.bucket_counts) == point.count


def test_advisory_boundaries_and_invalid_ones(provider, capsys):
    meter = provider.get_meter("t")
    assert meter.histogram("a", boundaries=HTTP_BOUNDS).bounds == tuple(float(b) for b in HTTP_BOUNDS)
    assert meter.histogram("b", boundaries=[1, 1, 2]).bounds == DEFAULT_BOUNDARIES
    assert meter.histogram("c", boundaries=[1, float("nan")]).bounds == DEFAULT_BOUNDARIES
    assert "bucket boundaries" in capsys.readouterr().err


def test_refused_values_are_not_recorded(provider, capsys):
    meter = provider.get_meter("t")
    counter, histogram = meter.counter("c"), meter.histogram("h")
    counter.add(-1)
    counter.add("x")
    histogram.record(-0.5)
    histogram.record(float("nan"))
    counter.add(2)
    histogram.record(1)
    collector = Collector(provider)
    assert [p.value for p in points(collector, "c")] == [2]
    assert [p.count for p in points(collector, "h")] == [1]
    err = capsys.readouterr().err
    assert "negative or NaN increment" in err and "not a number" in err and "histogram value" in err


def test_cardinality_limit_overflow_keeps_totals_and_warns_once(provider, capsys):
    counter = provider.get_meter("t").counter("requests")
    for i in range(8):
        counter.add(1, {"user": str(i)})
        counter.add(1, {"user": str(i)})
    found = points(Collector(provider), "requests")
    assert len(found) == 6  # the limit (5) plus the overflow series
    overflow = [p for p in found if p.attributes == {"otel.metric.overflow": True}]
    assert len(overflow) == 1 and overflow[0].value == 6  # 3 attribute sets x 2 measurements
    assert sum(p.value for p in found) == 16
    assert capsys.readouterr().err.count("OTEL_PYTHON_METRICS_CARDINALITY_LIMIT") == 1


def test_the_limit_itself_never_overflows(provider):
    counter = provider.get_meter("t").counter("requests")
    for i in range(5):
        counter.add(1, {"user": str(i)})
    assert {p.attributes.get("user") for p in points(Collector(provider), "requests")} == {"0", "1", "2", "3", "4"}


def test_cumulative_points_repeat_their_start_and_keep_unchanged_series(provider):
    counter = provider.get_meter("t").counter("c")
    counter.add(1, {"a": 1})
    collector = Collector(provider)
    first = points(collector, "c")
    counter.add(2, {"a": 1})
    second = points(collector, "c")
    third = points(collector, "c")
    assert [p.value for p in (first + second + third)] == [1, 3, 3]
    assert first[0].start_ns == second[0].start_ns == third[0].start_ns
    assert first[0].time_ns < second[0].time_ns < third[0].time_ns
    assert metric(collector, "c").temporality == CUMULATIVE


def test_delta_points_advance_and_leave_out_unchanged_series(provider):
    meter = provider.get_meter("t")
    counter, histogram = meter.counter("c"), meter.histogram("h", boundaries=(1, 2))
    collector = Collector(provider, temporality_preference("delta"), owns_window=True)
    counter.add(5, {"a": 1})
    counter.add(1, {"a": 2})
    histogram.record(0.5)
    histogram.record(3)
    first = collector.collect()
    counter.add(2, {"a": 1})
    histogram.record(1.5)
    second = collector.collect()
    by_name = {m.name: m for m in second}
    assert by_name["c"].temporality == DELTA and by_name["h"].temporality == DELTA
    assert [(p.attributes, p.value) for p in by_name["c"].points] == [({"a": 1}, 2)]
    (hist,) = by_name["h"].points
    assert (hist.count, hist.sum, hist.bucket_counts, hist.min, hist.max) == (1, 1.5, [0, 1, 0], 1.5, 1.5)
    first_time = next(m for m in first if m.name == "c").points[0].time_ns
    assert by_name["c"].points[0].start_ns == first_time == hist.start_ns
    assert collector.collect() == []


@pytest.mark.parametrize("preference, expected", [
    ("cumulative", {"counter": CUMULATIVE, "updown": CUMULATIVE, "hist": CUMULATIVE, "ocounter": CUMULATIVE,
                    "oupdown": CUMULATIVE}),
    ("delta", {"counter": DELTA, "updown": CUMULATIVE, "hist": DELTA, "ocounter": DELTA, "oupdown": CUMULATIVE}),
    ("lowmemory", {"counter": DELTA, "updown": CUMULATIVE, "hist": DELTA, "ocounter": CUMULATIVE,
                   "oupdown": CUMULATIVE}),
])
def test_temporality_preference_per_instrument_kind(provider, preference, expected):
    meter = provider.get_meter("t")
    meter.counter("counter").add(1)
    meter.up_down_counter("updown").add(-1)
    meter.histogram("hist").record(1)
    meter.observable_counter("ocounter", [lambda: [(3, None)]])
    meter.observable_up_down_counter("oupdown", [lambda: [(-3, None)]])
    meter.observable_gauge("ogauge", [lambda: [(7.5, {"x": "y"})]])
    found = {m.name: m for m in Collector(provider, temporality_preference(preference)).collect()}
    assert {name: found[name].temporality for name in expected} == expected
    assert found["ogauge"].kind == "gauge" and found["ogauge"].points[0].value == 7.5
    assert found["counter"].monotonic and not found["updown"].monotonic


def test_observable_counter_delta_is_the_difference_of_observations(provider):
    total = [10]
    provider.get_meter("t").observable_counter("cpu", [lambda: [(total[0], {"mode": "user"})]])
    collector = Collector(provider, temporality_preference("delta"))
    assert [p.value for p in points(collector, "cpu")] == [10]
    total[0] = 14
    assert [p.value for p in points(collector, "cpu")] == [4]
    assert points(collector, "cpu") == []  # nothing new


def test_a_raising_callback_is_reported_once_and_the_rest_collected(provider, capsys):
    def broken():
        raise RuntimeError("boom")

    meter = provider.get_meter("t")
    meter.observable_gauge("broken", [broken])
    meter.observable_gauge("fine", [lambda: [(1, None)]])
    collector = Collector(provider)
    for _ in range(2):
        assert [m.name for m in collector.collect()] == ["fine"]
    assert capsys.readouterr().err.count("RuntimeError: boom") == 1


def test_observable_cardinality_keeps_the_first_observed(provider):
    provider.get_meter("t").observable_up_down_counter(
        "queues", [lambda: [(1, {"queue": str(i)}) for i in range(9)]])
    found = points(Collector(provider), "queues")
    assert len(found) == 6
    assert {p.attributes.get("queue") for p in found[:5]} == {"0", "1", "2", "3", "4"}
    assert found[5].attributes == {"otel.metric.overflow": True} and found[5].value == 4


def test_same_instrument_twice_is_one_instrument_conflicts_warn(provider, capsys):
    meter = provider.get_meter("t")
    first = meter.counter("orders", "{order}", "Orders")
    assert meter.counter("orders", "{order}", "Orders") is first
    other = meter.histogram("orders")
    assert other is not first
    assert "created twice" in capsys.readouterr().err
    assert provider.get_meter("other").counter("orders", "{order}", "Orders") is not first


@pytest.mark.parametrize("name", ["", "1abc", "a b", "x" * 256, "caf\u00e9"])
def test_invalid_instrument_names_record_nothing(provider, name, capsys):
    instrument = provider.get_meter("t").counter(name)
    instrument.add(1)
    assert Collector(provider).collect() == []
    assert "not created" in capsys.readouterr().err


def test_exemplars_trace_based_only_from_sampled_spans(provider):
    histogram = provider.get_meter("t").histogram("h", boundaries=(1, 2))
    unsampled = NonRecordingSpan(SpanContext(0x1, 0x2, 0))
    histogram.record(0.5, span=unsampled)
    histogram.record(1.5, span=sampled(0xAA, 0xBB))
    token = attach(sampled(0xCC, 0xDD))
    try:
        histogram.record(3)  # the current span
    finally:
        detach(token)
    histogram.record(0.7)  # no span at all
    collector = Collector(provider, owns_window=True)
    (point,) = points(collector, "h")
    assert sorted((e.value, e.trace_id, e.span_id) for e in point.exemplars) == [(1.5, 0xAA, 0xBB), (3.0, 0xCC, 0xDD)]
    (again,) = points(collector, "h")
    assert again.exemplars == []  # each window has its own exemplars


def test_exemplars_always_on_and_always_off():
    on, off = MeterProvider(exemplar_mode=EXEMPLARS_ALWAYS_ON), MeterProvider(exemplar_mode=EXEMPLARS_OFF)
    try:
        for made in (on, off):
            made.get_meter("t").counter("c").add(1)
            made.get_meter("t").histogram("h").record(1)
        on_points = [p for m in Collector(on, owns_window=True).collect() for p in m.points]
        assert all(len(p.exemplars) == 1 and p.exemplars[0].trace_id == 0 for p in on_points)
        assert all(not p.exemplars for m in Collector(off, owns_window=True).collect() for p in m.points)
    finally:
        for made in (on, off):
            series_module.process.on_fork.remove(made._after_fork)


def test_histogram_min_max_are_cumulative_for_the_exporting_collector(provider):
    histogram = provider.get_meter("t").histogram("h")
    collector = Collector(provider, owns_window=True)
    histogram.record(4)
    histogram.record(9)
    first = points(collector, "h")[0]
    histogram.record(6)
    second = points(collector, "h")[0]
    assert (first.min, first.max) == (4, 9) and (second.min, second.max) == (4, 9)
    reader = points(Collector(provider), "h")[0]
    assert reader.min is None and reader.max is None  # a collector that owns no window knows none


def test_concurrent_recording_loses_nothing(provider):
    histogram = provider.get_meter("t").histogram("h", boundaries=(1,)).bind({"route": "/x"})
    counter = provider.get_meter("t").counter("c").bind()

    def work():
        for _ in range(20000):
            histogram.record(0.5)
            counter.add(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(previous)
    collector = Collector(provider)
    (hist,) = points(collector, "h")
    assert hist.count == 80000 and hist.bucket_counts == [80000, 0] and math.isclose(hist.sum, 40000)
    assert points(collector, "c")[0].value == 80000


def test_a_bare_fork_is_noticed_by_pid_and_the_child_starts_empty(provider, monkeypatch):
    """uWSGI forks without Python's at-fork hooks: under uWSGI the pid check on the next
    update resets (elsewhere updates make no system call: the at-fork hook does it)."""
    bound = provider.get_meter("t").counter("c").bind({"a": 1})
    bound.add(5)
    monkeypatch.setattr(series_module.process, "watch_pid", True)  # as under uWSGI
    monkeypatch.setattr(series_module.process, "pid", -1)  # as if this process had been forked without hooks
    bound.add(2)
    assert [p.value for p in points(Collector(provider), "c")] == [2]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_a_forked_child_starts_empty_and_the_parent_keeps_its_values(provider):
    bound = provider.get_meter("t").histogram("h").bind({"a": 1})
    bound.record(3)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave without cleanup
        try:
            before = points(Collector(provider), "h")
            bound.record(1)
            after = points(Collector(provider), "h")
            os.write(write, ("%d %d %s" % (len(before), after[0].count, after[0].sum)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as fh:
        assert fh.read() == "0 1 1.0"
    (point,) = points(Collector(provider), "h")
    assert (point.count, point.sum) == (1, 3.0)


def test_attribute_sets_that_clean_to_the_same_are_one_series(provider):
    """None values, objects and non-string keys are left out of a point's attributes: the
    sets that differ only by them are one series, and use one place under the limit."""
    counter = provider.get_meter("cleaned").counter("jobs")
    for attributes in ({}, {"tenant": None}, {"obj": object()}, {1: "x"}, {"tenant": None, 2: 3}, None):
        counter.add(1, attributes)
    counter.add(1, {"tenant": "a"})
    provider.get_meter("cleaned").observable_gauge(
        "level", [lambda: [(1, {}), (2, {"tenant": None}), (3, {"tenant": "a"})]])
    collector = Collector(provider)
    found = {tuple(sorted(p.attributes.items())): p.value for p in points(collector, "jobs")}
    assert found == {(): 6, (("tenant", "a"),): 1}  # five more attribute sets would overflow the limit of 5
    levels = {tuple(sorted(p.attributes.items())): p.value for p in points(collector, "level")}
    assert levels == {(): 2, (("tenant", "a"),): 3}  # one point per exported set, the last observed

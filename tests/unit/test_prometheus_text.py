"""The Prometheus text exposition: the specification's name, unit and label translation,
histograms as _bucket/_sum/_count, target_info, and how processes' snapshots add up."""

import pytest

from otel_autoinstrument.metrics.data import CUMULATIVE, GAUGE, HISTOGRAM, SUM, HistogramPoint, Metric, NumberPoint
from otel_autoinstrument.metrics.prometheus import text
from otel_autoinstrument.metrics.prometheus.snapshot import Merge, from_document, to_document
from otel_autoinstrument.trace.span import Scope

SCOPE = Scope("otel_autoinstrument.flask", "1.0")


@pytest.mark.parametrize("name, unit, kind, monotonic, expected", [
    ("http.server.request.duration", "s", HISTOGRAM, False, ("http_server_request_duration_seconds", "histogram")),
    ("process.cpu.time", "s", SUM, True, ("process_cpu_time_seconds_total", "counter")),
    ("http.server.active_requests", "{request}", SUM, False, ("http_server_active_requests", "gauge")),
    ("process.memory.usage", "By", SUM, False, ("process_memory_usage_bytes", "gauge")),
    ("process.cpu.utilization", "1", GAUGE, False, ("process_cpu_utilization_ratio", "gauge")),
    ("cpython.gc.collections", "{collection}", SUM, True, ("cpython_gc_collections_total", "counter")),
    ("requests_total", "", SUM, True, ("requests_total", "counter")),
    ("download.speed", "By/s", GAUGE, False, ("download_speed_bytes_per_second", "gauge")),
    ("latency_seconds", "s", HISTOGRAM, False, ("latency_seconds", "histogram")),
    ("9lives..odd-name", "packets", SUM, True, ("_9lives_odd_name_packets_total", "counter")),
    ("ratio", "1", SUM, True, ("ratio_total", "counter")),
])
def test_metric_names(name, unit, kind, monotonic, expected):
    assert text.metric_name(name, unit, kind, monotonic) == expected


def test_labels_are_translated_and_colliding_keys_joined():
    found = text.labels({"http.route": "/a", "http_route": "/b", "ok": True, "tags": ("x", "y"), "n": 3},
                        (("otel_scope_name", "s"), ("otel_scope_version", "")))
    assert found == {"http_route": "/a;/b", "ok": "true", "tags": '["x","y"]', "n": "3", "otel_scope_name": "s"}


def test_histogram_and_target_info_lines():
    metric = Metric("http.server.request.duration", "Duration of HTTP server requests.", "s", HISTOGRAM, False,
                    CUMULATIVE, SCOPE,
                    [HistogramPoint({"http.route": '/say/"hi"\n'}, 0, 0, 4, 1.5, [1, 2, 1], (0.1, 1))])
    out = text.render([metric], {"service.name": "shop", "process.pid": 7}).splitlines()
    assert out[:3] == ["# HELP target_info Target metadata", "# TYPE target_info gauge",
                       'target_info{process_pid="7",service_name="shop"} 1']
    labels = 'http_route="/say/\\"hi\\"\\n",otel_scope_name="otel_autoinstrument.flask",otel_scope_version="1.0"'
    assert out[3:] == [
        "# HELP http_server_request_duration_seconds Duration of HTTP server requests.",
        "# TYPE http_server_request_duration_seconds histogram",
        'http_server_request_duration_seconds_bucket{%s,le="0.1"} 1' % labels,
        'http_server_request_duration_seconds_bucket{%s,le="1.0"} 3' % labels,
        'http_server_request_duration_seconds_bucket{%s,le="+Inf"} 4' % labels,
        "http_server_request_duration_seconds_sum{%s} 1.5" % labels,
        "http_server_request_duration_seconds_count{%s} 4" % labels,
    ]


def test_a_name_taken_by_another_type_is_dropped_with_a_warning(capsys):
    gauge = Metric("jobs", "", "", GAUGE, False, 0, SCOPE, [NumberPoint({}, 0, 0, 1.0)])
    updown = Metric("jobs", "", "", SUM, False, CUMULATIVE, Scope("other"), [NumberPoint({}, 0, 0, 2)])
    histogram = Metric("jobs", "", "", HISTOGRAM, False, CUMULATIVE, Scope("third"),
                       [HistogramPoint({}, 0, 0, 1, 1.0, [1], ())])
    lines = text.render([gauge, updown, histogram]).splitlines()
    assert lines == ["# TYPE jobs gauge", 'jobs{otel_scope_name="otel_autoinstrument.flask",otel_scope_version="1.0"} 1.0',
                     'jobs{otel_scope_name="other"} 2']
    assert "dropped from the Prometheus endpoint" in capsys.readouterr().err


def test_special_values():
    assert [text.number(v) for v in (float("inf"), float("-inf"), float("nan"), 2, 0.25, True)] == [
        "+Inf", "-Inf", "NaN", "2", "0.25", "1"]


def _process(requests, active, cpu, rss_time=1):
    return [
        Metric("http.server.request.duration", "", "s", HISTOGRAM, False, CUMULATIVE, SCOPE,
               [HistogramPoint({"http.route": "/a"}, 0, 0, requests, requests * 0.5, [requests, 0], (1.0,))]),
        Metric("http.server.active_requests", "", "{request}", SUM, False, CUMULATIVE, SCOPE,
               [NumberPoint({}, 0, 0, active)]),
        Metric("process.cpu.utilization", "", "1", GAUGE, False, 0, Scope("rt"), [NumberPoint({}, 0, rss_time, cpu)]),
        Metric("app.mood", "", "", GAUGE, False, 0, Scope("app"), [NumberPoint({}, 0, rss_time, requests)]),
    ]


def test_merge_of_live_and_exited_processes():
    merge = Merge()
    merge.add(from_document(to_document(_process(3, 1, 0.25, rss_time=5))))
    merge.add(from_document(to_document(_process(4, 2, 0.5, rss_time=9))))
    merge.add(from_document(to_document(_process(10, 7, 0.9, rss_time=99))), live=False)  # an exited worker
    found = {m.name: m.points for m in merge.metrics()}
    (duration,) = found["http.server.request.duration"]
    assert (duration.count, duration.sum, duration.bucket_counts) == (17, 8.5, [17, 0])  # counts stay
    assert found["http.server.active_requests"][0].value == 3  # live processes only
    assert found["process.cpu.utilization"][0].value == 0.75  # the group's share: summed, live only
    assert found["app.mood"][0].value == 4  # any other gauge: the latest value of a live process


def test_histograms_with_other_boundaries_are_not_added(capsys):
    merge = Merge()
    merge.add([Metric("h", "", "s", HISTOGRAM, False, CUMULATIVE, SCOPE,
                      [HistogramPoint({}, 0, 0, 1, 1.0, [1, 0], (2.0,))])])
    merge.add([Metric("h", "", "s", HISTOGRAM, False, CUMULATIVE, SCOPE,
                      [HistogramPoint({}, 0, 0, 5, 5.0, [5, 0], (3.0,))])])
    (point,) = merge.metrics()[0].points
    assert point.count == 1
    assert "different bucket boundaries" in capsys.readouterr().err

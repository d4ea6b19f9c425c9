"""The metrics encoders, decoded by opentelemetry-proto (the receiver's decoder): the
hand-written protobuf and the JSON mapping say the same thing, field by field."""

import pytest

from otel_autoinstrument.export import encode_metrics_json, encode_metrics_proto
from otel_autoinstrument.metrics.data import (
    CUMULATIVE, DELTA, GAUGE, HISTOGRAM, SUM, Exemplar, HistogramPoint, Metric, NumberPoint)
from otel_autoinstrument.resource import Resource
from otel_autoinstrument.trace.span import Scope

from support.receiver import JSON, METRICS_PATH, PROTOBUF, _SIGNALS, decode_body, metric_points_of

RESOURCE = Resource({"service.name": "shop", "process.pid": 42, "team": ["a", "b"]})
TRACE, SPAN = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331


def sample_metrics():
    scope = Scope("otel_autoinstrument.flask", "1.2")
    return [
        Metric("http.server.request.duration", "Duration of HTTP server requests.", "s", HISTOGRAM, False,
               DELTA, scope, [HistogramPoint({"http.request.method": "GET", "http.route": "/users/<id>",
                                              "http.response.status_code": 200}, 10, 20, 3, 0.0155, [1, 2, 0],
                                             (0.005, 0.01), 0.0, 0.01, [Exemplar(0.0, 15, TRACE, SPAN)])]),
        Metric("http.server.active_requests", "", "{request}", SUM, False, CUMULATIVE, scope,
               [NumberPoint({"url.scheme": "http"}, 10, 20, 0)]),
        Metric("shop.orders", "", "{order}", SUM, True, CUMULATIVE, Scope("app"),
               [NumberPoint({"big": 1 << 70, "neg": -5, "ok": True, "no": False, "pi": 3.5, "tags": ("x", "y")},
                            10, 20, 7, [Exemplar(2, 18)]),
                NumberPoint({}, 10, 20, 2.5), NumberPoint({"x": "\udcff"}, 10, 20, 1 << 64)]),
        Metric("process.cpu.utilization", "", "1", GAUGE, False, 0, Scope("otel_autoinstrument.runtime"),
               [NumberPoint({"cpu.mode": "user"}, 0, 20, 0.25)]),
    ]


@pytest.fixture(params=["protobuf", "json"])
def decoded(request):
    if request.param == "protobuf":
        body = encode_metrics_proto.encode_metrics(RESOURCE, sample_metrics())
        return metric_points_of(decode_body(_SIGNALS[METRICS_PATH], PROTOBUF, body))
    body = encode_metrics_json.encode_metrics(RESOURCE, sample_metrics())
    return metric_points_of(decode_body(_SIGNALS[METRICS_PATH], JSON, body))


def test_histogram_point(decoded):
    (point,) = [p for p in decoded if p.metric == "http.server.request.duration"]
    assert (point.kind, point.unit, point.temporality) == ("histogram", "s", "delta")
    assert point.attributes == {"http.request.method": "GET", "http.route": "/users/<id>",
                                "http.response.status_code": 200}
    assert (point.start_ns, point.time_ns, point.count, point.sum) == (10, 20, 3, 0.0155)
    assert point.bucket_counts == [1, 2, 0] and point.bounds == [0.005, 0.01]
    assert (point.min, point.max) == (0.0, 0.01)  # a zero min is present, not "unset"
    assert point.exemplars == [(0.0, 15, "%032x" % TRACE, "%016x" % SPAN)]
    assert point.resource == {"service.name": "shop", "process.pid": 42, "team": ["a", "b"]}
    assert point.scope_name == "otel_autoinstrument.flask"


def test_sum_points_keep_int_and_double_and_zero(decoded):
    (active,) = [p for p in decoded if p.metric == "http.server.active_requests"]
    assert (active.value, active.monotonic, active.temporality) == (0, False, "cumulative")
    orders = [p for p in decoded if p.metric == "shop.orders"]
    assert [p.value for p in orders] == [7, 2.5, float(1 << 64)]
    assert orders[0].monotonic and orders[0].exemplars == [(2, 18, "", "")]
    assert orders[0].attributes == {"big": str(1 << 70), "neg": -5, "ok": True, "no": False, "pi": 3.5,
                                    "tags": ["x", "y"]}
    assert orders[2].attributes == {"x": "\ufffd"} or orders[2].attributes == {"x": "?"}


def test_gauge_point_has_no_temporality_nor_start(decoded):
    (gauge,) = [p for p in decoded if p.metric == "process.cpu.utilization"]
    assert (gauge.kind, gauge.temporality, gauge.start_ns, gauge.value) == ("gauge", "", 0, 0.25)


def test_json_and_protobuf_decode_to_the_same_points():
    proto = metric_points_of(decode_body(_SIGNALS[METRICS_PATH], PROTOBUF,
                                         encode_metrics_proto.encode_metrics(RESOURCE, sample_metrics())))
    as_json = metric_points_of(decode_body(_SIGNALS[METRICS_PATH], JSON,
                                           encode_metrics_json.encode_metrics(RESOURCE, sample_metrics())))
    assert [str(p) for p in proto] == [str(p) for p in as_json]


def test_partial_success_is_read_from_both_encodings():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

    response = metrics_service_pb2.ExportMetricsServiceResponse()
    response.partial_success.rejected_data_points = 3
    response.partial_success.error_message = "too old"
    assert encode_metrics_proto.rejected("metrics", response.SerializeToString()) == (3, "too old")
    assert encode_metrics_proto.rejected("metrics", b"") == (0, "")
    assert encode_metrics_json.rejected(
        "metrics", b'{"partialSuccess":{"rejectedDataPoints":"2","errorMessage":"x"}}') == (2, "x")
    assert encode_metrics_json.rejected("metrics", b"{}") == (0, "")


def test_protobuf_bytes_are_what_protobuf_itself_writes():
    """Field order, omitted defaults and present zeros as protobuf's own serializer has them."""
    body = encode_metrics_proto.encode_metrics(RESOURCE, sample_metrics())
    assert decode_body(_SIGNALS[METRICS_PATH], PROTOBUF, body).SerializeToString() == body


def many_points(count):
    scope = Scope("shop")
    histogram = Metric("h", "", "s", HISTOGRAM, False, CUMULATIVE, scope, [
        HistogramPoint({"route": "/r%d" % i}, 1, 2, 1, 0.5, [0, 1], (0.1,), 0.5, 0.5) for i in range(count)])
    counter = Metric("c", "", "", SUM, True, CUMULATIVE, Scope("other"), [
        NumberPoint({"route": "/r%d" % i}, 1, 2, i) for i in range(count)])
    return [histogram, counter]


@pytest.mark.parametrize("encoder,content_type", [(encode_metrics_proto, PROTOBUF), (encode_metrics_json, JSON)])
def test_a_large_collection_is_cut_into_bodies_under_the_limit_counted_in_points(encoder, content_type):
    limit = 2000
    encoded = encoder.encode("metrics", RESOURCE, many_points(60), limit)
    assert len(encoded.bodies) > 4 and not encoded.dropped
    assert all(len(body) <= limit for body, _ in encoded.bodies)
    points = []
    for body, count in encoded.bodies:
        found = metric_points_of(decode_body(_SIGNALS[METRICS_PATH], content_type, body))
        assert len(found) == count
        points += found
    assert sorted((p.metric, p.attributes["route"]) for p in points) == sorted(
        [("h", "/r%d" % i) for i in range(60)] + [("c", "/r%d" % i) for i in range(60)])
    assert {p.scope_name for p in points if p.metric == "c"} == {"other"}


@pytest.mark.parametrize("encoder", [encode_metrics_proto, encode_metrics_json])
def test_a_point_that_cannot_be_encoded_is_dropped_alone(encoder):
    class Unprintable:
        def __str__(self):
            raise RuntimeError("no")

    metrics = many_points(3)
    metrics[1].points[1].attributes = {"bad": Unprintable()}
    encoded = encoder.encode("metrics", RESOURCE, metrics)
    assert encoded.dropped == {"could not be encoded": 1}
    assert [count for _, count in encoded.bodies] == [5]
    too_small = encoder.encode("metrics", RESOURCE, many_points(1), 40)
    assert too_small.bodies == [] and too_small.dropped == {"too large": 2}


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_scope_schema_url_and_attributes(content_type):
    scope = Scope("shop", "2.0", "https://opentelemetry.io/schemas/1.21.0", {"scope.attr": "yes"})
    metrics = [Metric("m", "", "", SUM, True, CUMULATIVE, scope, [NumberPoint({}, 1, 2, 3)])]
    encoder = encode_metrics_proto if content_type == PROTOBUF else encode_metrics_json
    message = decode_body(_SIGNALS[METRICS_PATH], content_type, encoder.encode_metrics(RESOURCE, metrics))
    (scope_metrics,) = message.resource_metrics[0].scope_metrics
    assert (scope_metrics.scope.name, scope_metrics.scope.version) == ("shop", "2.0")
    assert scope_metrics.schema_url == "https://opentelemetry.io/schemas/1.21.0"
    assert [(kv.key, kv.value.string_value) for kv in scope_metrics.scope.attributes] == [("scope.attr", "yes")]

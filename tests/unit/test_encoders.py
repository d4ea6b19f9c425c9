"""The OTLP encoders: protobuf (round trip through opentelemetry-proto, every field; the
writer's byte-for-byte checks are in test_proto_writer.py), and the OTLP JSON mapping
(hex ids, enum integers, lowerCamelCase, 64-bit integers as strings) decoded by the
test receiver exactly as it decodes a real export."""

import json
import math

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_autoinstrument.export import encode_json, encode_proto
from otel_autoinstrument.logs.record import LogRecord
from otel_autoinstrument.resource import Resource
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.span import SpanContext, SpanKind, StatusCode
from otel_autoinstrument.trace.tracer import Limits, Scope, TracerProvider
from support.receiver import JSON, LOGS_PATH, PROTOBUF, TRACES_PATH, _SIGNALS, decode_body, logs_of, spans_of

TRACE = 0x5B8EFFF798038103D269B633813FC60C
REMOTE_SPAN = 0x00F067AA0BA902B7
LINKED = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 1, "vendor=x")

ATTRIBUTES = {
    "str": "value",
    "unicode": "gr\u00fc\u00df \u2713",
    "bool": True,
    "false": False,
    "int": 42,
    "negative": -7,
    "int64.max": (1 << 63) - 1,
    "too.big": 1 << 64,          # beyond int64: sent as a string rather than lost
    "float": 0.25,
    "bytes": b"\x00\x01\xff",
    "strs": ["a", "b"],
    "ints": (1, 2, 3),
    "mixed": [True, 1.5],
}
EXPECTED_ATTRIBUTES = dict(ATTRIBUTES, **{"too.big": str(1 << 64), "strs": ["a", "b"], "ints": [1, 2, 3],
                                          "mixed": [True, 1.5]})
RESOURCE = Resource({"service.name": "checkout", "process.pid": 1234, "telemetry.sdk.name": "otel-autoinstrument"})


class Collect:
    def __init__(self):
        self.ended = []

    def on_end(self, span):
        self.ended.append(span)


def make_spans():
    collect = Collect()
    provider = TracerProvider(RESOURCE, AlwaysOn(), Limits(attribute_count=100, event_count=1, link_count=1),
                              processors=[collect])
    tracer = provider.get_tracer("scope.one", "1.2.3")
    other = provider.get_tracer("scope.two")
    remote = SpanContext(TRACE, REMOTE_SPAN, 1, "rojo=1", is_remote=True)
    server = tracer.start_span("GET /users/{id}", kind=SpanKind.SERVER, parent=remote, start_time=1_000_000_001)
    server.set_attributes(ATTRIBUTES)
    server.add_event("cache miss", {"key": "u:1", "n": 3}, timestamp=1_000_000_500)
    server.add_event("dropped")
    server.add_link(LINKED, {"reason": "batch"})
    server.add_link(SpanContext(9, 9, 1))
    server.set_status(StatusCode.ERROR, "boom")
    child = other.start_span("SELECT users", kind=SpanKind.CLIENT, parent=server, start_time=1_000_000_100)
    child.end(end_time=1_000_000_200)
    server.end(end_time=2_000_000_002)
    root = tracer.start_span("job", parent=None, start_time=5, attributes={"k": "v"})
    root.set_status(StatusCode.OK)
    root.end(end_time=6)
    return collect.ended  # child, server, root


def make_logs():
    scope = Scope("app.logger", "")
    return [
        LogRecord("hello", severity_number=9, severity_text="INFO", attributes={"user": "alice", "n": 2},
                  time_ns=1_700_000_000_000_000_001, trace_id=TRACE, span_id=REMOTE_SPAN, trace_flags=1,
                  scope=scope, dropped_attributes=3),
        LogRecord({"event": "login", "ok": True, "tries": [1, 2]}, severity_number=17, severity_text="ERROR",
                  scope=scope),
        LogRecord("no scope"),
    ]


# --- protobuf ---------------------------------------------------------------------------------

def test_protobuf_spans_round_trip():
    child, server, root = make_spans()
    request = ExportTraceServiceRequest.FromString(encode_proto.encode_spans(RESOURCE, [child, server, root]))
    assert len(request.resource_spans) == 1
    rs = request.resource_spans[0]
    resource = {kv.key: kv.value for kv in rs.resource.attributes}
    assert resource["service.name"].string_value == "checkout"
    assert resource["process.pid"].int_value == 1234
    scopes = {ss.scope.name: ss for ss in rs.scope_spans}
    assert set(scopes) == {"scope.one", "scope.two"}
    assert scopes["scope.one"].scope.version == "1.2.3" and scopes["scope.two"].scope.version == ""
    pb_server, pb_root = scopes["scope.one"].spans
    (pb_child,) = scopes["scope.two"].spans

    assert pb_server.trace_id == TRACE.to_bytes(16, "big")
    assert pb_server.span_id == server.context.span_id.to_bytes(8, "big")
    assert pb_server.parent_span_id == REMOTE_SPAN.to_bytes(8, "big")
    assert pb_server.trace_state == "rojo=1"
    assert pb_server.name == "GET /users/{id}"
    assert pb_server.kind == 2  # SPAN_KIND_SERVER
    assert (pb_server.start_time_unix_nano, pb_server.end_time_unix_nano) == (1_000_000_001, 2_000_000_002)
    assert pb_server.flags == 0x100 | 0x200 | 0x01  # has-is-remote, parent is remote, sampled
    assert (pb_server.status.code, pb_server.status.message) == (2, "boom")
    assert pb_server.dropped_events_count == 1 and pb_server.dropped_links_count == 1
    assert pb_server.dropped_attributes_count == 0

    attrs = {kv.key: kv.value for kv in pb_server.attributes}
    assert attrs["str"].string_value == "value"
    assert attrs["unicode"].string_value == "gr\u00fc\u00df \u2713"
    assert attrs["bool"].bool_value is True
    assert attrs["false"].WhichOneof("value") == "bool_value" and attrs["false"].bool_value is False
    assert attrs["int"].int_value == 42 and attrs["negative"].int_value == -7
    assert attrs["int64.max"].int_value == (1 << 63) - 1
    assert attrs["too.big"].string_value == str(1 << 64)
    assert attrs["float"].double_value == 0.25
    assert attrs["bytes"].bytes_value == b"\x00\x01\xff"
    assert [v.string_value for v in attrs["strs"].array_value.values] == ["a", "b"]
    assert [v.int_value for v in attrs["ints"].array_value.values] == [1, 2, 3]
    mixed = attrs["mixed"].array_value.values
    assert mixed[0].bool_value is True and mixed[1].double_value == 1.5

    (event,) = pb_server.events
    assert (event.name, event.time_unix_nano) == ("cache miss", 1_000_000_500)
    assert {kv.key: kv.value.string_value or kv.value.int_value for kv in event.attributes} == {"key": "u:1", "n": 3}
    (link,) = pb_server.links
    assert link.trace_id == LINKED.trace_id.to_bytes(16, "big") and link.span_id == LINKED.span_id.to_bytes(8, "big")
    assert link.trace_state == "vendor=x"
    assert [(kv.key, kv.value.string_value) for kv in link.attributes] == [("reason", "batch")]

    assert pb_child.parent_span_id == pb_server.span_id and pb_child.trace_id == pb_server.trace_id
    assert pb_child.kind == 3 and pb_child.flags == 0x101  # local parent: has-is-remote, not remote
    assert pb_child.status.code == 0

    assert pb_root.parent_span_id == b"" and pb_root.flags == 0x101
    assert pb_root.status.code == 1 and pb_root.trace_id != pb_server.trace_id


def test_protobuf_logs_round_trip():
    records = make_logs()
    request = ExportLogsServiceRequest.FromString(encode_proto.encode_logs(RESOURCE, records))
    (rl,) = request.resource_logs
    scopes = {sl.scope.name: list(sl.log_records) for sl in rl.scope_logs}
    assert set(scopes) == {"app.logger", ""}
    first, second = scopes["app.logger"]
    assert first.time_unix_nano == 1_700_000_000_000_000_001
    assert first.observed_time_unix_nano >= records[0].observed_ns > 0
    assert (first.severity_number, first.severity_text) == (9, "INFO")
    assert first.body.string_value == "hello"
    assert {kv.key for kv in first.attributes} == {"user", "n"}
    assert first.trace_id == TRACE.to_bytes(16, "big") and first.span_id == REMOTE_SPAN.to_bytes(8, "big")
    assert first.flags == 1 and first.dropped_attributes_count == 3
    assert second.trace_id == b"" and second.span_id == b"" and second.flags == 0
    body = {kv.key: kv.value for kv in second.body.kvlist_value.values}
    assert body["event"].string_value == "login" and body["ok"].bool_value is True
    assert [v.int_value for v in body["tries"].array_value.values] == [1, 2]
    (third,) = scopes[""]
    assert third.body.string_value == "no scope" and third.time_unix_nano == third.observed_time_unix_nano


def test_partial_success_is_read_from_the_response():
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = 3
    response.partial_success.error_message = "too old"
    assert encode_proto.rejected("traces", response.SerializeToString()) == (3, "too old")
    assert encode_proto.rejected("traces", b"") == (0, "")
    assert encode_json.rejected("logs", b'{"partialSuccess": {"rejectedLogRecords": "2", "errorMessage": "x"}}') == (2, "x")
    assert encode_json.rejected("traces", b"{}") == (0, "")


# --- JSON ---------------------------------------------------------------------------------------

def test_json_mapping_of_spans():
    child, server, root = make_spans()
    document = json.loads(encode_json.encode_spans(RESOURCE, [child, server, root]))
    (rs,) = document["resourceSpans"]
    assert {"key": "process.pid", "value": {"intValue": "1234"}} in rs["resource"]["attributes"]
    span = next(s for ss in rs["scopeSpans"] for s in ss["spans"] if s["name"] == "GET /users/{id}")
    assert span["traceId"] == "%032x" % TRACE and len(span["traceId"]) == 32
    assert span["spanId"] == "%016x" % server.context.span_id
    assert span["parentSpanId"] == "%016x" % REMOTE_SPAN
    assert span["kind"] == 2                                   # enums are integers
    assert span["status"] == {"code": 2, "message": "boom"}
    assert span["startTimeUnixNano"] == "1000000001"           # 64-bit integers are strings
    assert span["endTimeUnixNano"] == "2000000002"
    assert span["traceState"] == "rojo=1"
    assert span["droppedEventsCount"] == 1 and span["droppedLinksCount"] == 1
    attrs = {kv["key"]: kv["value"] for kv in span["attributes"]}
    assert attrs["int"] == {"intValue": "42"} and attrs["bool"] == {"boolValue": True}
    assert attrs["float"] == {"doubleValue": 0.25} and attrs["bytes"] == {"bytesValue": "AAH/"}
    assert attrs["strs"] == {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}
    assert span["events"][0]["timeUnixNano"] == "1000000500"
    assert span["links"][0]["traceId"] == "%032x" % LINKED.trace_id
    for key in _all_keys(document):
        assert "_" not in key, key                            # lowerCamelCase everywhere


def _all_keys(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "key":
                yield key
            yield from _all_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _all_keys(item)


def test_json_spans_decode_like_protobuf():
    """A receiver decoding the JSON body gets the same message as from the protobuf body."""
    spans = make_spans()
    from_json = decode_body(_SIGNALS[TRACES_PATH], JSON, encode_json.encode_spans(RESOURCE, spans))
    from_proto = decode_body(_SIGNALS[TRACES_PATH], PROTOBUF, encode_proto.encode_spans(RESOURCE, spans))
    assert [str(s) for s in spans_of(from_json)] == [str(s) for s in spans_of(from_proto)]
    assert spans_of(from_json) == spans_of(from_proto)
    view = {s.name: s for s in spans_of(from_json)}
    server = view["GET /users/{id}"]
    assert server.attributes == EXPECTED_ATTRIBUTES
    assert server.kind == "SERVER" and server.status_code == "ERROR"
    assert server.parent_span_id == "%016x" % REMOTE_SPAN
    assert view["SELECT users"].parent_span_id == server.span_id
    assert server.links == [("%032x" % LINKED.trace_id, "%016x" % LINKED.span_id, {"reason": "batch"})]


def test_json_logs_decode_like_protobuf():
    records = make_logs()
    from_json = decode_body(_SIGNALS[LOGS_PATH], JSON, encode_json.encode_logs(RESOURCE, records))
    from_proto = decode_body(_SIGNALS[LOGS_PATH], PROTOBUF, encode_proto.encode_logs(RESOURCE, records))
    assert logs_of(from_json) == logs_of(from_proto)
    first = logs_of(from_json)[0]
    assert first.trace_id == "%032x" % TRACE and first.span_id == "%016x" % REMOTE_SPAN
    assert first.body == "hello" and first.severity_number == 9 and first.flags == 1
    document = json.loads(encode_json.encode_logs(RESOURCE, records))
    record = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert record["timeUnixNano"] == "1700000000000000001" and record["severityNumber"] == 9
    assert record["traceId"] == "%032x" % TRACE


@pytest.mark.parametrize("value, expected", [
    (float("inf"), "Infinity"), (float("-inf"), "-Infinity"), (float("nan"), "NaN"),
])
def test_json_non_finite_doubles(value, expected):
    assert encode_json.any_value(value) == {"doubleValue": expected}
    spans = make_spans()
    spans[0].attributes["x"] = value
    message = decode_body(_SIGNALS[TRACES_PATH], JSON, encode_json.encode_spans(RESOURCE, spans[:1]))
    decoded = spans_of(message)[0].attributes["x"]
    assert (math.isnan(decoded) and math.isnan(value)) or decoded == value


def test_scope_schema_url_and_attributes_in_both_encodings():
    """A tracer's schema URL and scope attributes (the API's get_tracer arguments) reach
    the wire, and scopes that differ only in them stay apart."""
    provider = TracerProvider(RESOURCE, AlwaysOn())
    collect = type("Collect", (), {"ended": [], "on_end": lambda self, span: self.ended.append(span)})()
    provider.add_processor(collect)
    plain = provider.get_tracer("lib", "1.0")
    rich = provider.get_tracer("lib", "1.0", "https://opentelemetry.io/schemas/1.21.0", {"team": "a"})
    assert rich is not plain and rich is provider.get_tracer("lib", "1.0", "https://opentelemetry.io/schemas/1.21.0",
                                                             {"team": "a"})
    for tracer in (plain, rich):
        tracer.start_span("op").end()
    for encoded, kind in ((encode_proto.encode_spans(RESOURCE, collect.ended), PROTOBUF),
                          (encode_json.encode_spans(RESOURCE, collect.ended), JSON)):
        spans = spans_of(decode_body(_SIGNALS[TRACES_PATH], kind, encoded))
        assert sorted((s.schema_url, s.scope_attributes == {"team": "a"}) for s in spans) == [
            ("", False), ("https://opentelemetry.io/schemas/1.21.0", True)], kind

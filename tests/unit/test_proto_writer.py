"""The hand-written OTLP protobuf writer against the message-object encoder it replaced
(``support.reference_proto``, which builds opentelemetry-proto messages and lets protobuf
serialize them): the same bytes for every value type, event, link, status, flag, scope
(attributes, schema URL) and log body; text that always encodes (lone surrogates become U+FFFD); an item that cannot be
encoded dropped alone; request bodies cut by their real size; the partial-success
answer read without protobuf."""

import math

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from otel_autoinstrument.export import encode_json, encode_proto, encoding
from otel_autoinstrument.export import outcome as reasons
from otel_autoinstrument.logs.record import LogRecord
from otel_autoinstrument.resource import Resource
from otel_autoinstrument.testing import MemoryProcessor
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.span import SpanContext, SpanKind, StatusCode
from otel_autoinstrument.trace.tracer import Limits, Scope, TracerProvider
from support import reference_proto
from support.receiver import JSON, LOGS_PATH, TRACES_PATH, _SIGNALS, decode_body, logs_of, spans_of

BAD = "\udcff"  # a lone surrogate, as json.loads gives for a client's "\udcff"
VALUES = {
    "str": "value", "empty": "", "unicode": "gr\u00fc\u00df \u2713 \U0001f600", "true": True, "false": False,
    "zero": 0, "int": 42, "negative": -7, "int64.max": (1 << 63) - 1, "int64.min": -(1 << 63),
    "too.big": 1 << 64, "too.small": -(1 << 63) - 1, "float": 0.25, "float.zero": 0.0, "minus.zero": -0.0,
    "nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "bytes": b"\x00\x01\xff", "no.bytes": b"",
    "strs": ("a", "", "b"), "ints": (1, -2, 1 << 70), "mixed": (True, 1.5, None, "x", b"y"), "none.list": (),
    "long": "L" * 300, "none": None,
}


def text(value, fix):
    """``value`` with every string passed through ``fix`` (lists and maps too)."""
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, (list, tuple)):
        return type(value)(text(v, fix) for v in value)
    if isinstance(value, dict):
        return {text(k, fix): text(v, fix) for k, v in value.items()}
    return value


def make_spans(fix=lambda s: s):
    """Spans covering every field the encoders write, their strings passed through ``fix``."""
    memory = MemoryProcessor()
    provider = TracerProvider(None, AlwaysOn(), Limits(attribute_count=100, event_count=2, link_count=2),
                              processors=[memory])
    tracer = provider.get_tracer(fix("scope.one"), fix("1.0"),
                                 schema_url=fix("https://opentelemetry.io/schemas/1.26.0"),
                                 attributes=text({"library.kind": "http", "n": 1, "l": ("a",)}, fix))
    remote = SpanContext(0x5B8EFFF798038103D269B633813FC60C, 0xB7, 1, fix("rojo=1"), is_remote=True)
    server = tracer.start_span(fix("GET /users/{id}"), kind=SpanKind.SERVER, parent=remote, start_time=17)
    server.attributes.update(text(VALUES, fix))  # every type, past the limits' cleaning
    server.add_event(fix("exception"), text({"exception.message": "boom", "n": 3}, fix), timestamp=18)
    server.add_event(fix(""), timestamp=19)
    server.add_event("dropped")
    server.add_link(SpanContext(0xAB, 0xCD, 1, fix("vendor=x")), text({"reason": "batch"}, fix))
    server.add_link(SpanContext(9, 9, 0))
    server.add_link(SpanContext(7, 7, 1))
    server.set_status(StatusCode.ERROR, fix("ValueError: bad"))
    server.dropped_attributes = 5
    server.end(end_time=1 << 62)
    child = provider.get_tracer(fix("scope.two")).start_span(fix("child"), kind=SpanKind.CLIENT, parent=server,
                                                             start_time=20)
    child.set_attribute(fix("k"), fix("v"))
    child.end(end_time=21)
    root = tracer.start_span("", parent=None, start_time=5)
    root.set_status(StatusCode.OK)
    root.end(end_time=6)
    for number, span in enumerate(memory.items):  # fixed ids: two calls make the same spans
        span.context.span_id = 0x1000 + number
        if span.parent is None:
            span.context.trace_id = 0x2000 + number
    return memory.items


class Printable:
    def __str__(self):
        return "printed"


class Unprintable:
    def __str__(self):
        raise RuntimeError("no text for you")


def make_logs(fix=lambda s: s):
    scope = Scope(fix("app.logger"), "", schema_url=fix("https://example.com/s"), attributes={fix("k"): fix("v")})
    bodies = [fix("hello"), 0, -1, 2.5, float("nan"), True, b"\x00raw", None, ("a", 1, None, (2.0, "b")),
              {"event": fix("login"), fix("ok"): True, "tries": [1, 2], "nested": {"deep": {fix("x"): None}},
               7: "seven"},
              [], {}, 1 << 65, Printable()]
    records = [LogRecord(text(body, fix), severity_number=9 + i % 3, severity_text=fix("INFO"), scope=scope,
                         attributes=text({"user": "alice", "n": i}, fix), time_ns=1000 + i,
                         trace_id=0x5B8E if i % 2 else 0, span_id=0xB7 if i % 2 else 0, trace_flags=i % 2,
                         dropped_attributes=i % 4, event_name=fix("auth.failure") if i % 5 == 0 else "")
               for i, body in enumerate(bodies)]
    records.append(LogRecord(fix("no scope"), time_ns=0))
    for number, record in enumerate(records):
        record.observed_ns = 5000 + number  # fixed: two calls make the same records
    records[-1].time_ns = 0
    return records


RESOURCE = Resource({"service.name": "checkout", "process.pid": 1234, "list": ("a", "b")})


def test_spans_are_byte_for_byte_what_protobuf_serializes():
    spans = make_spans()
    written = encode_proto.encode_spans(RESOURCE, spans)
    assert written == reference_proto.encode_spans(RESOURCE, spans)
    request = ExportTraceServiceRequest.FromString(written)
    attrs = {kv.key: kv.value for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes}
    assert math.isnan(attrs["nan"].double_value) and attrs["too.small"].string_value == str(-(1 << 63) - 1)
    assert attrs["zero"].WhichOneof("value") == "int_value" and attrs["none"].WhichOneof("value") is None


def test_log_records_of_every_body_type_are_what_protobuf_serializes():
    records = make_logs()
    written = encode_proto.encode_logs(RESOURCE, records)
    assert written == reference_proto.encode_logs(RESOURCE, records)
    request = ExportLogsServiceRequest.FromString(written)
    first = request.resource_logs[0].scope_logs[0].log_records[0]
    assert first.event_name == "auth.failure" and first.body.string_value == "hello"


def test_repeated_pairs_of_equal_but_different_values_keep_their_types():
    """The pair cache must not confuse True, 1 and 1.0 (equal in Python, not on the wire)."""
    spans = []
    for value in (True, 1, 1.0, "1", 1, True):
        spans += make_one_span({"v": value})
    request = ExportTraceServiceRequest.FromString(encode_proto.encode_spans(RESOURCE, spans))
    kinds = [s.attributes[0].value.WhichOneof("value") for s in request.resource_spans[0].scope_spans[0].spans]
    assert kinds == ["bool_value", "int_value", "double_value", "string_value", "int_value", "bool_value"]


def make_one_span(attributes, name="s"):
    memory = MemoryProcessor()
    tracer = TracerProvider(None, AlwaysOn(), processors=[memory]).get_tracer(
        "t", schema_url="https://opentelemetry.io/schemas/1.26.0", attributes={"scope.kind": "test"})
    span = tracer.start_span(name)
    span.attributes.update(attributes)
    span.end()
    return memory.items


@pytest.mark.parametrize("module", [encode_proto, reference_proto], ids=["writer", "reference"])
def test_any_value_edges(module):
    def decoded(value):
        encoded = module.any_value(value)
        return AnyValue.FromString(encoded if isinstance(encoded, bytes) else encoded.SerializeToString())

    assert decoded(None) == AnyValue()
    assert [v.string_value for v in decoded(["a", None, "b"]).array_value.values] == ["a", "b"]
    assert decoded(object()).string_value.startswith("<object")
    assert math.isnan(decoded(float("nan")).double_value)


# --- text from the application always encodes ----------------------------------------------

def replaced(value):
    return value.replace(BAD, "\ufffd")


def test_lone_surrogates_are_replaced_everywhere_in_protobuf():
    """Every string field (names, keys, values, lists, events, links, status, trace state,
    scope, resource, log bodies of every type, event names): as if U+FFFD had been given."""
    resource = Resource({"service.name": "svc" + BAD, BAD: ("x" + BAD,)})
    written = encode_proto.encode_spans(resource, make_spans(lambda s: s + BAD))
    assert written == reference_proto.encode_spans(Resource(text(resource.attributes, replaced)),
                                                   make_spans(lambda s: s + "\ufffd"))
    written = encode_proto.encode_logs(resource, make_logs(lambda s: s + BAD))
    assert written == reference_proto.encode_logs(Resource(text(resource.attributes, replaced)),
                                                  make_logs(lambda s: s + "\ufffd"))


def test_lone_surrogates_are_replaced_in_json():
    for signal, items in (("traces", make_spans(lambda s: s + BAD)), ("logs", make_logs(lambda s: s + BAD))):
        encoded = encode_json.encode(signal, RESOURCE, items)
        assert encoded.dropped == {} and len(encoded.bodies) == 1
        body = encoded.bodies[0][0]
        assert "\ufffd" in body.decode("utf-8") and BAD not in body.decode("utf-8")
        path = TRACES_PATH if signal == "traces" else LOGS_PATH
        views = (spans_of if signal == "traces" else logs_of)(decode_body(_SIGNALS[path], JSON, body))
        assert len(views) == len(items)


# --- one item's failure is that item's ---------------------------------------------------------

def deep(levels):
    value = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def looping():
    value = {"a": 1}
    value["self"] = value
    return value


@pytest.mark.parametrize("encoder", [encode_proto, encode_json], ids=["protobuf", "json"])
def test_an_item_that_cannot_be_encoded_is_dropped_alone(encoder):
    records = [LogRecord("first"), LogRecord(Unprintable()), LogRecord(deep(200)), LogRecord(looping()),
               LogRecord({"k": [Unprintable()]}), LogRecord(deep(encoding.MAX_DEPTH - 1)), LogRecord("last")]
    encoded = encoder.encode("logs", RESOURCE, records)
    assert encoded.dropped == {reasons.UNENCODABLE: 4} and "RuntimeError" in encoded.problem
    ((body, count),) = encoded.bodies
    kind = JSON if encoder is encode_json else "application/x-protobuf"
    bodies = [r.body for r in logs_of(decode_body(_SIGNALS[LOGS_PATH], kind, body))]
    assert count == 3 and bodies[0] == "first" and bodies[-1] == "last"


def test_a_span_whose_name_cannot_be_written_is_dropped_alone():
    spans = make_one_span({"a": 1}, name="fine") + make_one_span({}, name=Unprintable()) + make_one_span({})
    encoded = encode_proto.encode("traces", RESOURCE, spans)
    assert encoded.dropped == {reasons.UNENCODABLE: 1} and encoded.bodies[0][1] == 2


# --- request bodies of bounded size ----------------------------------------------------------

@pytest.mark.parametrize("encoder", [encode_proto, encode_json], ids=["protobuf", "json"])
def test_bodies_are_cut_by_their_encoded_size(encoder):
    limit = 100 * 1024
    spans = []
    for i in range(30):
        spans += make_one_span({"payload": "\u00e9" * 10000, "list": ("h" * 2000,) * 3, "i": i})  # ~26 KB
    spans += make_one_span({"huge": "x" * (2 * limit)})
    encoded = encoder.encode("traces", RESOURCE, spans, limit)
    assert encoded.dropped == {reasons.TOO_LARGE: 1}
    assert len(encoded.bodies) >= 7 and all(len(body) <= limit for body, _ in encoded.bodies)
    assert sum(count for _, count in encoded.bodies) == 30
    kind = JSON if encoder is encode_json else "application/x-protobuf"
    views = [v for body, _ in encoded.bodies for v in spans_of(decode_body(_SIGNALS[TRACES_PATH], kind, body))]
    assert sorted(v.attributes["i"] for v in views) == list(range(30))
    assert {(v.schema_url, v.scope_attributes["scope.kind"], v.resource["service.name"]) for v in views} == {
        ("https://opentelemetry.io/schemas/1.26.0", "test", "checkout")}


# --- the partial-success answer -----------------------------------------------------------------

def test_partial_success_is_read_without_protobuf():
    traces = ExportTraceServiceResponse()
    traces.partial_success.rejected_spans = 3
    traces.partial_success.error_message = "too old \u2713"
    assert encode_proto.rejected("traces", traces.SerializeToString()) == (3, "too old \u2713")
    logs = ExportLogsServiceResponse()
    logs.partial_success.rejected_log_records = 1 << 40
    assert encode_proto.rejected("logs", logs.SerializeToString()) == (1 << 40, "")
    assert encode_proto.rejected("traces", b"") == (0, "")
    assert encode_proto.rejected("traces", ExportTraceServiceResponse().SerializeToString()) == (0, "")
    with pytest.raises(ValueError):
        encode_proto.rejected("traces", b"\x0a\x05\x08")  # truncated: the exporter treats it as no detail

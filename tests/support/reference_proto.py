"""The agent's first OTLP protobuf encoder, kept as the tests' reference: it builds
opentelemetry-proto message objects and lets protobuf serialize them. The hand-written
writer (``otel_autoinstrument.export.encode_proto``) must produce what this produces
(``tests/unit/test_proto_writer.py``). ``event_name`` on log records is the one field
added since."""

from collections import defaultdict

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as PbLogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan, Status


def any_value(value):
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, int):
        if -(1 << 63) <= value < (1 << 63):
            return AnyValue(int_value=value)
        return AnyValue(string_value=str(value))
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value if v is not None]))
    if isinstance(value, dict):
        from opentelemetry.proto.common.v1.common_pb2 import KeyValueList

        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    if value is None:
        return AnyValue()
    return AnyValue(string_value=str(value))


# Attribute pairs repeat across spans (``http.request.method=GET``, the same route, the
# same db.system.name): reusing their built KeyValue messages halves the cost of
# encoding a typical span. Only short scalar values are cached, and the cache is
# cleared when it grows past its bound.
_CACHE_LIMIT = 4096
_CACHEABLE_LENGTH = 200
_kv_cache = {}


def _key_value(key, value):
    kind = type(value)
    if (kind is str and len(value) <= _CACHEABLE_LENGTH) or kind is int or kind is bool or kind is float:
        cache_key = (key, kind, value)
        kv = _kv_cache.get(cache_key)
        if kv is None:
            if len(_kv_cache) >= _CACHE_LIMIT:
                _kv_cache.clear()
            kv = _kv_cache[cache_key] = KeyValue(key=str(key), value=any_value(value))
        return kv
    return KeyValue(key=str(key), value=any_value(value))


def key_values(attributes):
    return [_key_value(k, v) for k, v in attributes.items()]


def _resource(resource):
    return PbResource(attributes=key_values(resource.attributes))


def _scope(scope):
    if scope is None:
        return InstrumentationScope()
    return InstrumentationScope(name=scope.name, version=scope.version, attributes=key_values(scope.attributes))


def _schema_url(scope):
    return scope.schema_url if scope is not None else ""


def _by_scope(items):
    groups = defaultdict(list)
    scopes = {}
    for item in items:
        key = item.scope.key if item.scope is not None else None
        groups[key].append(item)
        scopes[key] = item.scope
    return [(scopes[key], group) for key, group in groups.items()]


def _span(span):
    ctx = span.context
    pb = PbSpan(
        trace_id=ctx.trace_id.to_bytes(16, "big"),
        span_id=ctx.span_id.to_bytes(8, "big"),
        trace_state=ctx.trace_state,
        name=span.name,
        kind=span.kind,
        start_time_unix_nano=span.start_ns,
        end_time_unix_nano=span.end_ns,
        attributes=key_values(span.attributes),
        dropped_attributes_count=span.dropped_attributes,
        dropped_events_count=span.dropped_events,
        dropped_links_count=span.dropped_links,
        flags=0x100 | (0x200 if span.parent is not None and span.parent.is_remote else 0) | (ctx.trace_flags & 0xFF),
        status=Status(code=span.status_code, message=span.status_message),
    )
    if span.parent is not None:
        pb.parent_span_id = span.parent.span_id.to_bytes(8, "big")
    for event in span.events or ():
        pb.events.add(time_unix_nano=event.time_ns, name=event.name,
                      attributes=key_values(event.attributes),
                      dropped_attributes_count=event.dropped_attributes)
    for link in span.links:
        pb.links.add(trace_id=link.context.trace_id.to_bytes(16, "big"),
                     span_id=link.context.span_id.to_bytes(8, "big"),
                     trace_state=link.context.trace_state,
                     attributes=key_values(link.attributes),
                     dropped_attributes_count=link.dropped_attributes)
    return pb


def encode_spans(resource, spans):
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add(resource=_resource(resource))
    for scope, group in _by_scope(spans):
        scope_spans = resource_spans.scope_spans.add(scope=_scope(scope), schema_url=_schema_url(scope))
        scope_spans.spans.extend(_span(span) for span in group)
    return request.SerializeToString()


def _log(record):
    pb = PbLogRecord(
        time_unix_nano=record.time_ns,
        observed_time_unix_nano=record.observed_ns,
        severity_number=record.severity_number,
        severity_text=record.severity_text,
        body=any_value(record.body),
        attributes=key_values(record.attributes),
        dropped_attributes_count=record.dropped_attributes,
        flags=record.trace_flags & 0xFF,
    )
    if getattr(record, "event_name", ""):
        pb.event_name = record.event_name
    if record.trace_id:
        pb.trace_id = record.trace_id.to_bytes(16, "big")
        pb.span_id = record.span_id.to_bytes(8, "big")
    return pb


def encode_logs(resource, records):
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add(resource=_resource(resource))
    for scope, group in _by_scope(records):
        scope_logs = resource_logs.scope_logs.add(scope=_scope(scope), schema_url=_schema_url(scope))
        scope_logs.log_records.extend(_log(record) for record in group)
    return request.SerializeToString()


def rejected(signal, body):
    """(rejected count, error message) from a protobuf export response body."""
    if not body:
        return 0, ""
    response = ExportTraceServiceResponse() if signal == "traces" else ExportLogsServiceResponse()
    response.ParseFromString(body)
    partial = response.partial_success
    count = partial.rejected_spans if signal == "traces" else partial.rejected_log_records
    return count, partial.error_message

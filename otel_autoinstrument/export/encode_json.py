"""OTLP/JSON encoding (the protobuf JSON mapping with OTLP's exceptions): trace and
span ids as hex strings, enums as integers, lowerCamelCase keys, 64-bit integers as
decimal strings. Pure functions, run in the export thread."""

import json
from collections import defaultdict


def any_value(value):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, int):
        if -(1 << 63) <= value < (1 << 63):
            return {"intValue": str(value)}
        return {"stringValue": str(value)}
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"doubleValue": str(value).replace("inf", "Infinity").replace("nan", "NaN")}
        return {"doubleValue": value}
    if isinstance(value, bytes):
        import base64

        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value if v is not None]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def key_values(attributes):
    return [{"key": str(k), "value": any_value(v)} for k, v in attributes.items()]


def _scope(scope):
    if scope is None:
        return {}
    out = {"name": scope.name, "version": scope.version}
    if scope.attributes:
        out["attributes"] = key_values(scope.attributes)
    return out


def _scoped(scope, key, items):
    """One ScopeSpans / ScopeLogs entry."""
    out = {"scope": _scope(scope), key: items}
    if scope is not None and scope.schema_url:
        out["schemaUrl"] = scope.schema_url
    return out


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
    out = {
        "traceId": "%032x" % ctx.trace_id,
        "spanId": "%016x" % ctx.span_id,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": key_values(span.attributes),
        "flags": 0x100 | (0x200 if span.parent is not None and span.parent.is_remote else 0) | (ctx.trace_flags & 0xFF),
        "status": {"code": span.status_code, "message": span.status_message} if span.status_code else {},
    }
    if ctx.trace_state:
        out["traceState"] = ctx.trace_state
    if span.parent is not None:
        out["parentSpanId"] = "%016x" % span.parent.span_id
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        out["events"] = [{"timeUnixNano": str(e.time_ns), "name": e.name,
                          "attributes": key_values(e.attributes),
                          "droppedAttributesCount": e.dropped_attributes} for e in span.events]
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    if span.links:
        out["links"] = [{"traceId": "%032x" % l.context.trace_id, "spanId": "%016x" % l.context.span_id,
                         "traceState": l.context.trace_state, "attributes": key_values(l.attributes),
                         "droppedAttributesCount": l.dropped_attributes} for l in span.links]
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    return out


def to_dict_spans(resource, spans):
    return {"resourceSpans": [{
        "resource": {"attributes": key_values(resource.attributes)},
        "scopeSpans": [_scoped(scope, "spans", [_span(s) for s in group]) for scope, group in _by_scope(spans)],
    }]}


def encode_spans(resource, spans):
    return json.dumps(to_dict_spans(resource, spans), separators=(",", ":")).encode("utf-8")


def _log(record):
    out = {
        "timeUnixNano": str(record.time_ns),
        "observedTimeUnixNano": str(record.observed_ns),
        "severityNumber": record.severity_number,
        "severityText": record.severity_text,
        "body": any_value(record.body),
        "attributes": key_values(record.attributes),
        "flags": record.trace_flags & 0xFF,
    }
    if record.trace_id:
        out["traceId"] = "%032x" % record.trace_id
        out["spanId"] = "%016x" % record.span_id
    if record.dropped_attributes:
        out["droppedAttributesCount"] = record.dropped_attributes
    return out


def to_dict_logs(resource, records):
    return {"resourceLogs": [{
        "resource": {"attributes": key_values(resource.attributes)},
        "scopeLogs": [_scoped(scope, "logRecords", [_log(r) for r in group]) for scope, group in _by_scope(records)],
    }]}


def encode_logs(resource, records):
    return json.dumps(to_dict_logs(resource, records), separators=(",", ":")).encode("utf-8")


def rejected(signal, body):
    """(rejected count, error message) from a JSON export response body."""
    if not body or not body.strip():
        return 0, ""
    partial = json.loads(body).get("partialSuccess") or {}
    key = "rejectedSpans" if signal == "traces" else "rejectedLogRecords"
    return int(partial.get(key) or 0), partial.get("errorMessage") or ""

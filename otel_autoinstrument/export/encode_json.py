"""OTLP/JSON encoding (the protobuf JSON mapping with OTLP's exceptions): trace and
span ids as hex strings, enums as integers, lowerCamelCase keys, 64-bit integers as
decimal strings. Run in the export thread.

Each item becomes its JSON structure on its own (one that cannot be encoded is dropped
alone); the batch is then serialized as one document, or, when that is larger than a
request may be, item by item and cut by size. Text is UTF-8, lone surrogates replaced
(see ``encoding``).
"""

import json

from .encoding import MAX_DEPTH, MAX_REQUEST_BYTES, Encoded, TooDeep, by_scope, chunks, encode_items, safe_utf8

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_NON_FINITE = {float("inf"): "Infinity", float("-inf"): "-Infinity"}


def any_value(value, depth=0):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": str.__str__(value)}
    if isinstance(value, int):
        if -(1 << 63) <= value < (1 << 63):
            return {"intValue": str(int(value))}
        return {"stringValue": str(int(value))}
    if isinstance(value, float):
        if value != value:
            return {"doubleValue": "NaN"}
        if value in _NON_FINITE:
            return {"doubleValue": _NON_FINITE[value]}
        return {"doubleValue": float(value)}
    if isinstance(value, bytes):
        import base64

        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        if depth >= MAX_DEPTH:
            raise TooDeep()
        return {"arrayValue": {"values": [any_value(v, depth + 1) for v in value if v is not None]}}
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise TooDeep()
        return {"kvlistValue": {"values": key_values(value, depth + 1)}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def key_values(attributes, depth=0):
    return [{"key": str(k), "value": any_value(v, depth)} for k, v in attributes.items()]


def _scope(scope):
    if scope is None:
        return {}
    out = {"name": str(scope.name), "version": str(scope.version)}
    if scope.attributes:
        out["attributes"] = key_values(scope.attributes)
    return out


def _scoped(scope, key, items):
    """One ScopeSpans / ScopeLogs entry."""
    out = {"scope": _scope(scope), key: items}
    if scope is not None and scope.schema_url:
        out["schemaUrl"] = str(scope.schema_url)
    return out


def _span(span):
    ctx = span.context
    out = {
        "traceId": "%032x" % ctx.trace_id,
        "spanId": "%016x" % ctx.span_id,
        "name": str(span.name),
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": key_values(span.attributes),
        "flags": 0x100 | (0x200 if span.parent is not None and span.parent.is_remote else 0) | (ctx.trace_flags & 0xFF),
        "status": {"code": span.status_code, "message": str(span.status_message)} if span.status_code else {},
    }
    if ctx.trace_state:
        out["traceState"] = str(ctx.trace_state)
    if span.parent is not None:
        out["parentSpanId"] = "%016x" % span.parent.span_id
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        out["events"] = [{"timeUnixNano": str(e.time_ns), "name": str(e.name),
                          "attributes": key_values(e.attributes),
                          "droppedAttributesCount": e.dropped_attributes} for e in span.events]
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    if span.links:
        out["links"] = [{"traceId": "%032x" % l.context.trace_id, "spanId": "%016x" % l.context.span_id,
                         "traceState": str(l.context.trace_state), "attributes": key_values(l.attributes),
                         "droppedAttributesCount": l.dropped_attributes} for l in span.links]
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    return out


def _log(record):
    out = {
        "timeUnixNano": str(record.time_ns),
        "observedTimeUnixNano": str(record.observed_ns),
        "severityNumber": record.severity_number,
        "severityText": str(record.severity_text),
        "body": any_value(record.body),
        "attributes": key_values(record.attributes),
        "flags": record.trace_flags & 0xFF,
    }
    if record.trace_id:
        out["traceId"] = "%032x" % record.trace_id
        out["spanId"] = "%016x" % record.span_id
    if record.dropped_attributes:
        out["droppedAttributesCount"] = record.dropped_attributes
    if record.event_name:
        out["eventName"] = str(record.event_name)
    return out


_SIGNALS = {"traces": (_span, "resourceSpans", "scopeSpans", "spans"),
            "logs": (_log, "resourceLogs", "scopeLogs", "logRecords")}


def _utf8(text):
    try:
        return text.encode()
    except UnicodeEncodeError:
        return safe_utf8(text)


def encode(signal, resource, items, limit=MAX_REQUEST_BYTES):
    """``Encoded``: the request bodies for ``items`` (spans or log records)."""
    make, resource_key, scopes_key, items_key = _SIGNALS[signal]
    out = Encoded()
    resource_json = {"attributes": key_values(resource.attributes) if resource else []}
    groups = [(scope, encode_items(group, make, make, out)) for scope, group in by_scope(items)]
    count = sum(len(built) for _, built in groups)
    if not count:
        return out
    body = _utf8(_dumps({resource_key: [{"resource": resource_json, scopes_key: [
        _scoped(scope, items_key, built) for scope, built in groups if built]}]}))
    if len(body) <= limit:
        out.bodies.append((body, count))
        return out
    # Too large for one request: each item serialized on its own, the bodies cut by size.
    head = b'{"%s":[{"resource":%s,"%s":[' % (resource_key.encode(), _utf8(_dumps(resource_json)), scopes_key.encode())
    sized = []
    for scope, built in groups:
        entry = _utf8(_dumps(_scoped(scope, items_key, [])))  # ...,"spans":[]} and maybe "schemaUrl"
        opening, closing = entry.split(b'"%s":[]' % items_key.encode(), 1)
        frame = (opening + b'"%s":[' % items_key.encode(), b"]" + closing)
        sized.append((frame, len(entry) + 8, [_utf8(_dumps(item)) for item in built]))
    for request in chunks(sized, limit - len(head) - 64, out):
        body = b",".join(frame[0] + b",".join(encoded) + frame[1] for frame, encoded in request)
        out.bodies.append((head + body + b"]}]}", sum(len(encoded) for _, encoded in request)))
    return out


def encode_spans(resource, spans):
    """One request body for ``spans`` (tests and tools; the exporter uses ``encode``)."""
    return b"".join(body for body, _ in encode("traces", resource, spans, 1 << 62).bodies)


def encode_logs(resource, records):
    return b"".join(body for body, _ in encode("logs", resource, records, 1 << 62).bodies)


_REJECTED = {"traces": "rejectedSpans", "logs": "rejectedLogRecords", "metrics": "rejectedDataPoints"}


def rejected(signal, body):
    """(rejected count, error message) from a JSON export response body."""
    if not body or not body.strip():
        return 0, ""
    partial = json.loads(body).get("partialSuccess") or {}
    return int(partial.get(_REJECTED[signal]) or 0), partial.get("errorMessage") or ""

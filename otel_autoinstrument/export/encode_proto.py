"""OTLP protobuf, written by hand: spans and log records in, request bodies out.

The wire format is simple to write directly (varints, length-delimited fields,
little-endian fixed-width numbers), several times faster than building
opentelemetry-proto message objects, and it needs nothing but ``struct``: the export
thread imports no third-party module. Field numbers are those of opentelemetry-proto's
``trace.proto``, ``logs.proto`` and ``common.proto``; fields are written in field-number
order and default values left out, as protobuf's own serializer does (the tests decode
the bytes with opentelemetry-proto and compare them with a message-object encoder).

Per request the resource and each scope are encoded once; per item, attribute pairs
that repeat (a method, a route, a status code) come from a bounded cache of their
encoded bytes. ``rejected()`` reads the partial-success answer (two small fields).
"""

import struct

from .encoding import MAX_DEPTH, MAX_REQUEST_BYTES, Encoded, TooDeep, by_scope, chunks, encode_items, safe_utf8

_INT64_MIN = -(1 << 63)
_INT64_END = 1 << 63
_MASK64 = (1 << 64) - 1
_BYTE = [bytes((i,)) for i in range(128)]
_times = struct.Struct("<BQBQ").pack  # span fields 7 and 8 (fixed64), tags included
_ids = struct.Struct(">2sQQ2sQ").pack  # trace id (two halves) and span id, tags included
_id = struct.Struct(">2sQ").pack  # one span id, its tag included
_HALF = (1 << 64) - 1
_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack
_double = struct.Struct("<d").pack
_strict = str.encode  # UTF-8, raising on a lone surrogate: the item is then encoded with safe_utf8

# Attribute pairs repeat across items: their encoded fields are cached per field tag.
# Only short scalar values; a cache is emptied when it reaches its bound.
_CACHE_LIMIT = 4096
_CACHEABLE_LENGTH = 200
_caches = {}  # per field tag: (key, value, type) -> the whole field
_keys = {}  # key -> its KeyValue.key field


def _varint(n):
    if n < 128:
        return _BYTE[n]
    if n < 16384:
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while n >= 128:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _text(value, utf8):
    return utf8(value if type(value) is str else str(value))


def any_value(value, utf8=safe_utf8, depth=0):
    """The AnyValue message of ``value`` (bytes)."""
    kind = type(value)
    if kind is str:
        data = utf8(value)
        return b"\x0a" + _varint(len(data)) + data
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is int and _INT64_MIN <= value < _INT64_END:
        return b"\x18" + _varint(value & _MASK64)
    if kind is float:
        return b"\x21" + _double(value)
    return _other_value(value, utf8, depth)


def _other_value(value, utf8, depth):
    """Subclasses, out-of-range integers, bytes, sequences, maps, None and the rest (as text)."""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        data = utf8(value)
        return b"\x0a" + _varint(len(data)) + data
    if isinstance(value, int):
        if _INT64_MIN <= value < _INT64_END:
            return b"\x18" + _varint(int(value) & _MASK64)
        data = utf8(str(int(value)))  # beyond int64: sent as text rather than lost
        return b"\x0a" + _varint(len(data)) + data
    if isinstance(value, float):
        return b"\x21" + _double(value)
    if isinstance(value, bytes):
        return b"\x3a" + _varint(len(value)) + value
    if isinstance(value, (list, tuple)):
        if depth >= MAX_DEPTH:
            raise TooDeep()
        parts = []
        for item in value:
            if item is not None:
                data = any_value(item, utf8, depth + 1)
                parts += (b"\x0a", _varint(len(data)), data)
        data = b"".join(parts)
        return b"\x2a" + _varint(len(data)) + data
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise TooDeep()
        parts = []
        for key, item in value.items():
            data = _key_value(key, item, utf8, depth + 1)
            parts += (b"\x0a", _varint(len(data)), data)
        data = b"".join(parts)
        return b"\x32" + _varint(len(data)) + data
    if value is None:
        return b""
    data = utf8(str(value))
    return b"\x0a" + _varint(len(data)) + data


def _key_value(key, value, utf8, depth=0):
    key = _text(key, utf8)
    data = any_value(value, utf8, depth)
    return b"\x0a" + _varint(len(key)) + key + b"\x12" + _varint(len(data)) + data


def _attributes(attributes, tag, utf8, parts):
    """Append one ``tag`` field (a KeyValue) per attribute to ``parts``. Pairs of a key
    and a short string (or a boolean) repeat, and come whole from a cache; numbers are
    often unique (counters, ids, durations), so they reuse only the key's bytes."""
    cache = _caches.get(tag)
    if cache is None:
        cache = _caches[tag] = {}
    for key, value in attributes.items():
        kind = type(value)
        if (kind is str and len(value) <= _CACHEABLE_LENGTH) or kind is bool:
            cache_key = (key, value, kind)
            field = cache.get(cache_key)
            if field is None:
                data = _key_value(key, value, utf8)
                field = tag + _varint(len(data)) + data
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[cache_key] = field
            parts.append(field)
        elif (kind is int and _INT64_MIN <= value < _INT64_END) or kind is float:
            key_field = _keys.get(key)
            if key_field is None:
                data = _text(key, utf8)
                key_field = b"\x0a" + _varint(len(data)) + data
                if len(_keys) >= _CACHE_LIMIT:
                    _keys.clear()
                _keys[key] = key_field
            number = b"\x18" + _varint(value & _MASK64) if kind is int else b"\x21" + _double(value)
            data = key_field + b"\x12" + _BYTE[len(number)] + number  # AnyValue: 11 bytes at most
            parts += (tag, _BYTE[len(data)] if len(data) < 128 else _varint(len(data)), data)
        else:
            data = _key_value(key, value, utf8)
            parts += (tag, _varint(len(data)), data)


def _event(event, utf8):
    parts = []
    if event.time_ns:
        parts += (b"\x09", _fixed64(event.time_ns))
    if event.name:
        data = _text(event.name, utf8)
        parts += (b"\x12", _varint(len(data)), data)
    if event.attributes:
        _attributes(event.attributes, b"\x1a", utf8, parts)
    if event.dropped_attributes:
        parts += (b"\x20", _varint(event.dropped_attributes))
    return b"".join(parts)


def _link(link, utf8):
    context = link.context
    parts = [b"\x0a\x10", context.trace_id.to_bytes(16, "big"), b"\x12\x08", context.span_id.to_bytes(8, "big")]
    if context.trace_state:
        data = _text(context.trace_state, utf8)
        parts += (b"\x1a", _varint(len(data)), data)
    if link.attributes:
        _attributes(link.attributes, b"\x22", utf8, parts)
    if link.dropped_attributes:
        parts += (b"\x28", _varint(link.dropped_attributes))
    return b"".join(parts)


def _span(span, utf8=_strict):
    """A ``ScopeSpans.spans`` field (tag, length, Span message)."""
    context = span.context
    parent = span.parent
    trace_id = context.trace_id
    parts = [_ids(b"\x0a\x10", trace_id >> 64, trace_id & _HALF, b"\x12\x08", context.span_id)]
    if context.trace_state:
        data = _text(context.trace_state, utf8)
        parts += (b"\x1a", _varint(len(data)), data)
    if parent is not None:
        parts.append(_id(b"\x22\x08", parent.span_id))
    name = span.name
    if name:
        data = utf8(name) if type(name) is str else _text(name, utf8)
        parts += (b"\x2a", _varint(len(data)), data)
    if span.kind:
        parts += (b"\x30", _varint(span.kind))
    start, end = span.start_ns, span.end_ns
    if start and end:
        parts.append(_times(0x39, start, 0x41, end))
    else:
        if start:
            parts += (b"\x39", _fixed64(start))
        if end:
            parts += (b"\x41", _fixed64(end))
    if span.attributes:
        _attributes(span.attributes, b"\x4a", utf8, parts)
    if span.dropped_attributes:
        parts += (b"\x50", _varint(span.dropped_attributes))
    if span.events:
        for event in span.events:
            data = _event(event, utf8)
            parts += (b"\x5a", _varint(len(data)), data)
    if span.dropped_events:
        parts += (b"\x60", _varint(span.dropped_events))
    if span.links:
        for link in span.links:
            data = _link(link, utf8)
            parts += (b"\x6a", _varint(len(data)), data)
    if span.dropped_links:
        parts += (b"\x70", _varint(span.dropped_links))
    flags = 0x100 | (0x200 if parent is not None and parent.is_remote else 0) | (context.trace_flags & 0xFF)
    message = span.status_message
    if message:
        data = _text(message, utf8)
        code = b"\x18" + _varint(span.status_code) if span.status_code else b""
        status = b"\x12" + _varint(len(data)) + data + code
        parts += (b"\x7a", _varint(len(status)), status, b"\x85\x01", _fixed32(flags))
    else:
        parts.append(_status_and_flags(span.status_code, flags))
    data = b"".join(parts)
    return b"\x12" + _varint(len(data)) + data


_tails = {}


def _status_and_flags(code, flags):
    """Fields 15 (a status without message; always set, as protobuf's own encoder does)
    and 16, which repeat from span to span."""
    tail = _tails.get((code, flags))
    if tail is None:
        status = b"\x18" + _varint(code) if code else b""
        tail = b"\x7a" + _varint(len(status)) + status + b"\x85\x01" + _fixed32(flags)
        if len(_tails) < 64:
            _tails[(code, flags)] = tail
    return tail


def _safe_span(span):
    return _span(span, safe_utf8)


def _log(record, utf8=_strict):
    """A ``ScopeLogs.log_records`` field (tag, length, LogRecord message)."""
    parts = []
    if record.time_ns:
        parts += (b"\x09", _fixed64(record.time_ns))
    if record.severity_number:
        parts += (b"\x10", _varint(record.severity_number))
    if record.severity_text:
        data = _text(record.severity_text, utf8)
        parts += (b"\x1a", _varint(len(data)), data)
    data = any_value(record.body, utf8)
    parts += (b"\x2a", _varint(len(data)), data)
    if record.attributes:
        _attributes(record.attributes, b"\x32", utf8, parts)
    if record.dropped_attributes:
        parts += (b"\x38", _varint(record.dropped_attributes))
    flags = record.trace_flags & 0xFF
    if flags:
        parts += (b"\x45", _fixed32(flags))
    trace_id = record.trace_id
    if trace_id:
        parts.append(_ids(b"\x4a\x10", trace_id >> 64, trace_id & _HALF, b"\x52\x08", record.span_id))
    if record.observed_ns:
        parts += (b"\x59", _fixed64(record.observed_ns))
    if record.event_name:
        data = _text(record.event_name, utf8)
        parts += (b"\x62", _varint(len(data)), data)
    data = b"".join(parts)
    return b"\x12" + _varint(len(data)) + data


def _safe_log(record):
    return _log(record, safe_utf8)


def _scope_field(scope):
    """``Scope*.scope`` (field 1): an InstrumentationScope, empty when there is none."""
    parts = []
    if scope is not None:
        if scope.name:
            data = _text(scope.name, safe_utf8)
            parts += (b"\x0a", _varint(len(data)), data)
        if scope.version:
            data = _text(scope.version, safe_utf8)
            parts += (b"\x12", _varint(len(data)), data)
        if scope.attributes:
            _attributes(scope.attributes, b"\x1a", safe_utf8, parts)
    data = b"".join(parts)
    return b"\x0a" + _varint(len(data)) + data


def _schema_url_field(scope):
    """``Scope*.schema_url`` (field 3, after the items)."""
    if scope is None or not scope.schema_url:
        return b""
    data = _text(scope.schema_url, safe_utf8)
    return b"\x1a" + _varint(len(data)) + data


def _resource_field(resource):
    parts = []
    if resource is not None:
        _attributes(resource.attributes, b"\x0a", safe_utf8, parts)
    data = b"".join(parts)
    return b"\x0a" + _varint(len(data)) + data


def _request(resource_field, groups):
    """Export*ServiceRequest{resource_*s: [{resource, scope_*s: [{scope, items}]}]}: the
    two signals share the field numbers of this outline."""
    parts = [resource_field]
    for (scope_field, schema_url_field), items in groups:
        data = b"".join([scope_field] + items + [schema_url_field])
        parts += (b"\x12", _varint(len(data)), data)
    data = b"".join(parts)
    return b"\x0a" + _varint(len(data)) + data


def encode(signal, resource, items, limit=MAX_REQUEST_BYTES):
    """``Encoded``: the request bodies for ``items`` (spans or log records)."""
    out = Encoded()
    one, safe = (_span, _safe_span) if signal == "traces" else (_log, _safe_log)
    resource_field = _resource_field(resource)
    groups = []
    for scope, group in by_scope(items):
        fields = (_scope_field(scope), _schema_url_field(scope))
        groups.append((fields, len(fields[0]) + len(fields[1]) + 8, encode_items(group, one, safe, out)))
    for request in chunks(groups, limit - len(resource_field) - 16, out):
        out.bodies.append((_request(resource_field, request), sum(len(items) for _, items in request)))
    return out


def encode_spans(resource, spans):
    """One request body for ``spans`` (tests and tools; the exporter uses ``encode``)."""
    return b"".join(body for body, _ in encode("traces", resource, spans, 1 << 62).bodies)


def encode_logs(resource, records):
    return b"".join(body for body, _ in encode("logs", resource, records, 1 << 62).bodies)


def _fields(data):
    """(field number, value) of each field of a message: ints for varint and fixed
    fields, bytes for length-delimited ones."""
    position, end = 0, len(data)
    while position < end:
        key, position = _read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _read_varint(data, position)
        elif wire == 1:
            value, position = int.from_bytes(data[position:position + 8], "little"), position + 8
        elif wire == 5:
            value, position = int.from_bytes(data[position:position + 4], "little"), position + 4
        elif wire == 2:
            size, position = _read_varint(data, position)
            value, position = data[position:position + size], position + size
        else:
            raise ValueError("unsupported wire type %d" % wire)
        if position > end:
            raise ValueError("truncated message")
        yield number, value


def _read_varint(data, position):
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("bad varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


def rejected(signal, body):
    """(rejected count, error message) from an Export*ServiceResponse body: field 1 is the
    partial success, whose field 1 is the count (int64) and field 2 the message."""
    count, message = 0, ""
    for number, partial in _fields(bytes(body)):
        if number != 1 or not isinstance(partial, bytes):
            continue
        for inner, value in _fields(partial):
            if inner == 1 and isinstance(value, int):
                count = value - (1 << 64) if value >= _INT64_END else value
            elif inner == 2 and isinstance(value, bytes):
                message = value.decode("utf-8", "replace")
    return max(0, count), message

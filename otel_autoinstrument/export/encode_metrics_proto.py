"""OTLP protobuf encoding of metrics, written by hand with the span encoder's primitives
(``encode_proto``: varints, attributes and their cache, resource and scope fields).

``encode("metrics", resource, metrics)`` -> ``Encoded``: bodies of
``ExportMetricsServiceRequest`` (opentelemetry-proto's ``metrics.proto``; its outline
has the field numbers of the span and log requests) each counted in data points, the
unit the receiver's partial success counts in. A point that cannot be encoded is
dropped alone; a collection larger than a request may be is split between metrics, then
between one metric's points (``fitted``). Fields are written in field-number order;
the value oneofs and a histogram's ``sum``, ``min`` and ``max`` have presence and are
written even when zero. Runs in the metrics thread.
"""

import struct

from ..metrics.data import GAUGE, HISTOGRAM
from . import outcome as reasons
from .encode_proto import (_INT64_END, _INT64_MIN, _attributes, _double, _fixed64, _request, _resource_field,
                           _schema_url_field, _scope_field, _strict, _varint, rejected)
from .encoding import MAX_REQUEST_BYTES, Encoded, by_scope, encode_items, safe_utf8

__all__ = ["encode", "encode_metrics", "encode_with", "rejected"]

_sfixed64 = struct.Struct("<q").pack


def _exemplar(exemplar):
    parts = []
    if exemplar.time_ns:
        parts += (b"\x11", _fixed64(exemplar.time_ns))
    value = exemplar.value
    as_int = type(value) is int and _INT64_MIN <= value < _INT64_END
    if not as_int:
        parts += (b"\x19", _double(float(value)))  # as_double, field 3
    if exemplar.trace_id and exemplar.span_id:  # fields 4 (span id) then 5 (trace id)
        parts += (b"\x22\x08", exemplar.span_id.to_bytes(8, "big"), b"\x2a\x10", exemplar.trace_id.to_bytes(16, "big"))
    if as_int:
        parts += (b"\x31", _sfixed64(value))  # as_int, field 6
    data = b"".join(parts)
    return _varint(len(data)) + data


def _times(point, parts):
    if point.start_ns:
        parts += (b"\x11", _fixed64(point.start_ns))
    if point.time_ns:
        parts += (b"\x19", _fixed64(point.time_ns))


def _number_point(point, utf8=_strict):
    """A ``data_points`` field (tag, length, NumberDataPoint)."""
    parts = []
    _times(point, parts)
    value = point.value
    exemplars = [b"\x2a" + _exemplar(e) for e in point.exemplars]
    if type(value) is int and _INT64_MIN <= value < _INT64_END:
        parts += exemplars
        parts += (b"\x31", _sfixed64(value))  # as_int, field 6
    else:
        parts += (b"\x21", _double(float(value)))  # as_double, field 4
        parts += exemplars
    if point.attributes:
        _attributes(point.attributes, b"\x3a", utf8, parts)
    data = b"".join(parts)
    return b"\x0a" + _varint(len(data)) + data


def _histogram_point(point, utf8=_strict):
    parts = []
    _times(point, parts)
    parts += (b"\x21", _fixed64(point.count), b"\x29", _double(float(point.sum)))
    if point.bucket_counts:
        data = struct.pack("<%dQ" % len(point.bucket_counts), *point.bucket_counts)
        parts += (b"\x32", _varint(len(data)), data)
    if point.bounds:
        data = struct.pack("<%dd" % len(point.bounds), *point.bounds)
        parts += (b"\x3a", _varint(len(data)), data)
    parts += [b"\x42" + _exemplar(e) for e in point.exemplars]
    if point.attributes:
        _attributes(point.attributes, b"\x4a", utf8, parts)
    if point.min is not None:
        parts += (b"\x59", _double(float(point.min)), b"\x61", _double(float(point.max)))
    data = b"".join(parts)
    return b"\x0a" + _varint(len(data)) + data


def _safe_number_point(point):
    return _number_point(point, safe_utf8)


def _safe_histogram_point(point):
    return _histogram_point(point, safe_utf8)


def _metric_field(metric, points):
    """A ``ScopeMetrics.metrics`` field holding ``points`` (encoded data point fields)."""
    parts = []
    for tag, text in ((b"\x0a", metric.name), (b"\x12", metric.description), (b"\x1a", metric.unit)):
        if text:
            data = safe_utf8(str(text))
            parts += (tag, _varint(len(data)), data)
    if metric.kind == HISTOGRAM:
        tag, tail = b"\x4a", b"\x10" + _varint(metric.temporality)
    elif metric.kind == GAUGE:
        tag, tail = b"\x2a", b""
    else:
        tag, tail = b"\x3a", b"\x10" + _varint(metric.temporality) + (b"\x18\x01" if metric.monotonic else b"")
    data = b"".join(points) + tail
    parts += (tag, _varint(len(data)), data)
    data = b"".join(parts)
    return b"\x12" + _varint(len(data)) + data


def encoded_points(metrics, encoders, out):
    """[(scope, metric, [encoded point])] for the metrics with points left; ``encoders``
    maps a metric kind to (encode, encode with lone surrogates replaced)."""
    parts = []
    for scope, group in by_scope(metrics):
        for metric in group:
            encode, safe = encoders[HISTOGRAM if metric.kind == HISTOGRAM else GAUGE]
            points = encode_items(metric.points, encode, safe, out)
            if points:
                parts.append((scope, metric, points))
    return parts


def fitted(parts, render, limit, out):
    """[(body, points)]: ``parts`` rendered in one body, or, when that is over ``limit``
    bytes, split in halves (between metrics, then between one metric's points) until
    each body fits; a single point too large on its own is dropped, counted."""
    bodies = []
    pending = [parts]
    while pending:
        parts = pending.pop()
        body = render(parts)
        points = sum(len(p[2]) for p in parts)
        if len(body) <= limit:
            bodies.append((body, points))
        elif len(parts) > 1:
            half = len(parts) // 2
            pending += (parts[half:], parts[:half])
        elif points > 1:
            scope, metric, encoded = parts[0]
            half = points // 2
            pending += ([(scope, metric, encoded[half:])], [(scope, metric, encoded[:half])])
        else:
            out.drop(reasons.TOO_LARGE, "a metric point of %d bytes encoded" % len(body))
    return bodies


def encode_with(metrics, encoders, one_metric, request, limit):
    """``Encoded`` for ``metrics``: points by ``encoders`` (see ``encoded_points``),
    ``one_metric(metric, points)`` a metric, ``request([(scope, [metric])])`` a body."""
    out = Encoded()

    def render(parts):
        groups = []
        for scope, metric, points in parts:
            if not groups or groups[-1][0] is not scope:
                groups.append((scope, []))
            groups[-1][1].append(one_metric(metric, points))
        return request(groups)

    parts = encoded_points(metrics, encoders, out)
    if parts:
        out.bodies += fitted(parts, render, limit, out)
    return out


_ENCODERS = {HISTOGRAM: (_histogram_point, _safe_histogram_point), GAUGE: (_number_point, _safe_number_point)}


def encode(signal, resource, metrics, limit=MAX_REQUEST_BYTES):
    """``Encoded``: the request bodies for ``metrics``, each with its number of points."""
    resource_field = _resource_field(resource)
    return encode_with(metrics, _ENCODERS, _metric_field, lambda groups: _request(resource_field, [
        ((_scope_field(scope), _schema_url_field(scope)), fields) for scope, fields in groups]), limit)


def encode_metrics(resource, metrics):
    """One request body for ``metrics`` (tests and tools; the exporter uses ``encode``)."""
    return b"".join(body for body, _ in encode("metrics", resource, metrics, 1 << 62).bodies)

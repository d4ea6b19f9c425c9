"""OTLP/JSON encoding of metrics: the protobuf JSON mapping with OTLP's exceptions
(lowerCamelCase keys, 64-bit integers as decimal strings, enums as numbers, trace and
span ids as hex). Bodies are cut by size and counted in points as the protobuf encoder's
are (``encode_metrics_proto.fitted``). Run in the metrics thread."""

import math

from ..metrics.data import GAUGE, HISTOGRAM
from .encode_json import _dumps, key_values, rejected
from .encode_metrics_proto import encode_with
from .encoding import MAX_REQUEST_BYTES, safe_utf8

__all__ = ["encode", "encode_metrics", "rejected"]

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _double(value):
    value = float(value)
    if math.isfinite(value):
        return value
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def _value(out, value, int_key="asInt", double_key="asDouble"):
    if isinstance(value, int) and not isinstance(value, bool) and _INT64_MIN <= value <= _INT64_MAX:
        out[int_key] = str(value)
    else:
        out[double_key] = _double(value)
    return out


def _exemplar(exemplar):
    out = _value({"timeUnixNano": str(exemplar.time_ns)}, exemplar.value)
    if exemplar.trace_id and exemplar.span_id:
        out["traceId"] = "%032x" % exemplar.trace_id
        out["spanId"] = "%016x" % exemplar.span_id
    return out


def _times(out, point):
    if point.start_ns:
        out["startTimeUnixNano"] = str(point.start_ns)
    out["timeUnixNano"] = str(point.time_ns)
    return out


def _number_point(point):
    out = _times({"attributes": key_values(point.attributes)}, point)
    _value(out, point.value)
    if point.exemplars:
        out["exemplars"] = [_exemplar(e) for e in point.exemplars]
    return out


def _histogram_point(point):
    out = _times({"attributes": key_values(point.attributes)}, point)
    out.update({"count": str(point.count), "sum": _double(point.sum),
                "bucketCounts": [str(c) for c in point.bucket_counts],
                "explicitBounds": [_double(b) for b in point.bounds]})
    if point.min is not None:
        out["min"] = _double(point.min)
        out["max"] = _double(point.max)
    if point.exemplars:
        out["exemplars"] = [_exemplar(e) for e in point.exemplars]
    return out


def _metric(metric, points):
    out = {"name": metric.name, "description": metric.description, "unit": metric.unit}
    if metric.kind == HISTOGRAM:
        out["histogram"] = {"dataPoints": points, "aggregationTemporality": metric.temporality}
    elif metric.kind == GAUGE:
        out["gauge"] = {"dataPoints": points}
    else:
        out["sum"] = {"dataPoints": points, "aggregationTemporality": metric.temporality,
                      "isMonotonic": bool(metric.monotonic)}
    return out


def _scope_metrics(scope, metrics):
    out = {"scope": {}, "metrics": metrics}
    if scope is not None:
        out["scope"] = {"name": scope.name, "version": scope.version}
        if scope.attributes:
            out["scope"]["attributes"] = key_values(scope.attributes)
        if scope.schema_url:
            out["schemaUrl"] = scope.schema_url
    return out


def _utf8(text):
    try:
        return text.encode()
    except UnicodeEncodeError:
        return safe_utf8(text)


_ENCODERS = {HISTOGRAM: (_histogram_point, _histogram_point), GAUGE: (_number_point, _number_point)}


def encode(signal, resource, metrics, limit=MAX_REQUEST_BYTES):
    """``Encoded``: the request bodies for ``metrics``, each with its number of points."""
    resource_json = {"attributes": key_values(resource.attributes) if resource else []}
    return encode_with(metrics, _ENCODERS, _metric, lambda groups: _utf8(_dumps({"resourceMetrics": [{
        "resource": resource_json, "scopeMetrics": [_scope_metrics(scope, found) for scope, found in groups]}]})),
        limit)


def encode_metrics(resource, metrics):
    """One request body for ``metrics`` (tests and tools; the exporter uses ``encode``)."""
    return b"".join(body for body, _ in encode("metrics", resource, metrics, 1 << 62).bodies)

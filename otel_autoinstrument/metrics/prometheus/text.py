"""Metrics as the Prometheus text exposition format 0.0.4, translated as the
OpenTelemetry Prometheus compatibility specification says.

* Names: characters outside ``[a-zA-Z0-9_:]`` become ``_`` (runs of ``_`` collapse);
  the unit, in Prometheus words (``s`` -> ``seconds``, ``By`` -> ``bytes``, ``m/s`` ->
  ``meters_per_second``; ``{request}``-style annotations dropped; ``1`` -> ``ratio`` for
  gauges), is appended unless the name already ends with it; monotonic sums become
  counters ending in ``_total``. ``http.server.request.duration`` (s, histogram) ->
  ``http_server_request_duration_seconds`` with ``_bucket{le=...}``, ``_sum``, ``_count``.
* Non-monotonic sums (up-down counters) and gauges are gauges.
* Labels: attribute keys translated like names (without ``:``); keys that collide are
  joined with ``;`` in the order of the original keys; every point carries
  ``otel_scope_name`` and ``otel_scope_version``. Values other than strings are written
  as the specification's non-OTLP representation (``true``, ``42``, JSON arrays).
* ``target_info`` (a gauge of value 1) carries the resource attributes.
* A family whose name is already taken by another type is dropped with one warning.

The 0.0.4 format carries neither exemplars nor start times; both are left out.
"""

import json
import math

from ... import _log
from ..data import GAUGE, HISTOGRAM, SUM

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_UNIT_WORDS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
    "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
    "TiBy": "tebibytes", "kBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius",
    "Hz": "hertz", "%": "percent",
}
_PER_UNIT = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_said = set()


def _sanitize(text, allowed_colon=True):
    out = []
    for ch in text:
        ok = ch.isascii() and (ch.isalnum() or ch == "_" or (allowed_colon and ch == ":"))
        if ok:
            out.append(ch)
        elif not out or out[-1] != "_":
            out.append("_")
    name = "".join(out)
    while "__" in name:
        name = name.replace("__", "_")
    if name and name[0].isdigit():
        name = "_" + name
    return name or "_"


def _words(unit):
    unit = unit.strip()
    if not unit:
        return ""
    return _UNIT_WORDS.get(unit) or _sanitize(unit, False).strip("_")


def unit_suffix(unit, kind):
    """The Prometheus unit word(s) of a UCUM unit ('' when there are none)."""
    text = unit or ""
    while "{" in text and "}" in text.split("{", 1)[1]:
        head, rest = text.split("{", 1)
        text = head + rest.split("}", 1)[1]
    text = text.strip()
    if text == "1":
        return "ratio" if kind == GAUGE else ""
    if "/" in text:
        numerator, denominator = text.split("/", 1)
        per = _PER_UNIT.get(denominator.strip()) or _words(denominator)
        first = _words(numerator)
        if first and per:
            return "%s_per_%s" % (first, per)
        return first or ("per_" + per if per else "")
    return _words(text)


def metric_name(name, unit, kind, monotonic):
    """(family name, Prometheus type) of an OTLP metric."""
    base = _sanitize(name)
    counter = kind == SUM and monotonic
    if counter and base.endswith("_total"):
        base = base[:-len("_total")]
    suffix = unit_suffix(unit, GAUGE if kind == SUM and not monotonic else kind)
    if suffix and not base.endswith("_" + suffix) and base != suffix:
        base = base + "_" + suffix
    if counter:
        return base + "_total", "counter"
    return base, "histogram" if kind == HISTOGRAM else "gauge"


def label_value(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value), separators=(",", ":"))
    return str(value)


def labels(attributes, extra=()):
    """Translated, collision-joined labels of ``attributes`` plus ``extra`` pairs."""
    grouped = {}
    for key in sorted(attributes):
        grouped.setdefault(_sanitize(key, False), []).append(label_value(attributes[key]))
    found = {k: ";".join(v) for k, v in grouped.items()}
    for key, value in extra:
        if value:
            found[key] = value
    return found


def _escape(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(pairs):
    if not pairs:
        return ""
    return "{%s}" % ",".join('%s="%s"' % (k, _escape(v)) for k, v in pairs.items())


def number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render(metrics, resource_attributes=None):
    """The exposition text of ``metrics`` (data.Metric) and a target_info of
    ``resource_attributes``."""
    families = {}  # name -> (type, help, [lines])
    for item in metrics:
        name, kind = metric_name(item.name, item.unit, item.kind, item.monotonic)
        family = families.get(name)
        if family is None:
            family = families[name] = (kind, item.description, [])
        elif family[0] != kind:
            _warn_once(name, "metric %s dropped from the Prometheus endpoint: its name %s is already used by a %s"
                       % (item.name, name, family[0]))
            continue
        scope = item.scope
        extra = (("otel_scope_name", scope.name if scope else ""), ("otel_scope_version", scope.version if scope else ""))
        for point in item.points:
            pairs = labels(point.attributes, extra)
            if kind == "histogram":
                family[2].extend(_histogram_lines(name, pairs, point))
            else:
                family[2].append("%s%s %s" % (name, _label_text(pairs), number(point.value)))
    out = []
    if resource_attributes:
        out += ["# HELP target_info Target metadata", "# TYPE target_info gauge",
                "target_info%s 1" % _label_text(labels(resource_attributes))]
    for name, (kind, description, lines) in families.items():
        if description:
            out.append("# HELP %s %s" % (name, description.replace("\\", "\\\\").replace("\n", "\\n")))
        out.append("# TYPE %s %s" % (name, kind))
        out.extend(lines)
    return "\n".join(out) + "\n"


def _histogram_lines(name, pairs, point):
    lines = []
    running = 0
    for bound, count in zip(list(point.bounds) + [float("inf")], point.bucket_counts):
        running += count
        bucket = dict(pairs)
        bucket["le"] = "+Inf" if bound == float("inf") else repr(float(bound))
        lines.append("%s_bucket%s %d" % (name, _label_text(bucket), running))
    lines.append("%s_sum%s %s" % (name, _label_text(pairs), number(float(point.sum))))
    lines.append("%s_count%s %d" % (name, _label_text(pairs), point.count))
    return lines


def _warn_once(key, message):
    if key not in _said:
        _said.add(key)
        _log.warning(message)

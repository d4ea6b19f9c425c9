"""The ``console`` metrics exporter: one compact table per export interval on stdout.

    metrics  pid 4242  2026-11-25 10:15:02  3 metrics, 5 points
      http.server.request.duration  s  {http.request.method=GET http.route=/users/<id> ...}  count=12 sum=0.153 min=0.004 max=0.051
      http.server.active_requests   {request}  {http.request.method=GET url.scheme=http}  0
      process.cpu.time  s  {cpu.mode=user}  1.27

One line per point: the metric's name and unit, its attributes, then the value (a
histogram's count, sum, min and max). Delta points are marked ``(delta)``. The
application's and the instrumentations' metrics come first, the runtime metrics last.
"""

import sys
import time

from ..metrics.data import DELTA, HISTOGRAM
from .outcome import Outcome

_RUNTIME_SCOPE = "otel_autoinstrument.runtime"


def _number(value):
    if isinstance(value, float):
        return "%.6g" % value
    return str(value)


def _attributes(attributes):
    if not attributes:
        return "{}"
    return "{%s}" % " ".join("%s=%s" % (k, v) for k, v in attributes.items())


def format_metrics(metrics, pid=None):
    metrics = sorted(metrics, key=lambda m: m.scope is not None and m.scope.name == _RUNTIME_SCOPE)
    points = sum(len(m.points) for m in metrics)
    lines = ["metrics  pid %s  %s  %d metrics, %d points" % (
        pid if pid is not None else "-", time.strftime("%Y-%m-%d %H:%M:%S"), len(metrics), points)]
    width = max((len(m.name) for m in metrics), default=0)
    for item in metrics:
        mark = " (delta)" if item.temporality == DELTA else ""
        for point in item.points:
            if item.kind == HISTOGRAM:
                value = "count=%d sum=%s" % (point.count, _number(point.sum))
                if point.min is not None:
                    value += " min=%s max=%s" % (_number(point.min), _number(point.max))
            else:
                value = _number(point.value)
            lines.append("  %s  %s  %s  %s%s" % (item.name.ljust(width), item.unit or "-",
                                                 _attributes(point.attributes), value, mark))
    return lines


class ConsoleMetricExporter:
    def __init__(self, stream=None):
        self.stream = stream

    def export(self, metrics, deadline):
        import os

        stream = self.stream or sys.stdout
        stream.write("\n".join(format_metrics(metrics, os.getpid())) + "\n")
        stream.flush()
        return Outcome(sum(len(m.points) for m in metrics))

    def after_fork(self):
        pass

    def shutdown(self):
        pass

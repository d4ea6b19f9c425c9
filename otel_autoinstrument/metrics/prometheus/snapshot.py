"""A process's cumulative metrics as a JSON document, and the merge of many of them.

The processes of a pre-fork server each write their metrics to a file (``rundir``);
whichever process serves the scrape merges the files into one view:

* counters (monotonic sums) and histograms: added up over every process, the exited
  ones included (their last snapshot, folded into the archive), so a total never goes
  backwards when a worker is replaced;
* up-down counters (active requests, memory, threads): added up over the live
  processes only: a dead worker has no requests in flight;
* gauges: the most recent value, except ``process.cpu.utilization``, added up over the
  live processes (the process group's share of the CPUs);
* histogram points with different boundaries for the same series are not added (the
  first one's are kept, with one warning).
"""

from ... import _log
from ...trace.span import Scope
from ..data import GAUGE, HISTOGRAM, SUM, HistogramPoint, Metric, NumberPoint

SUMMED_GAUGES = frozenset(("process.cpu.utilization",))
_said = set()


def to_document(metrics):
    """Cumulative metrics (data.Metric) as a JSON-ready list."""
    out = []
    for item in metrics:
        points = []
        for point in item.points:
            pairs = [[k, list(v) if isinstance(v, tuple) else v] for k, v in point.attributes.items()]
            if item.kind == HISTOGRAM:
                points.append([pairs, point.count, point.sum, list(point.bucket_counts), list(point.bounds)])
            else:
                points.append([pairs, point.value, point.time_ns])
        scope = item.scope
        out.append({"name": item.name, "description": item.description, "unit": item.unit, "kind": item.kind,
                    "monotonic": bool(item.monotonic), "scope": [scope.name, scope.version] if scope else ["", ""],
                    "points": points})
    return out


def from_document(document):
    """data.Metric objects of a document (unusable entries are skipped)."""
    found = []
    for entry in document or ():
        try:
            kind = entry["kind"]
            points = []
            for raw in entry["points"]:
                attributes = {k: tuple(v) if isinstance(v, list) else v for k, v in raw[0]}
                if kind == HISTOGRAM:
                    points.append(HistogramPoint(attributes, 0, 0, int(raw[1]), float(raw[2]),
                                                 [int(c) for c in raw[3]], tuple(float(b) for b in raw[4])))
                else:
                    points.append(NumberPoint(attributes, 0, int(raw[2]), raw[1]))
            found.append(Metric(entry["name"], entry.get("description", ""), entry.get("unit", ""), kind,
                                bool(entry.get("monotonic")), 2 if kind != GAUGE else 0, Scope(*entry["scope"]),
                                points))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return found


def _identity(item):
    scope = item.scope
    return (scope.name, scope.version, item.name, item.kind, item.monotonic, item.unit)


class Merge:
    """Adds metrics of several processes together (see the module's rules)."""

    def __init__(self):
        self._metrics = {}  # identity -> (Metric, {attribute key: point})

    def add(self, metrics, live=True):
        for item in metrics:
            if not live and not (item.kind == HISTOGRAM or (item.kind == SUM and item.monotonic)):
                continue  # an exited process's gauges and up-down counters no longer count
            identity = _identity(item)
            entry = self._metrics.get(identity)
            if entry is None:
                entry = self._metrics[identity] = (Metric(item.name, item.description, item.unit, item.kind,
                                                          item.monotonic, item.temporality, item.scope, []), {})
            for point in item.points:
                self._add_point(item, entry[1], point)

    def _add_point(self, item, points, point):
        key = frozenset(point.attributes.items())
        known = points.get(key)
        if known is None:
            points[key] = _copy(point)
        elif item.kind == HISTOGRAM:
            if tuple(known.bounds) != tuple(point.bounds):
                if item.name not in _said:
                    _said.add(item.name)
                    _log.warning("metric %s: processes use different bucket boundaries; only the first "
                                 "boundaries' points are merged", item.name)
                return
            known.count += point.count
            known.sum += point.sum
            known.bucket_counts = [a + b for a, b in zip(known.bucket_counts, point.bucket_counts)]
        elif item.kind == SUM or item.name in SUMMED_GAUGES:
            known.value += point.value
        elif point.time_ns >= known.time_ns:
            known.value, known.time_ns = point.value, point.time_ns

    def metrics(self):
        found = []
        for metric, points in self._metrics.values():
            metric.points = list(points.values())
            if metric.points:
                found.append(metric)
        return found


def _copy(point):
    if isinstance(point, HistogramPoint):
        return HistogramPoint(point.attributes, point.start_ns, point.time_ns, point.count, point.sum,
                              list(point.bucket_counts), point.bounds)
    return NumberPoint(point.attributes, point.start_ns, point.time_ns, point.value)

"""One consumer's collections: the points of every instrument, in its temporality.

The series hold cumulative values; a collector turns them into what its exporter
wants. Cumulative points repeat the series' start time; delta points report what
changed since this collector's previous collection (the difference of two cumulative
readings, so several collectors never disturb each other) and start at its previous
collection time. Series and observed attribute sets with nothing new are left out of
delta collections, as the specification says.

Exactly one collector per process "owns the window" (the periodic exporter's): its
collections start a new min/max and exemplar window in each series, so each exported
point carries the exemplars of its own interval. The Prometheus snapshot's collector
reads without resetting anything.

Observable instruments' callbacks run here, in the collecting thread: a callback that
raises is reported once and left out of that collection; at most the cardinality limit
of attribute sets per instrument and collection is kept (the first observed), the rest
is aggregated into the ``otel.metric.overflow=true`` point.
"""

import time

from .. import _log
from .data import CUMULATIVE, DELTA, GAUGE, HISTOGRAM, SUM, HistogramPoint, Metric, NumberPoint, exemplars_of
from .instruments import (
    COUNTER, GAUGE as GAUGE_KIND, HISTOGRAM as HISTOGRAM_KIND, OBSERVABLE_COUNTER, OBSERVABLE_GAUGE,
    OBSERVABLE_UP_DOWN_COUNTER, UP_DOWN_COUNTER)
from .storage import OVERFLOW_ATTRIBUTES, attribute_key, clean_attributes

_INF = float("inf")
_ALL_CUMULATIVE = {kind: CUMULATIVE for kind in (COUNTER, UP_DOWN_COUNTER, HISTOGRAM_KIND, GAUGE_KIND,
                                                   OBSERVABLE_COUNTER, OBSERVABLE_UP_DOWN_COUNTER, OBSERVABLE_GAUGE)}


def temporality_preference(preference):
    """OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE -> {instrument kind: temporality}."""
    chosen = dict(_ALL_CUMULATIVE)
    if preference == "delta":
        for kind in (COUNTER, OBSERVABLE_COUNTER, HISTOGRAM_KIND):
            chosen[kind] = DELTA
    elif preference == "lowmemory":
        for kind in (COUNTER, HISTOGRAM_KIND):
            chosen[kind] = DELTA
    return chosen


class Collector:
    def __init__(self, provider, temporality=None, owns_window=False):
        self.provider = provider
        self.temporality = temporality or dict(_ALL_CUMULATIVE)
        self.owns_window = owns_window
        self._said = set()
        self._forget()
        provider.on_fork.append(self._forget)

    def _forget(self):
        self._previous = {}  # series, or (instrument, attribute key): the last reading
        self._extremes = {}  # histogram series -> (min, max) since start, for cumulative points
        self._last_ns = self.provider.start_ns

    def collect(self, instruments=None):
        """The metrics of ``instruments`` (default: all) as they are now."""
        now = time.time_ns()
        found = []
        for instrument in self.provider.instruments() if instruments is None else instruments:
            try:
                metric = self._metric(instrument, now)
            except Exception:
                _log.internal_error("collecting metric %s" % instrument.name)
                continue
            if metric is not None and metric.points:
                found.append(metric)
        self._last_ns = now
        return found

    def _metric(self, instrument, now):
        kind = instrument.kind
        temporality = self.temporality.get(kind, CUMULATIVE)
        if kind == COUNTER or kind == UP_DOWN_COUNTER:
            points = self._sums(instrument, now, temporality)
            return self._make(instrument, SUM, kind == COUNTER, temporality, points)
        if kind == HISTOGRAM_KIND:
            return self._make(instrument, HISTOGRAM, False, temporality, self._histograms(instrument, now, temporality))
        if kind == GAUGE_KIND:
            return self._make(instrument, GAUGE, False, 0, self._gauges(instrument))
        observed = self._observe(instrument)
        if kind == OBSERVABLE_GAUGE:
            points = [NumberPoint(attributes, 0, now, value) for attributes, value in observed]
            return self._make(instrument, GAUGE, False, 0, points)
        points = self._observed_sums(instrument, observed, now, temporality)
        return self._make(instrument, SUM, kind == OBSERVABLE_COUNTER, temporality, points)

    @staticmethod
    def _make(instrument, kind, monotonic, temporality, points):
        return Metric(instrument.name, instrument.description, instrument.unit, kind, monotonic, temporality,
                      instrument.scope, points)

    # --- synchronous instruments ------------------------------------------------------

    def _sums(self, instrument, now, temporality):
        points = []
        owns = self.owns_window
        previous = self._previous
        for series in instrument.storage.series():
            value, count, raw = series.take(owns)
            if not count:
                continue
            exemplars = exemplars_of(raw) if owns else ()
            if temporality == DELTA:
                before = previous.get(series)
                previous[series] = (value, count)
                if before is not None:
                    if count == before[1]:
                        continue
                    value = value - before[0]
                points.append(NumberPoint(series.attributes, self._delta_start(instrument), now, value, exemplars))
            else:
                points.append(NumberPoint(series.attributes, series.start_ns, now, value, exemplars))
        return points

    def _histograms(self, instrument, now, temporality):
        points = []
        owns = self.owns_window
        previous = self._previous
        bounds = instrument.bounds
        for series in instrument.storage.series():
            counts, count, total, low, high, raw = series.take(owns)
            if not count:
                continue
            exemplars = exemplars_of(raw) if owns else ()
            start = series.start_ns
            if temporality == DELTA:
                before = previous.get(series)
                previous[series] = (counts, count, total)
                start = self._delta_start(instrument)
                if before is not None:
                    if count == before[1]:
                        continue
                    counts = [a - b for a, b in zip(counts, before[0])]
                    count, total = count - before[1], total - before[2]
            elif owns:
                known = self._extremes.get(series)
                if known is not None:
                    low, high = min(low, known[0]), max(high, known[1])
                self._extremes[series] = (low, high)
            if not owns or low == _INF:
                low = high = None  # not tracked by this collector
            points.append(HistogramPoint(series.attributes, start, now, count, total, counts, bounds, low, high,
                                         exemplars))
        return points

    def _gauges(self, instrument):
        points = []
        owns = self.owns_window
        for series in instrument.storage.series():
            (value, at), count, raw = series.take(owns)
            if count:
                points.append(NumberPoint(series.attributes, 0, at, value, exemplars_of(raw) if owns else ()))
        return points

    # --- observable instruments -------------------------------------------------------

    def _observe(self, instrument):
        """[(attributes, value)] from the callbacks, first-observed attribute sets first,
        the rest in the overflow point."""
        kept = {}
        overflow = None
        gauge = instrument.kind == OBSERVABLE_GAUGE
        for callback in list(instrument.callbacks):
            try:
                observations = list(callback() or ())
            except Exception as exc:
                self._callback_failed(instrument, callback, exc)
                continue
            for observation in observations:
                value, attributes = _observation(observation)
                if value is None:
                    continue
                clean = clean_attributes(attributes) if attributes else {}
                key = frozenset(clean.items())  # as exported: {} and {"k": None} are one set
                if key in kept or len(kept) < instrument.limit:
                    kept[key] = (clean, value)
                elif overflow is None or gauge:
                    overflow = value
                else:
                    overflow += value
        found = list(kept.values())
        if overflow is not None:
            found.append((dict(OVERFLOW_ATTRIBUTES), overflow))
        return found

    def _callback_failed(self, instrument, callback, exc):
        key = (instrument.name, id(callback))
        if key not in self._said:
            self._said.add(key)
            _log.warning("metric %s: its callback raised %s: %s; left out of this collection", instrument.name,
                         type(exc).__name__, exc)

    def _observed_sums(self, instrument, observed, now, temporality):
        if temporality != DELTA:
            return [NumberPoint(attributes, instrument.created_ns, now, value) for attributes, value in observed]
        points = []
        previous = self._previous
        for attributes, value in observed:
            key = (instrument, attribute_key(attributes))
            before = previous.get(key)
            previous[key] = value
            if before is None or value != before:
                points.append(NumberPoint(attributes, self._delta_start(instrument), now,
                                          value if before is None else value - before))
        return points

    def _delta_start(self, instrument):
        """Every delta point of an instrument starts at this collector's previous
        collection, or at the instrument's creation if that came later."""
        return max(self._last_ns, instrument.created_ns)


def _observation(observation):
    """(value, attributes) of a callback's observation, or (None, None) if unusable."""
    if isinstance(observation, tuple) and len(observation) == 2:
        value, attributes = observation
    else:
        value = getattr(observation, "value", None)
        attributes = getattr(observation, "attributes", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None, None
    if attributes is not None and not isinstance(attributes, dict):
        try:
            attributes = dict(attributes)
        except (TypeError, ValueError):
            return None, None
    return value, attributes

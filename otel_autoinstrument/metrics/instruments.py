"""Instruments and meters: what instrumentations and applications record with.

Synchronous instruments record where the code runs (``add``, ``record``, ``set``), into
the series of their attribute set; ``bind(attributes)`` returns that series once, so a
hot path pays no attribute-set lookup. Asynchronous (observable) instruments hold
callbacks that the collection calls: each returns ``(value, attributes)`` pairs (or
objects with ``value`` and ``attributes``).

Every recording method takes an optional ``span``: the span the measurement belongs to,
for the exemplar (by default the current span). Instrumentations pass the operation's
span because they record when it has already stopped being current.

When metrics are off (``OTEL_METRICS_EXPORTER=none``) a ``NoopMeter`` hands out
instruments whose series do nothing, and ``meter.enabled`` is False so callers can skip
building attributes at all.
"""

import time

from .. import _log
from .series import NOOP_SERIES, GaugeSeries, HistogramSeries, SumSeries
from .storage import Storage

COUNTER = "counter"
UP_DOWN_COUNTER = "updowncounter"
HISTOGRAM = "histogram"
GAUGE = "gauge"
OBSERVABLE_COUNTER = "observable_counter"
OBSERVABLE_UP_DOWN_COUNTER = "observable_updowncounter"
OBSERVABLE_GAUGE = "observable_gauge"
SYNCHRONOUS = frozenset((COUNTER, UP_DOWN_COUNTER, HISTOGRAM, GAUGE))

# The specification's default explicit bucket boundaries.
DEFAULT_BOUNDARIES = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0,
                      7500.0, 10000.0)

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")


def name_problem(name):
    """Why ``name`` is not a valid instrument name (the specification's syntax), or None."""
    if not isinstance(name, str) or not name:
        return "an instrument name must be a non-empty string"
    if len(name) > 255 or not name[0].isascii() or not name[0].isalpha() or not _NAME_CHARS.issuperset(name):
        return "%r is not a valid instrument name (a letter, then up to 254 of A-Z a-z 0-9 _ . / -)" % name[:80]
    return None


def valid_boundaries(boundaries, name):
    """Sorted, distinct, finite boundaries as floats; the default (with a warning) otherwise."""
    if boundaries is None:
        return DEFAULT_BOUNDARIES
    try:
        bounds = tuple(float(b) for b in boundaries)
    except (TypeError, ValueError):
        bounds = None
    if bounds is None or any(b != b or b in (float("inf"), float("-inf")) for b in bounds) or \
            any(a >= b for a, b in zip(bounds, bounds[1:])):
        _log.warning("metric %s: bucket boundaries must be increasing finite numbers; using the default", name)
        return DEFAULT_BOUNDARIES
    return bounds


class Instrument:
    __slots__ = ("name", "unit", "description", "kind", "scope", "created_ns")

    def __init__(self, name, unit, description, kind, scope):
        self.name = name
        self.unit = unit or ""
        self.description = description or ""
        self.kind = kind
        self.scope = scope
        self.created_ns = time.time_ns()

    @property
    def identity(self):
        return (self.kind, self.unit, self.description)

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.name)


class _Synchronous(Instrument):
    __slots__ = ("storage",)

    def __init__(self, name, unit, description, kind, scope, make, limit):
        super().__init__(name, unit, description, kind, scope)
        self.storage = Storage(name, make, limit)

    def bind(self, attributes=None):
        """The series of ``attributes``: record on it directly, as often as needed."""
        return self.storage.bind(attributes)

    def after_fork(self):
        self.storage.after_fork()


class Counter(_Synchronous):
    __slots__ = ()

    def __init__(self, name, unit, description, scope, limit, exemplar_mode):
        super().__init__(name, unit, description, COUNTER, scope,
                         lambda attributes: SumSeries(name, attributes, True, exemplar_mode), limit)

    def add(self, amount, attributes=None, span=None):
        self.storage.bind(attributes).add(amount, span)


class UpDownCounter(_Synchronous):
    __slots__ = ()

    def __init__(self, name, unit, description, scope, limit, exemplar_mode):
        super().__init__(name, unit, description, UP_DOWN_COUNTER, scope,
                         lambda attributes: SumSeries(name, attributes, False, exemplar_mode), limit)

    def add(self, amount, attributes=None, span=None):
        self.storage.bind(attributes).add(amount, span)


class Histogram(_Synchronous):
    __slots__ = ("bounds",)

    def __init__(self, name, unit, description, scope, limit, exemplar_mode, boundaries=None):
        bounds = valid_boundaries(boundaries, name)
        super().__init__(name, unit, description, HISTOGRAM, scope,
                         lambda attributes: HistogramSeries(name, attributes, bounds, exemplar_mode), limit)
        self.bounds = bounds

    @property
    def identity(self):
        return (self.kind, self.unit, self.description, self.bounds)

    def record(self, amount, attributes=None, span=None):
        self.storage.bind(attributes).record(amount, span)


class Gauge(_Synchronous):
    __slots__ = ()

    def __init__(self, name, unit, description, scope, limit, exemplar_mode):
        super().__init__(name, unit, description, GAUGE, scope,
                         lambda attributes: GaugeSeries(name, attributes, exemplar_mode), limit)

    def set(self, amount, attributes=None, span=None):
        self.storage.bind(attributes).set(amount, span)


class Observable(Instrument):
    """An asynchronous instrument: ``callbacks`` are called at each collection."""

    __slots__ = ("callbacks", "limit")

    def __init__(self, name, unit, description, kind, scope, limit, callbacks=()):
        super().__init__(name, unit, description, kind, scope)
        self.limit = limit
        self.callbacks = [c for c in callbacks if callable(c)]

    def add_callback(self, callback):
        if callable(callback) and callback not in self.callbacks:
            self.callbacks.append(callback)

    def remove_callback(self, callback):
        if callback in self.callbacks:
            self.callbacks.remove(callback)

    def after_fork(self):
        pass


class NoopInstrument:
    """Every instrument kind, disabled."""

    __slots__ = ("name",)

    def __init__(self, name=""):
        self.name = name

    def bind(self, attributes=None):
        return NOOP_SERIES

    def add(self, amount, attributes=None, span=None):
        pass

    def record(self, amount, attributes=None, span=None):
        pass

    def set(self, amount, attributes=None, span=None):
        pass

    def add_callback(self, callback):
        pass

    def remove_callback(self, callback):
        pass


NOOP_INSTRUMENT = NoopInstrument()


class Meter:
    """Creates the instruments of one instrumentation scope (through the provider, which
    returns the existing instrument for a second creation of the same one)."""

    enabled = True

    def __init__(self, provider, scope):
        self.provider = provider
        self.scope = scope

    def counter(self, name, unit="", description=""):
        return self.provider.instrument(Counter, name, unit, description, self.scope)

    def up_down_counter(self, name, unit="", description="", exemplars=True):
        """``exemplars=False``: no exemplars for this one (a level, such as active requests,
        whose exemplars tell nothing), and no exemplar work on its updates."""
        return self.provider.instrument(UpDownCounter, name, unit, description, self.scope, exemplars=exemplars)

    def histogram(self, name, unit="", description="", boundaries=None):
        """``boundaries``: the advisory explicit bucket boundaries (default: the spec's)."""
        return self.provider.instrument(Histogram, name, unit, description, self.scope, boundaries=boundaries)

    def gauge(self, name, unit="", description=""):
        return self.provider.instrument(Gauge, name, unit, description, self.scope)

    def observable_counter(self, name, callbacks=(), unit="", description=""):
        return self.provider.observable(OBSERVABLE_COUNTER, name, unit, description, self.scope, callbacks)

    def observable_up_down_counter(self, name, callbacks=(), unit="", description=""):
        return self.provider.observable(OBSERVABLE_UP_DOWN_COUNTER, name, unit, description, self.scope, callbacks)

    def observable_gauge(self, name, callbacks=(), unit="", description=""):
        return self.provider.observable(OBSERVABLE_GAUGE, name, unit, description, self.scope, callbacks)


class NoopMeter:
    """The meter when metrics are off: instruments that record nothing."""

    enabled = False
    scope = None

    def counter(self, name, unit="", description=""):
        return NOOP_INSTRUMENT

    def up_down_counter(self, name, unit="", description="", exemplars=True):
        return NOOP_INSTRUMENT

    gauge = counter

    def histogram(self, name, unit="", description="", boundaries=None):
        return NOOP_INSTRUMENT

    def observable_counter(self, name, callbacks=(), unit="", description=""):
        return NOOP_INSTRUMENT

    observable_up_down_counter = observable_gauge = observable_counter


NOOP_METER = NoopMeter()

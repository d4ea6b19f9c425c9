"""The series of one synchronous instrument, by attribute set, under the cardinality limit.

``bind(attributes)`` returns the series of an attribute set, creating it on first use.
An instrument holds at most ``limit`` series (``OTEL_PYTHON_METRICS_CARDINALITY_LIMIT``,
the specification's 2000 by default); the measurements of any further attribute set
go to one more series whose only attribute is ``otel.metric.overflow=true``, as the
specification says: totals stay right, nothing is dropped, and memory is bounded. The
first overflow of an instrument is reported once; the overflow series' own count says
how many measurements went there.

Attribute sets are keyed by ``frozenset(attributes.items())`` (list values become
tuples); the instrumentations avoid even that by keeping the bound series.
"""

from _thread import allocate_lock

from .. import _log

OVERFLOW_ATTRIBUTES = {"otel.metric.overflow": True}
_VALUE_TYPES = (str, bool, int, float)


def clean_attributes(attributes):
    """A copy of ``attributes`` with string keys and attribute-typed values only (lists
    become tuples; anything else is left out)."""
    clean = {}
    for key, value in attributes.items():
        if not isinstance(key, str):
            continue
        if isinstance(value, _VALUE_TYPES):
            clean[key] = value
        elif isinstance(value, (list, tuple)):
            clean[key] = tuple(v for v in value if isinstance(v, _VALUE_TYPES))
    return clean


def attribute_key(attributes):
    if not attributes:
        return frozenset()
    try:
        return frozenset(attributes.items())
    except TypeError:  # a list value: unhashable
        return frozenset(clean_attributes(attributes).items())


class Storage:
    """``make(attributes)`` builds a series; ``limit`` bounds how many there are."""

    def __init__(self, name, make, limit):
        self.name = name
        self._make = make
        self.limit = limit
        self._series = {}  # the cleaned attribute set's key -> its series
        # Other keys met: sets that went to the overflow series, and sets that are not
        # their cleaned selves (a None or object value, a non-string key), which share the
        # series of what they clean to. Bounded, cleared when full.
        self._aliases = {}
        self._lock = allocate_lock()
        self.overflow = None

    def bind(self, attributes=None):
        key = attribute_key(attributes)
        series = self._series.get(key)
        if series is None:
            series = self._aliases.get(key) or self._create(key, attributes)
        return series

    def _create(self, key, attributes):
        with self._lock:
            series = self._series.get(key)
            if series is not None:
                return series
            clean = clean_attributes(attributes) if attributes else {}
            clean_key = frozenset(clean.items())
            series = self._series.get(clean_key)
            if series is None:
                if len(self._series) < self.limit:
                    series = self._series[clean_key] = self._make(clean)
                else:
                    series = self._overflow()
            if clean_key != key or series is self.overflow:
                if len(self._aliases) >= self.limit:
                    self._aliases.clear()
                self._aliases[key] = series
            return series

    def _overflow(self):
        if self.overflow is None:
            self.overflow = self._make(dict(OVERFLOW_ATTRIBUTES))
            _log.warning("metric %s: more than %d attribute sets (OTEL_PYTHON_METRICS_CARDINALITY_LIMIT); "
                         "measurements of further ones are aggregated into otel.metric.overflow=true",
                         self.name, self.limit)
        return self.overflow

    def series(self):
        """Every series, the overflow series last (a snapshot: safe while others bind)."""
        found = list(self._series.values())
        if self.overflow is not None:
            found.append(self.overflow)
        return found

    def after_fork(self):
        """Zero every series in place (the instrumentations keep holding them)."""
        self._lock = allocate_lock()
        for series in self.series():
            series.reset()

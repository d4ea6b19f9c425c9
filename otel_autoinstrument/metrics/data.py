"""What a collection produces: metrics with their points, as the exporters see them.

Plain ``__slots__`` objects made in the reader's thread; the encoders (OTLP protobuf
and JSON), the console table and the Prometheus text format read them.
"""

SUM = "sum"
GAUGE = "gauge"
HISTOGRAM = "histogram"

# OTLP's AggregationTemporality numbering (a gauge has none: 0).
DELTA = 1
CUMULATIVE = 2


class Metric:
    """One instrument's points in one collection."""

    __slots__ = ("name", "description", "unit", "kind", "monotonic", "temporality", "scope", "points")

    def __init__(self, name, description, unit, kind, monotonic, temporality, scope, points):
        self.name = name
        self.description = description
        self.unit = unit
        self.kind = kind
        self.monotonic = monotonic
        self.temporality = temporality
        self.scope = scope
        self.points = points

    def __repr__(self):
        return "Metric(%s, %s, %d points)" % (self.name, self.kind, len(self.points))


class NumberPoint:
    """A sum or gauge point: ``value`` is an int or a float."""

    __slots__ = ("attributes", "start_ns", "time_ns", "value", "exemplars")

    def __init__(self, attributes, start_ns, time_ns, value, exemplars=()):
        self.attributes = attributes
        self.start_ns = start_ns
        self.time_ns = time_ns
        self.value = value
        self.exemplars = exemplars


class HistogramPoint:
    """An explicit bucket histogram point (``min``/``max`` None when unknown)."""

    __slots__ = ("attributes", "start_ns", "time_ns", "count", "sum", "bucket_counts", "bounds", "min", "max",
                 "exemplars")

    def __init__(self, attributes, start_ns, time_ns, count, total, bucket_counts, bounds, low=None, high=None,
                 exemplars=()):
        self.attributes = attributes
        self.start_ns = start_ns
        self.time_ns = time_ns
        self.count = count
        self.sum = total
        self.bucket_counts = bucket_counts
        self.bounds = bounds
        self.min = low
        self.max = high
        self.exemplars = exemplars


class Exemplar:
    """A measurement kept as an example: its value, time and the span it was made in
    (``trace_id``/``span_id`` 0 when there was none)."""

    __slots__ = ("value", "time_ns", "trace_id", "span_id")

    def __init__(self, value, time_ns, trace_id=0, span_id=0):
        self.value = value
        self.time_ns = time_ns
        self.trace_id = trace_id
        self.span_id = span_id


def exemplars_of(raw):
    """``Exemplar`` objects from the series' ``(value, time_ns, span_context)`` tuples."""
    return [Exemplar(value, time_ns, context.trace_id, context.span_id) for value, time_ns, context in raw]

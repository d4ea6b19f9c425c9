"""Metrics helpers of the plugin API: the stable semantic conventions' duration
histograms, recorded the cheap way (a stable part of the API).

An operation ends with a handful of attribute values; ``Recorder`` maps the tuple of
those values to the bound series once (a bounded cache), so recording costs a tuple, a
dict lookup and the series' own update. Values that are None are left out of the
attribute set (no ``http.route`` when there is no route).

* ``HttpServerMetrics``: ``http.server.request.duration`` (s) with ``http.request.method``,
  ``url.scheme``, ``network.protocol.version``, ``http.route``, ``http.response.status_code``,
  ``error.type``; ``http.server.active_requests`` with method and scheme. Never the raw
  path: an id in a URL must not make a series per request.
* ``HttpClientMetrics``: ``http.client.request.duration`` (s) with method, ``server.address``,
  ``server.port``, ``network.protocol.version``, status and ``error.type``.
* ``DbClientMetrics``: ``db.client.operation.duration`` (s) with ``db.system.name``,
  ``db.namespace``, ``db.operation.name``, ``db.collection.name``, ``server.address``,
  ``server.port``, ``error.type``.

Histograms use the semantic conventions' advisory bucket boundaries. When metrics are
off every ``enabled`` is False and callers skip the work; recording is then a no-op.
Durations are recorded whether or not the operation's span was sampled: sampling must
not change rates. The span, when given, only decides the exemplar. A span the sampler
dropped records nothing, so the helpers hand out an ``UnsampledOperation`` instead (a
``NonRecordingSpan`` that also keeps when the operation started and what its metric
needs); ``started(span)`` reads the start of either kind.
"""

from __future__ import annotations

from time import time_ns

from .. import semconv
from ..trace.span import NonRecordingSpan

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time
    from typing import Any, Callable, Dict, List, Optional, Tuple, Union

    from ..metrics.instruments import Meter, NoopMeter
    from ..trace.span import Span, SpanContext

    AnySpan = Union[Span, NonRecordingSpan]
    Values = Tuple[Any, ...]

__all__ = ["DbClientMetrics", "HTTP_DURATION_BOUNDARIES", "DB_DURATION_BOUNDARIES", "HttpClientMetrics",
           "HttpServerMetrics", "Recorder", "ServerRequest", "UnsampledOperation", "measured", "meter_of", "started"]

# The semantic conventions' ExplicitBucketBoundaries advice.
HTTP_DURATION_BOUNDARIES: Tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5,
                                               7.5, 10)
DB_DURATION_BOUNDARIES: Tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10)

_CACHE_MAX = 1024  # bound series kept per instrument; the instrument's cardinality limit still applies


class UnsampledOperation(NonRecordingSpan):
    """The span of an operation that is not sampled: it records nothing (it is a
    ``NonRecordingSpan``, propagation included) but keeps ``start_ns`` and ``data``."""

    __slots__ = ("start_ns", "data")

    def __init__(self, context: SpanContext, start_ns: int, data: Any) -> None:
        self.context = context
        self.start_ns = start_ns
        self.data = data


def measured(span: AnySpan, data: Any) -> AnySpan:
    """``span`` itself when it records (its start and attributes are there), else an
    ``UnsampledOperation`` of the same context keeping now and ``data``."""
    if span.is_recording():
        return span
    return UnsampledOperation(span.context, time_ns(), data)


def started(span: Any) -> Optional[int]:
    """When the operation of ``span`` started (an ``UnsampledOperation`` or a recording
    span), or None when that is unknown."""
    return getattr(span, "start_ns", None) or None


def meter_of(instrumentor: Any) -> Optional[Meter]:
    """The instrumentor's meter, or None when metrics are off (or its agent has none)."""
    meter = getattr(instrumentor, "meter", None)
    return meter if meter is not None and meter.enabled else None


class Recorder:
    """Records on ``instrument`` with attributes named ``keys``, given as a tuple of values."""

    __slots__ = ("instrument", "keys", "_bound")

    def __init__(self, instrument: Any, keys: Tuple[str, ...]) -> None:
        self.instrument = instrument
        self.keys = keys
        self._bound: Dict[Values, Any] = {}

    def series(self, values: Values) -> Any:
        """The bound series of ``values`` (a tuple in the order of ``keys``)."""
        series = self._bound.get(values)
        if series is None:
            attributes = {key: value for key, value in zip(self.keys, values) if value is not None}
            series = self.instrument.bind(attributes)
            bound = self._bound
            if len(bound) >= _CACHE_MAX:
                bound.clear()
            bound[values] = series
        return series


class HttpServerMetrics:
    """``http.server.request.duration`` and ``http.server.active_requests``.

    Active requests are counted with two ``itertools.count`` per (method, scheme), started
    and ended: ``next()`` on one is atomic and takes no lock, and the collection reports
    their difference (an asynchronous up-down counter: the same cumulative, non-monotonic
    points as a synchronous one). A forked child starts from zero."""

    _DURATION_KEYS = (semconv.HTTP_REQUEST_METHOD, semconv.URL_SCHEME, semconv.NETWORK_PROTOCOL_VERSION,
                      semconv.HTTP_ROUTE, semconv.HTTP_RESPONSE_STATUS_CODE, semconv.ERROR_TYPE)

    def __init__(self, meter: Union[Meter, NoopMeter],
                 normalize: Optional[Callable[[str, Optional[str]], Tuple[str, Optional[str]]]] = None) -> None:
        """``normalize(method, version)``: the attribute values of a request's method and
        protocol version as the request gives them (``HttpServer`` passes the HTTP
        helpers' rules); without it they are recorded as given."""
        self.enabled = meter.enabled
        self.normalize = normalize
        self.duration = Recorder(meter.histogram(
            semconv.HTTP_SERVER_REQUEST_DURATION, "s", "Duration of HTTP server requests.",
            HTTP_DURATION_BOUNDARIES), self._DURATION_KEYS)
        self._counts: Dict[Tuple[str, str], Tuple[Any, Any]] = {}  # (method, scheme) -> (started, ended)
        self._kinds: Dict[Tuple[Any, Any, Any], _Kind] = {}  # (method, scheme, version) as given -> _Kind
        meter.observable_up_down_counter(semconv.HTTP_SERVER_ACTIVE_REQUESTS, [self._observe_active], "{request}",
                                         "Number of active HTTP server requests.")
        from ..metrics.series import process

        process.on_fork.append(self._after_fork)

    def request(self, method: str, scheme: str, version: Optional[str]) -> ServerRequest:
        """A request came in: counted active until its ``ServerRequest.end``. ``method``
        and ``version`` as the request gives them (see ``normalize``)."""
        kind = self._kinds.get((method, scheme, version))
        if kind is None:
            kind = self._kind(method, scheme, version)
        next(kind.started)
        return ServerRequest(self, kind)

    def _kind(self, method: str, scheme: str, version: Optional[str]) -> _Kind:
        value, version_value = self.normalize(method, version) if self.normalize is not None else (method, version)
        if scheme not in _SCHEMES:
            # A client can choose it (werkzeug's ProxyFix copies X-Forwarded-Proto as is):
            # each value would be one more active-requests series, kept for good.
            scheme = "_OTHER"
        key = (value, scheme)
        counts = self._counts.get(key)
        if counts is None:
            import itertools

            counts = self._counts.setdefault(key, (itertools.count(), itertools.count()))
        kind = _Kind(counts[0], counts[1], (value, scheme, version_value))
        if len(self._kinds) >= 256:
            self._kinds.clear()  # methods as clients send them: bounded, refilled with what is in use
        self._kinds[(method, scheme, version)] = kind
        return kind

    def _observe_active(self) -> List[Tuple[int, Dict[str, str]]]:
        from ..export.batch import _count_value

        return [(_count_value(started) - _count_value(ended),
                 {semconv.HTTP_REQUEST_METHOD: method, semconv.URL_SCHEME: scheme})
                for (method, scheme), (started, ended) in list(self._counts.items())]

    def _after_fork(self) -> None:
        self._counts = {}
        self._kinds = {}


_SCHEMES = frozenset(("http", "https", "ws", "wss"))


class _Kind:
    """What the requests of one (method, scheme, protocol version) share: their active
    counters and the first attribute values of their duration."""

    __slots__ = ("started", "ended", "values")

    def __init__(self, started: Any, ended: Any, values: Tuple[Any, Any, Any]) -> None:
        self.started = started
        self.ended = ended
        self.values = values


class ServerRequest:
    """One server request's metrics from its start to its end: the framework fills in
    ``route``, ``status`` and ``error_type`` as it learns them; ``end()`` records once."""

    __slots__ = ("metrics", "kind", "start_ns", "route", "status", "error_type")

    def __init__(self, metrics: HttpServerMetrics, kind: _Kind) -> None:
        self.metrics: Optional[HttpServerMetrics] = metrics
        self.kind = kind
        self.route: Optional[str] = None
        self.status: Optional[int] = None
        self.error_type: Optional[str] = None
        self.start_ns = time_ns()

    def cancel(self) -> None:
        """Not active any more, and no duration recorded (the request went untraced)."""
        if self.metrics is not None:
            self.metrics = None
            next(self.kind.ended)

    def end(self, span: Optional[AnySpan] = None, end_ns: Optional[int] = None) -> None:
        """The response is complete (or the request failed): the duration, and one request
        fewer active. Later calls do nothing."""
        metrics = self.metrics
        if metrics is None:
            return
        self.metrics = None
        kind = self.kind
        next(kind.ended)
        status = self.status
        error_type = self.error_type
        if error_type is None and status is not None and status >= 500:
            error_type = str(status)
        values = kind.values + (self.route, status, error_type)
        recorder = metrics.duration
        series = recorder._bound.get(values)  # Recorder.series(), inlined: this runs per request
        if series is None:
            series = recorder.series(values)
        series.record(max(0.0, ((end_ns or time_ns()) - self.start_ns) / 1e9), span)


class _Durations:
    """A duration histogram (seconds) and the attribute names of its values, in order."""

    NAME: str = ""
    DESCRIPTION: str = ""
    BOUNDARIES: Tuple[float, ...] = ()
    KEYS: Tuple[str, ...] = ()

    def __init__(self, meter: Union[Meter, NoopMeter]) -> None:
        self.enabled = meter.enabled
        self.duration = Recorder(meter.histogram(self.NAME, "s", self.DESCRIPTION, self.BOUNDARIES), self.KEYS)

    def ended(self, seconds: float, values: Values, span: Optional[AnySpan] = None) -> None:
        """Record ``seconds`` with the attribute ``values`` (a tuple in the order of ``KEYS``)."""
        self.duration.series(values).record(seconds, span)


class HttpClientMetrics(_Durations):
    """``ended(seconds, (method, address, port, version, status, error_type), span=None)``."""

    NAME, DESCRIPTION = semconv.HTTP_CLIENT_REQUEST_DURATION, "Duration of HTTP client requests."
    BOUNDARIES = HTTP_DURATION_BOUNDARIES
    KEYS = (semconv.HTTP_REQUEST_METHOD, semconv.SERVER_ADDRESS, semconv.SERVER_PORT,
            semconv.NETWORK_PROTOCOL_VERSION, semconv.HTTP_RESPONSE_STATUS_CODE, semconv.ERROR_TYPE)


class DbClientMetrics(_Durations):
    """``ended(seconds, (system, namespace, operation, collection, address, port, error_type), span=None)``."""

    NAME, DESCRIPTION = semconv.DB_CLIENT_OPERATION_DURATION, "Duration of database client operations."
    BOUNDARIES = DB_DURATION_BOUNDARIES
    KEYS = (semconv.DB_SYSTEM_NAME, semconv.DB_NAMESPACE, semconv.DB_OPERATION_NAME, semconv.DB_COLLECTION_NAME,
            semconv.SERVER_ADDRESS, semconv.SERVER_PORT, semconv.ERROR_TYPE)

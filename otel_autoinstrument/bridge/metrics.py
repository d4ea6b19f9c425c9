"""The OpenTelemetry metrics API (``opentelemetry.metrics``) served by the agent's core.

Installed with ``metrics.set_meter_provider`` right after the module is imported, so
every ``metrics.get_meter(...)`` (the application's, and each contrib instrumentation's)
makes the core's instruments: the application's business metrics go out with the
agent's own, through the same exporters (OTLP, Prometheus, console), temporality,
cardinality limit and exemplars; the meter's name, version, schema URL and attributes
are the instrumentation scope on the wire.

API instruments are thin: ``add``/``record``/``set`` go straight to the core instrument,
with the span of the measurement's ``context`` (by default the current span) for the
exemplar. Observable instruments' callbacks receive a ``CallbackOptions`` and may return
``Observation`` objects, or be generators (the SDK's convention: primed once, then sent
the options at each collection). With ``OTEL_METRICS_EXPORTER=none`` every instrument
records nothing. A meter provider the application sets itself (the SDK's) is refused by
the API once ours is set, as for traces; the application's own readers are not used.
"""

import inspect

from opentelemetry import metrics as api

from .context import _spans, keys

_Gauge = getattr(api, "_Gauge", None)  # the synchronous gauge: API 1.23 and later
_CallbackOptions = getattr(api, "CallbackOptions", None)


class MeterProvider(api.MeterProvider):
    def __init__(self, agent):
        self._agent = agent
        self._meters = {}

    def get_meter(self, name, version=None, schema_url=None, attributes=None, *args, **kwargs):
        native = self._agent.meter(name or "", version or "", schema_url or "", attributes)
        # By scope, not by the core's meter: with metrics off every scope gets the one no-op meter.
        key = (name or "", version, schema_url, id(native))
        meter = self._meters.get(key)
        if meter is None:
            meter = self._meters[key] = Meter(native, name or "", version, schema_url)
        return meter

    def force_flush(self, timeout_millis=30000):
        self._agent.force_flush(timeout_millis / 1000.0)
        return True

    def shutdown(self, *args, **kwargs):
        self._agent.force_flush()


def _span_of(context):
    """The core span a measurement's API ``context`` names (None: the current span)."""
    if context is None:
        return None
    span = context.get(keys().span)
    if span is None:
        return None
    return _spans().native_span(span)  # imported on first use (see context._spans)


class _Instrument:
    def __init__(self, native, name, unit="", description=""):
        self._native = native
        self._name = name
        self._unit = unit or ""
        self._description = description or ""

    @property
    def name(self):
        return self._name

    @property
    def unit(self):
        return self._unit

    @property
    def description(self):
        return self._description


class Counter(_Instrument, api.Counter):
    def add(self, amount, attributes=None, context=None, *args, **kwargs):
        self._native.add(amount, attributes, _span_of(context))


class UpDownCounter(_Instrument, api.UpDownCounter):
    def add(self, amount, attributes=None, context=None, *args, **kwargs):
        self._native.add(amount, attributes, _span_of(context))


class Histogram(_Instrument, api.Histogram):
    def record(self, amount, attributes=None, context=None, *args, **kwargs):
        self._native.record(amount, attributes, _span_of(context))


if _Gauge is not None:
    class Gauge(_Instrument, _Gauge):
        def set(self, amount, attributes=None, context=None, *args, **kwargs):
            self._native.set(amount, attributes, _span_of(context))
else:  # pragma: no cover - APIs before 1.23 have no synchronous gauge to serve
    Gauge = None


class ObservableCounter(_Instrument, api.ObservableCounter):
    pass


class ObservableUpDownCounter(_Instrument, api.ObservableUpDownCounter):
    pass


class ObservableGauge(_Instrument, api.ObservableGauge):
    pass


def _callback(callback):
    """A core callback (no argument, returns observations) for an API callback."""
    if inspect.isgenerator(callback):
        next(callback)  # primed once; then sent the options at each collection, as the SDK does

        def send():
            try:
                return callback.send(_options())
            except StopIteration:
                return ()

        return send
    return lambda: callback(_options())


def _options():
    return _CallbackOptions() if _CallbackOptions is not None else None


class Meter(api.Meter):
    def __init__(self, native, name, version=None, schema_url=None):
        api.Meter.__init__(self, name, version, schema_url)
        self._native_meter = native

    def create_counter(self, name, unit="", description="", *args, **kwargs):
        return Counter(self._native_meter.counter(name, unit, description), name, unit, description)

    def create_up_down_counter(self, name, unit="", description="", *args, **kwargs):
        return UpDownCounter(self._native_meter.up_down_counter(name, unit, description), name, unit, description)

    def create_histogram(self, name, unit="", description="", *args, explicit_bucket_boundaries_advisory=None,
                         **kwargs):
        native = self._native_meter.histogram(name, unit, description, explicit_bucket_boundaries_advisory)
        return Histogram(native, name, unit, description)

    if Gauge is not None:  # the API's synchronous gauge (1.23 and later); before, no create_gauge
        def create_gauge(self, name, unit="", description="", *args, **kwargs):
            return Gauge(self._native_meter.gauge(name, unit, description), name, unit, description)

    def create_observable_counter(self, name, callbacks=None, unit="", description="", *args, **kwargs):
        native = self._native_meter.observable_counter(name, [_callback(c) for c in callbacks or ()], unit,
                                                       description)
        return ObservableCounter(native, name, unit, description)

    def create_observable_up_down_counter(self, name, callbacks=None, unit="", description="", *args, **kwargs):
        native = self._native_meter.observable_up_down_counter(name, [_callback(c) for c in callbacks or ()], unit,
                                                               description)
        return ObservableUpDownCounter(native, name, unit, description)

    def create_observable_gauge(self, name, callbacks=None, unit="", description="", *args, **kwargs):
        native = self._native_meter.observable_gauge(name, [_callback(c) for c in callbacks or ()], unit,
                                                     description)
        return ObservableGauge(native, name, unit, description)


def install(agent, module):
    """``opentelemetry.metrics`` was imported: the agent's metrics core serves it."""
    module.set_meter_provider(MeterProvider(agent))

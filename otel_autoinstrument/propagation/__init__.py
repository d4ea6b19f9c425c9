"""Context propagation across processes, composed per OTEL_PROPAGATORS.

``Propagator.extract(get)`` reads a carrier through ``get(name) -> str | None`` (names
are lower-case header names) and returns a ``Carried`` (remote parent and baggage);
``Propagator.inject(set_header)`` writes the current span and baggage. Neither ever
raises into the application: a malformed carrier yields an empty ``Carried``.
"""

from .. import _log
from ..trace.context import _baggage, _span


class Carried:
    """What came in with a request: the remote parent span context and the baggage."""

    __slots__ = ("span_context", "baggage")

    def __init__(self, span_context=None, baggage=None):
        self.span_context = span_context
        self.baggage = baggage


def _build(name):
    if name == "tracecontext":
        from .tracecontext import TraceContextPropagator

        return TraceContextPropagator()
    if name == "baggage":
        from .baggage import BaggagePropagator

        return BaggagePropagator()
    if name == "b3":
        from .b3 import B3SinglePropagator

        return B3SinglePropagator()
    if name == "b3multi":
        from .b3 import B3MultiPropagator

        return B3MultiPropagator()
    raise ValueError(name)


class Propagator:
    """The composite of the configured propagators, applied in order."""

    def __init__(self, names):
        self.propagators = [_build(name) for name in names]
        self.fields = tuple(f for p in self.propagators for f in p.fields)
        # Without baggage in the context, the baggage propagator has nothing to write.
        self._without_baggage = [p for p in self.propagators if not getattr(p, "baggage_only", False)]

    def extract(self, get):
        carried = Carried()
        for propagator in self.propagators:
            try:
                propagator.extract(get, carried)
            except Exception:
                _log.internal_error("extracting %s" % type(propagator).__name__)
        return carried

    def inject(self, set_header, span=None):
        """Write the headers for ``span`` (default: the current span) and current baggage."""
        if span is None:
            span = _span.get()
        context = span.context if span is not None else None
        baggage = _baggage.get()
        # inject_context(), inlined: this runs for every outgoing request.
        for propagator in self.propagators if baggage else self._without_baggage:
            try:
                propagator.inject(set_header, context, baggage)
            except Exception:
                _log.internal_error("injecting %s" % type(propagator).__name__)

    def inject_context(self, set_header, context, baggage):
        """Write the headers for a span context (or None) and baggage (a dict, or None)."""
        for propagator in self.propagators:
            try:
                propagator.inject(set_header, context, baggage)
            except Exception:
                _log.internal_error("injecting %s" % type(propagator).__name__)

"""``opentelemetry.propagate.inject/extract`` with the agent's configured propagators.

Installed with the API's ``propagate.set_global_textmap`` right after
``opentelemetry.propagate`` is imported: the formats are the agent's ``OTEL_PROPAGATORS``
(tracecontext, baggage, b3, b3multi), applied by the same code that propagates the
agent's own server and client spans, so an application's hand-written injection and the
agent's always agree. An application that sets its own global propagator afterwards
keeps it (that is the API's contract).
"""

from opentelemetry.context import Context
from opentelemetry.propagators.textmap import TextMapPropagator, default_getter, default_setter

from ..trace.context import _baggage, _span
from ..trace.span import NonRecordingSpan
from .context import keys
from .spans import api_span, native_span


class AgentPropagator(TextMapPropagator):
    def __init__(self, propagator):
        self._propagator = propagator

    def extract(self, carrier, context=None, getter=default_getter):
        def get(name):
            values = getter.get(carrier, name)
            if not values:
                return None
            return values if isinstance(values, str) else ",".join(values)

        carried = self._propagator.extract(get)
        values = dict(context) if context else {}
        k = keys()
        if carried.span_context is not None:
            values[k.span] = api_span(NonRecordingSpan(carried.span_context))
        if carried.baggage:
            earlier = values.get(k.baggage)
            values[k.baggage] = dict(earlier, **carried.baggage) if isinstance(earlier, dict) else carried.baggage
        return Context(values)

    def inject(self, carrier, context=None, setter=default_setter):
        if context is None:
            span, baggage = _span.get(), _baggage.get()
        else:
            k = keys()
            span = context.get(k.span)
            span = native_span(span) if span is not None else None
            baggage = context.get(k.baggage)
            baggage = baggage if isinstance(baggage, dict) else None
        self._propagator.inject_context(lambda name, value: setter.set(carrier, name, value),
                                        span.context if span is not None else None, baggage)

    @property
    def fields(self):
        return set(self._propagator.fields)


def install(agent, module):
    """``opentelemetry.propagate`` was imported: the agent's propagators become global."""
    module.set_global_textmap(AgentPropagator(agent.propagator))

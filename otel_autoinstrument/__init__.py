"""otel-autoinstrument: zero-code OpenTelemetry traces, metrics and logs for Python services.

Run a program under ``otel-run`` and the agent loads itself; nothing here needs to be
imported. For a manual span next to the automatic ones::

    from otel_autoinstrument import get_tracer

    tracer = get_tracer(__name__)
    with tracer.start_as_current_span("checkout") as span:
        span.set_attribute("cart.items", 3)

and for a metric of your own (exported with the agent's, see docs/metrics.md)::

    from otel_autoinstrument import get_meter

    orders = get_meter(__name__).counter("shop.orders", unit="{order}")
    orders.add(1, {"shop.payment": "card"})

This module stays tiny and imports lazily: the bootstrap imports it in every process.
"""

from .version import __version__

__all__ = ["__version__", "get_tracer", "get_meter", "get_current_span", "use_span", "SpanKind", "StatusCode",
           "force_flush"]


def get_tracer(name, version=""):
    """A tracer for manual spans. Without a running agent (not under ``otel-run``, or
    OTEL_SDK_DISABLED) it still works: spans are created but not exported."""
    from .agent.startup import get_agent

    agent = get_agent()
    if agent is not None:
        return agent.tracer(name, version)
    return _fallback_provider().get_tracer(name, version)


def get_meter(name, version=""):
    """A meter for metrics of your own. Without a running agent, or with
    OTEL_METRICS_EXPORTER=none, its instruments record nothing."""
    from .agent.startup import get_agent

    agent = get_agent()
    if agent is not None:
        return agent.meter(name, version)
    from .metrics.instruments import NOOP_METER

    return NOOP_METER


def get_current_span():
    """The active span; outside any span an invalid non-recording span (never None)."""
    from .trace.context import get_current_span as _current

    return _current()


current_span = get_current_span  # the older name, kept as an alias


def force_flush(timeout_s=5.0):
    """Export what is queued now (for scripts that end with ``os._exit``)."""
    from .agent.startup import get_agent

    agent = get_agent()
    if agent is not None:
        agent.force_flush(timeout_s)


_fallback = None


def _fallback_provider():
    global _fallback
    if _fallback is None:
        from .trace.sampling import AlwaysOn
        from .trace.tracer import TracerProvider

        _fallback = TracerProvider(None, AlwaysOn())
    return _fallback


def __getattr__(name):
    if name in ("SpanKind", "StatusCode"):
        from .trace import span

        return getattr(span, name)
    if name == "use_span":
        from .trace.tracer import use_span

        return use_span
    raise AttributeError(name)

"""The active span, baggage and instrumentation suppression, kept in ``contextvars``.

Each thread and each asyncio task sees its own values, and ``contextvars.copy_context``
carries them into executors. Three variables rather than one immutable mapping: the
hot path (find the parent, make a span current) touches exactly one of them.
"""

from contextvars import ContextVar

_span = ContextVar("otel_autoinstrument.span", default=None)
_baggage = ContextVar("otel_autoinstrument.baggage", default=None)
_suppressed = ContextVar("otel_autoinstrument.suppressed", default=False)


def get_current_span():
    """The span active in this context, or None."""
    return _span.get()


def attach(span):
    """Make ``span`` current; returns a token for ``detach``."""
    return _span.set(span)


def detach(token):
    try:
        _span.reset(token)
    except ValueError:
        # A token created in another context (a generator resumed elsewhere, a
        # callback run by another task): the span is already not current there.
        pass


def get_baggage():
    """The baggage entries (a dict, treat as read-only) of this context, or None."""
    return _baggage.get()


def set_baggage(entries):
    """Replace the baggage of this context; returns a token for ``reset_baggage``."""
    return _baggage.set(entries or None)


def reset_baggage(token):
    try:
        _baggage.reset(token)
    except ValueError:
        pass


def is_suppressed():
    """True where instrumentations must create no spans (the agent's own export)."""
    return _suppressed.get()


def suppress():
    """Suppress instrumentation in this context (the export thread calls it once)."""
    return _suppressed.set(True)


def unsuppress(token):
    _suppressed.reset(token)

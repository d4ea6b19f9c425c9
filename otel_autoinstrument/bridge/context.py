"""One context for the agent and the OpenTelemetry API: the API's runtime context, served
from the agent's own context variables.

The API keeps its state in immutable ``Context`` mappings, made current with
``attach``/``detach``; the core keeps three context variables (span, baggage,
suppression) that its hot path reads directly. This runtime context is the API's view of
those variables, plus a fourth variable for every other key the API stores:

- ``get_current()`` builds a ``Context`` from them: the current span (as an API span,
  ``spans.api_span``), the baggage dict, the suppression flag, the other keys;
- ``attach(context)`` sets all four from a ``Context`` and returns their tokens, which
  ``detach`` resets.

So a span the agent makes current (a Flask request) is ``trace.get_current_span()``,
a span the API makes current is the parent of the agent's next span, and ``attach``
tokens work across the two. Registered as the ``opentelemetry_context`` entry point
``otel_autoinstrument`` (``OTEL_PYTHON_CONTEXT=otel_autoinstrument``). The API loads it
while ``opentelemetry.context`` itself is importing: the API's keys are looked up on first
use, through public functions, never at import.
"""

from contextvars import ContextVar

from ..trace.context import _baggage, _span, _suppressed

# Every key of an attached Context that is not span, baggage or suppression (a dict), or None.
_rest = ContextVar("otel_autoinstrument.api_context", default=None)


class _Keys:
    __slots__ = ("span", "baggage", "suppress", "known", "context_class", "empty")


_keys = None


def keys():
    """The API's context keys (span, baggage, suppression), found on first use."""
    global _keys
    if _keys is None:
        from opentelemetry import baggage, trace
        from opentelemetry import context as api_context

        found = _Keys()
        found.context_class = api_context.Context
        found.empty = api_context.Context()
        # The keys carry a random suffix (create_key); the public setters reveal them.
        (found.span,) = trace.set_span_in_context(trace.INVALID_SPAN, found.empty)
        (found.baggage,) = baggage.set_baggage("k", "v", found.empty)
        # The suppression key every instrumentation reads; there is no public setter.
        found.suppress = getattr(api_context, "_SUPPRESS_INSTRUMENTATION_KEY", None)
        found.known = frozenset(k for k in (found.span, found.baggage, found.suppress) if k is not None)
        _keys = found
    return _keys


_spans_module = None


def _spans():
    """``bridge.spans``, imported on first use: it imports ``opentelemetry.trace``, which
    cannot be imported while ``opentelemetry.context`` loads this module."""
    global _spans_module
    if _spans_module is None:
        from . import spans

        _spans_module = spans
    return _spans_module


class RuntimeContext:
    """The API's ``_RuntimeContext`` interface over the agent's context variables."""

    def get_current(self):
        span, baggage, suppressed, rest = _span.get(), _baggage.get(), _suppressed.get(), _rest.get()
        k = _keys or keys()
        if span is None and baggage is None and rest is None and not suppressed:
            return k.empty
        values = dict(rest) if rest else {}
        if span is not None:
            values[k.span] = _spans().api_span(span)
        if baggage is not None:
            values[k.baggage] = baggage
        if suppressed and k.suppress is not None:
            values[k.suppress] = True
        return k.context_class(values)

    def attach(self, context):
        k = _keys or keys()
        span = baggage = rest = None
        suppressed = False
        if context:
            found = 0
            if k.span in context:
                found += 1
                span = context[k.span]
                if span is not None:
                    span = _spans().native_span(span)
                    if span is None:  # not a span at all: kept as it is, with the other keys
                        found -= 1
            if k.baggage in context:
                found += 1
                value = context[k.baggage]
                baggage = value if isinstance(value, dict) and value else None
            if k.suppress in context:
                found += 1
                suppressed = bool(context[k.suppress])
            if len(context) > found:
                rest = {key: value for key, value in context.items() if key not in k.known or (
                    key == k.span and span is None and value is not None)}
        return (_span.set(span), _baggage.set(baggage), _suppressed.set(suppressed), _rest.set(rest))

    def detach(self, token):
        # A token from another context raises ValueError, as the API's own
        # contextvars runtime context does (the API logs it).
        span, baggage, suppressed, rest = token
        _rest.reset(rest)
        _suppressed.reset(suppressed)
        _baggage.reset(baggage)
        _span.reset(span)


def install(agent, module):
    """``opentelemetry.context`` was imported: check that it runs on our runtime context.

    It normally does (the API loaded our entry point while importing). It does not when
    the API was imported before the agent started, when our entry point is not installed
    as metadata (a source tree on PYTHONPATH), or with older APIs that load the runtime
    context on first use rather than at import (``_RUNTIME_CONTEXT`` still None): then,
    and only then, the module's ``_RUNTIME_CONTEXT`` is set to ours, the one private name
    the bridge writes (the API offers no setter for it). Its interface is checked first.
    """
    from .. import _log

    current = getattr(module, "_RUNTIME_CONTEXT", False)
    if isinstance(current, RuntimeContext):
        return
    if current is False or (current is not None and not all(
            callable(getattr(current, name, None)) for name in ("get_current", "attach", "detach"))):
        _log.warning("this opentelemetry.context has no runtime context the agent knows: API spans and "
                     "the agent's spans will not share one context")
        return
    module._RUNTIME_CONTEXT = RuntimeContext()
    _log.debug("opentelemetry.context did not load OTEL_PYTHON_CONTEXT=otel_autoinstrument at import: "
               "runtime context set by the agent")

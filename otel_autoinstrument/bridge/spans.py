"""The agent's spans as OpenTelemetry API spans, and API spans as the agent's.

``SpanView`` is an API ``Span`` over one of the core's recording spans: every call goes
to the core span (its limits, its export), with the API's argument types converted
(``Status``, ``SpanContext``, ``TraceState``). A sampled-out or remote span is an API
``NonRecordingSpan`` with its valid context (``NonRecordingView``). A span of another
implementation made current through the API (the SDK's, a hand-made
``NonRecordingSpan``) becomes a ``ForeignSpan`` in the agent's context: non-recording
for the core, carrying its context to the agent's children, and given back unchanged to
the API.

A core span keeps a weak reference to its view (the ``view`` slot), so the span a
``with tracer.start_as_current_span(...) as span`` block yields is the very object
``trace.get_current_span()`` returns inside it, and a view nobody holds is freed.
"""

import weakref

from opentelemetry.trace import INVALID_SPAN as API_INVALID_SPAN
from opentelemetry.trace import NonRecordingSpan as ApiNonRecordingSpan
from opentelemetry.trace import Span as ApiSpan
from opentelemetry.trace import SpanContext as ApiSpanContext
from opentelemetry.trace import Status, TraceFlags, TraceState

from ..trace.span import INVALID_SPAN, NonRecordingSpan, Span, SpanContext, StatusCode

_DEFAULT_TRACE_STATE = TraceState()
_FLAGS = {0: TraceFlags(0), 1: TraceFlags(1)}
_ERROR = StatusCode.ERROR


def api_context(context):
    """The core's SpanContext as the API's (immutable tuple, TraceFlags, TraceState)."""
    flags = _FLAGS.get(context.trace_flags) or TraceFlags(context.trace_flags)
    state = TraceState.from_header([context.trace_state]) if context.trace_state else _DEFAULT_TRACE_STATE
    return ApiSpanContext(context.trace_id, context.span_id, context.is_remote, flags, state)


def native_context(context):
    """An API SpanContext as the core's."""
    state = context.trace_state
    return SpanContext(context.trace_id, context.span_id, int(context.trace_flags),
                       state.to_header() if state else "", bool(context.is_remote))


def api_span(span):
    """The API span for a core span (the same object for as long as someone holds it)."""
    try:
        ref = span.view
    except AttributeError:  # the slot is never set by the core: no view yet
        ref = None
    view = ref() if ref is not None else None
    if view is not None:
        return view
    if type(span) is ForeignSpan:
        return span.api_span
    if span is INVALID_SPAN:
        return API_INVALID_SPAN
    view = SpanView(span) if isinstance(span, Span) else NonRecordingView(span)
    span.view = weakref.ref(view)
    return view


def native_span(span):
    """The core span for an API span; None for a value that is not a span."""
    kind = type(span)
    if kind is SpanView:
        return span._span
    if kind is NonRecordingView:
        return span._native
    if span is API_INVALID_SPAN:
        return INVALID_SPAN
    if not isinstance(span, ApiSpan):
        return None
    try:
        context = native_context(span.get_span_context())
    except Exception:  # noqa: BLE001 - a foreign span's context we cannot read: no parent
        context = INVALID_SPAN.context
    return ForeignSpan(context, span)


class ForeignSpan(NonRecordingSpan):
    """An API span of another implementation, current in the agent's context."""

    __slots__ = ("api_span",)

    def __init__(self, context, span):
        NonRecordingSpan.__init__(self, context)
        self.api_span = span


class NonRecordingView(ApiNonRecordingSpan):
    """A sampled-out or remote core span, as the API's NonRecordingSpan (valid context)."""

    def __init__(self, native):
        ApiNonRecordingSpan.__init__(self, api_context(native.context))
        self._native = native


class SpanView(ApiSpan):
    """An API span over a core ``Span``."""

    __slots__ = ("_span", "_context", "_record_exception", "_set_status_on_exception")

    def __init__(self, span, record_exception=True, set_status_on_exception=True):
        self._span = span
        self._context = None
        self._record_exception = record_exception
        self._set_status_on_exception = set_status_on_exception

    def get_span_context(self):
        context = self._context
        if context is None:
            context = self._context = api_context(self._span.context)
        return context

    def is_recording(self):
        return self._span.end_ns is None

    def set_attribute(self, key, value):
        self._span.set_attribute(key, value)

    def set_attributes(self, attributes):
        if attributes:
            self._span.set_attributes(attributes)

    def add_event(self, name, attributes=None, timestamp=None):
        self._span.add_event(name, attributes, timestamp)

    def add_link(self, context, attributes=None):
        if context is not None:
            self._span.add_link(native_context(context), attributes)

    def update_name(self, name):
        self._span.update_name(name)

    def set_status(self, status, description=None):
        if isinstance(status, Status):
            code, description = status.status_code, status.description
        else:
            code = status
        self._span.set_status(getattr(code, "value", code), description)

    def record_exception(self, exception, attributes=None, timestamp=None, escaped=False):
        self._span.record_exception(exception, attributes, timestamp, escaped)

    def end(self, end_time=None):
        self._span.end(end_time)

    def __exit__(self, exc_type, exc, tb):
        ended_with_error(self._span, exc, self._record_exception, self._set_status_on_exception)
        self._span.end()

    # Read-only facts the SDK's spans offer and instrumentations sometimes read.
    @property
    def name(self):
        return self._span.name

    @property
    def attributes(self):
        return dict(self._span.attributes)

    def __eq__(self, other):
        return isinstance(other, SpanView) and other._span is self._span

    def __hash__(self):
        return hash(self._span)

    def __repr__(self):
        return "SpanView(%r)" % (self._span,)


def ended_with_error(span, exc, record_exception, set_status):
    """An exception left a block the span covered: the API's record/status choices.
    Only errors: SystemExit, KeyboardInterrupt and GeneratorExit end a span normally."""
    if isinstance(exc, Exception) and span.end_ns is None:
        if record_exception:
            span.record_exception(exc, escaped=True)
        if set_status:
            span.set_status(_ERROR, "%s: %s" % (type(exc).__name__, exc))

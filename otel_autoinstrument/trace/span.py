"""Span, span context and their constants: the objects on the application's hot path.

A span is a small ``__slots__`` object. Recording work is a dict store; limits follow
the specification (count limits drop and count, string values are truncated); nothing
is encoded until the export thread does it.
"""

from __future__ import annotations

import time
from time import time_ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

    AttributeValue = Union[str, bool, int, float, Sequence[Union[str, bool, int, float, None]], bytes]
    Attributes = Mapping[str, AttributeValue]

INVALID_TRACE_ID = 0
INVALID_SPAN_ID = 0


class SpanKind:
    """OTLP numbering, so the encoder writes the value as it is."""

    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5
    NAMES = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


class StatusCode:
    UNSET = 0
    OK = 1
    ERROR = 2
    NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}


class SpanContext:
    """The part of a span that crosses process boundaries."""

    __slots__ = ("trace_id", "span_id", "trace_flags", "trace_state", "is_remote")

    def __init__(self, trace_id: int, span_id: int, trace_flags: int = 1, trace_state: str = "",
                 is_remote: bool = False) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags
        self.trace_state = trace_state
        self.is_remote = is_remote

    @property
    def is_valid(self) -> bool:
        return self.trace_id != INVALID_TRACE_ID and self.span_id != INVALID_SPAN_ID

    @property
    def sampled(self) -> bool:
        return bool(self.trace_flags & 1)

    def __repr__(self) -> str:
        return "SpanContext(%032x, %016x, flags=%d)" % (self.trace_id, self.span_id, self.trace_flags)


INVALID_SPAN_CONTEXT = SpanContext(INVALID_TRACE_ID, INVALID_SPAN_ID, 0)

_VALUE_TYPES = (str, bool, int, float)
_PLAIN_TYPES = frozenset(_VALUE_TYPES)


def clean_value(value: Any, length_limit: Optional[int]) -> Any:
    """A valid attribute value (truncated to ``length_limit``), or None to skip it."""
    if isinstance(value, str):
        if length_limit is not None and len(value) > length_limit:
            return value[:length_limit]
        return value
    if isinstance(value, _VALUE_TYPES):
        return value
    if isinstance(value, (list, tuple)):
        items = [v for v in value if v is None or isinstance(v, _VALUE_TYPES)]
        if length_limit is not None:
            items = [v[:length_limit] if isinstance(v, str) else v for v in items]
        return tuple(items)
    if isinstance(value, bytes):
        return value
    return None


def set_limited(attributes: Dict[str, Any], key: str, value: Any, count_limit: int,
                length_limit: Optional[int]) -> int:
    """Store one attribute under the limits; returns 1 if it had to be dropped."""
    if type(value) is not str or length_limit is not None:
        value = clean_value(value, length_limit)
        if value is None:
            return 0
    if key not in attributes and len(attributes) >= count_limit:
        return 1
    attributes[key] = value
    return 0


def limited_dict(attributes: Attributes, count_limit: int, length_limit: Optional[int]) -> Tuple[Dict[str, Any], int]:
    """A copy of ``attributes`` under the limits, and the number dropped."""
    out: Dict[str, Any] = {}
    dropped = 0
    for key, value in attributes.items():
        dropped += set_limited(out, key, value, count_limit, length_limit)
    return out, dropped


class Scope:
    """Instrumentation scope: the name (and version, schema URL, attributes) of what
    created a span or log record. ``key`` tells scopes apart when export groups by scope."""

    __slots__ = ("name", "version", "schema_url", "attributes", "key")

    def __init__(self, name: str, version: str = "", schema_url: str = "",
                 attributes: Optional[Dict[str, Any]] = None) -> None:
        self.name = name
        self.version = version or ""
        self.schema_url = schema_url or ""
        self.attributes = dict(attributes) if attributes else {}
        self.key = scope_key(self.name, self.version, self.schema_url, self.attributes)


def scope_key(name: str, version: str = "", schema_url: str = "",
              attributes: Optional[Mapping[str, Any]] = None) -> Tuple[str, str, str, str]:
    """A hashable identity of a scope (attribute values may be lists: compared as text)."""
    return (name, version or "", schema_url or "", repr(sorted(attributes.items())) if attributes else "")


class Event:
    __slots__ = ("name", "time_ns", "attributes", "dropped_attributes")

    def __init__(self, name: str, time_ns: int, attributes: Dict[str, Any], dropped_attributes: int = 0) -> None:
        self.name = name
        self.time_ns = time_ns
        self.attributes = attributes
        self.dropped_attributes = dropped_attributes


class Link:
    __slots__ = ("context", "attributes", "dropped_attributes")

    def __init__(self, context: SpanContext, attributes: Optional[Dict[str, Any]] = None,
                 dropped_attributes: int = 0) -> None:
        self.context = context
        self.attributes = attributes or {}
        self.dropped_attributes = dropped_attributes


class Span:
    """A recording span. Create it through a tracer; ``end()`` hands it to export."""

    __slots__ = (
        "name", "context", "parent", "kind", "start_ns", "end_ns", "attributes", "events",
        "links", "status_code", "status_message", "scope", "dropped_attributes",
        "dropped_events", "dropped_links", "_provider", "view",
    )
    # ``view`` is never set by the core: an adapter at the edge (the OpenTelemetry API
    # bridge) may keep a weak reference there to the object that presents this span.

    def __init__(self, name: str, context: SpanContext, parent: Optional[SpanContext], kind: int, start_ns: int,
                 attributes: Dict[str, Any], links: List[Link], scope: Scope, provider: Any) -> None:
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns: Optional[int] = None
        self.attributes = attributes
        self.events: Optional[List[Event]] = None
        self.links = links
        self.status_code = 0
        self.status_message = ""
        self.scope = scope
        self.dropped_attributes = 0
        self.dropped_events = 0
        self.dropped_links = 0
        self._provider = provider

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_ns is None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self.end_ns is not None:
            return
        attributes = self.attributes
        provider = self._provider
        if type(value) in provider.plain_types and (key in attributes or len(attributes) < provider.attribute_count):
            attributes[key] = value  # the common case, the most frequent call on the hot path
            return
        limits = provider.limits
        if key not in attributes and len(attributes) >= limits.attribute_count:
            self.dropped_attributes += 1
            return
        kind = type(value)
        if kind is str:
            length = limits.attribute_length
            if length is not None and len(value) > length:  # type: ignore[arg-type]
                value = value[:length]  # type: ignore[index]
        elif kind is not int and kind is not bool and kind is not float:
            value = clean_value(value, limits.attribute_length)
            if value is None:
                return
        attributes[key] = value

    def set_attributes(self, attributes: Attributes) -> None:
        if self.end_ns is not None:
            return
        limits = self._provider.limits
        count, length = limits.attribute_count, limits.attribute_length
        store = self.attributes
        if length is None and not store and len(attributes) <= count:
            # A new span's first attributes, within the count limit and with no length
            # limit (the defaults): copy the plain values in one step.
            if _PLAIN_TYPES.issuperset(map(type, attributes.values())):
                store.update(attributes)
                return
        for key, value in attributes.items():
            self.dropped_attributes += set_limited(store, key, value, count, length)

    def add_event(self, name: str, attributes: Optional[Attributes] = None, timestamp: Optional[int] = None) -> None:
        if self.end_ns is not None:
            return
        limits = self._provider.limits
        if self.events is None:
            self.events = []
        if len(self.events) >= limits.event_count:
            self.dropped_events += 1
            return
        attrs, dropped = limited_dict(attributes or {}, limits.event_attribute_count, limits.attribute_length)
        self.events.append(Event(name, timestamp or time.time_ns(), attrs, dropped))

    def add_link(self, context: SpanContext, attributes: Optional[Attributes] = None) -> None:
        if self.end_ns is not None or not context.is_valid:
            return
        limits = self._provider.limits
        if len(self.links) >= limits.link_count:
            self.dropped_links += 1
            return
        attrs, dropped = limited_dict(attributes or {}, limits.link_attribute_count, limits.attribute_length)
        self.links.append(Link(context, attrs, dropped))

    def set_status(self, code: int, description: Optional[str] = None) -> None:
        """ERROR may carry a description; OK is final (spec: later calls are ignored)."""
        if self.end_ns is not None or self.status_code == StatusCode.OK:
            return
        if code == StatusCode.UNSET:
            return
        self.status_code = code
        self.status_message = (description or "") if code == StatusCode.ERROR else ""

    def record_exception(self, exception: BaseException, attributes: Optional[Attributes] = None,
                         timestamp: Optional[int] = None, escaped: bool = False) -> None:
        """Add the semantic-conventions ``exception`` event (``attributes`` override its
        computed ones: a given ``exception.stacktrace`` is not formatted again)."""
        if self.end_ns is not None:
            return
        event_attrs: Dict[str, Any] = {"exception.type": qualified_type(exception),
                                       "exception.message": exception_text(exception)}
        if not attributes or "exception.stacktrace" not in attributes:
            import traceback

            event_attrs["exception.stacktrace"] = "".join(
                traceback.format_exception(type(exception), exception, exception.__traceback__))
        if attributes:
            event_attrs.update(attributes)
        self.add_event("exception", event_attrs, timestamp)

    def update_name(self, name: str) -> None:
        if self.end_ns is None:
            self.name = name

    def end(self, end_time: Optional[int] = None) -> None:
        if self.end_ns is not None:
            return  # idempotent: a second end is ignored
        self.end_ns = end_time or time_ns()
        self._provider.on_end(self)

    def __enter__(self) -> Span:
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> Literal[False]:
        # Only errors: SystemExit, KeyboardInterrupt and GeneratorExit end a span normally.
        if isinstance(exc, Exception) and self.end_ns is None:
            record_error(self, exc, error_type=False)
        self.end()
        return False

    def __repr__(self) -> str:
        return "Span(%r, %r)" % (self.name, self.context)


def record_error(span: Union[Span, NonRecordingSpan], exception: BaseException, error_type: bool = True,
                 record_exception: bool = True, scrub: Optional[Callable[[str], str]] = None,
                 scrub_stacktrace: Optional[Callable[[str], str]] = None) -> None:
    """An exception ended the operation of ``span``: the ``exception`` event, status ERROR
    with ``Type: message`` and, for instrumentations, ``error.type`` (the class,
    module-qualified). ``scrub(message)`` rewrites the message in the event and the status,
    ``scrub_stacktrace(text)`` the stack trace (by default: the message replaced where it
    repeats). The one place that sequence is written.

    It runs in the ``__exit__`` of spans around application code: an exception whose
    ``str()`` raises must not replace the application's own."""
    if not span.is_recording():
        return  # unsampled or ended: nothing of this would be kept (and a traceback is costly)
    message = exception_text(exception)
    shown = scrub(message) if scrub is not None and message else message
    if record_exception:
        if shown == message and scrub_stacktrace is None:
            span.record_exception(exception, escaped=True)
        else:
            import traceback

            stacktrace = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
            stacktrace = (scrub_stacktrace(stacktrace) if scrub_stacktrace is not None
                          else stacktrace.replace(message, shown))
            span.record_exception(exception, {"exception.message": shown, "exception.stacktrace": stacktrace})
    span.set_status(StatusCode.ERROR, "%s: %s" % (type(exception).__name__, shown))
    if error_type:
        span.set_attribute("error.type", qualified_type(exception))


def exception_text(exception: BaseException) -> str:
    """``str(exception)``, or a placeholder when its ``__str__`` raises (as ``traceback`` does)."""
    try:
        return str(exception)
    except Exception:
        return "<exception str() failed>"


def qualified_type(exception: BaseException) -> str:
    """``exception.type`` / ``error.type``: the exception class, module-qualified."""
    cls = type(exception)
    module = cls.__module__
    if module in ("builtins", "__main__", None):
        return cls.__qualname__
    return module + "." + cls.__qualname__


class NonRecordingSpan:
    """A span that records nothing: a remote parent, or a span the sampler dropped.

    It still carries a valid span context so that propagation keeps the trace.
    """

    __slots__ = ("context", "view")  # view: as on Span, for the edge's adapters only
    name = ""
    attributes: Dict[str, Any] = {}
    end_ns = 0

    def __init__(self, context: SpanContext) -> None:
        self.context = context

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return False

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        pass

    def set_attributes(self, attributes: Attributes) -> None:
        pass

    def add_event(self, name: str, attributes: Optional[Attributes] = None, timestamp: Optional[int] = None) -> None:
        pass

    def add_link(self, context: SpanContext, attributes: Optional[Attributes] = None) -> None:
        pass

    def set_status(self, code: int, description: Optional[str] = None) -> None:
        pass

    def record_exception(self, exception: BaseException, attributes: Optional[Attributes] = None,
                         timestamp: Optional[int] = None, escaped: bool = False) -> None:
        pass

    def update_name(self, name: str) -> None:
        pass

    def end(self, end_time: Optional[int] = None) -> None:
        pass

    def __enter__(self) -> NonRecordingSpan:
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NonRecordingSpan(%r)" % (self.context,)


INVALID_SPAN = NonRecordingSpan(INVALID_SPAN_CONTEXT)

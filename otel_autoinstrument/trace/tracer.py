"""Tracer and provider: where spans are born and where ended spans are handed off.

The provider owns what every span shares (resource, sampler, limits, the processors
that receive ended spans). A tracer is the provider plus an instrumentation scope.
"""

from __future__ import annotations

from random import getrandbits
from time import time_ns

from ..processors import Processors
from .context import _span, attach, detach, get_current_span
from .sampling import AlwaysOn, ParentBased
from .span import (  # noqa: F401
    _PLAIN_TYPES, INVALID_SPAN, NonRecordingSpan, Scope, Span, SpanContext, SpanKind, StatusCode, record_error,
    scope_key)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Literal, Optional, Sequence, Tuple, TypeVar, Union

    from ..config import Settings
    from ..resource import Resource
    from .span import Attributes, Link

    Sampler = Any  # AlwaysOn, AlwaysOff, TraceIdRatio or ParentBased (trace/sampling.py)
    AnySpan = Union[Span, NonRecordingSpan]
    F = TypeVar("F", bound=Callable[..., Any])

_CURRENT: Any = object()  # "parent = whatever span is current" (the default)


class Limits:
    """Span limits (OTEL_SPAN_*_LIMIT and friends)."""

    __slots__ = ("attribute_count", "attribute_length", "event_count", "link_count",
                 "event_attribute_count", "link_attribute_count")

    def __init__(self, attribute_count: int = 128, attribute_length: Optional[int] = None, event_count: int = 128,
                 link_count: int = 128, event_attribute_count: int = 128, link_attribute_count: int = 128) -> None:
        self.attribute_count = attribute_count
        self.attribute_length = attribute_length
        self.event_count = event_count
        self.link_count = link_count
        self.event_attribute_count = event_attribute_count
        self.link_attribute_count = link_attribute_count

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.span_attribute_count_limit, settings.span_attribute_value_length_limit,
                   settings.span_event_count_limit, settings.span_link_count_limit,
                   settings.event_attribute_count_limit, settings.link_attribute_count_limit)


class TracerProvider:
    def __init__(self, resource: Optional[Resource], sampler: Sampler, limits: Optional[Limits] = None,
                 processors: Sequence[Any] = ()) -> None:
        self.resource = resource
        self.sampler = sampler
        self.limits = limits = limits or Limits()
        # What ``Span.set_attribute`` checks first: a value of these types, under the
        # count limit, is stored as it is (a str only when no length limit applies).
        self.attribute_count = limits.attribute_count
        self.plain_types = _PLAIN_TYPES if limits.attribute_length is None else frozenset((int, float, bool))
        self.processors = Processors(processors)
        self._route_ended_spans()
        self._tracers: Dict[Tuple[str, ...], Tracer] = {}
        # The default sampler (parentbased_always_on) decided inline on the hot path.
        self.parent_or_on = isinstance(sampler, ParentBased) and isinstance(sampler.root, AlwaysOn)

    def get_tracer(self, name: str, version: str = "", schema_url: str = "",
                   attributes: Optional[Dict[str, Any]] = None) -> Tracer:
        key = (name, version) if not (schema_url or attributes) else scope_key(name, version, schema_url, attributes)
        tracer = self._tracers.get(key)
        if tracer is None:
            tracer = self._tracers[key] = Tracer(self, Scope(name, version, schema_url, attributes))
        return tracer

    def add_processor(self, processor: Any) -> None:
        self.processors.append(processor)
        self._route_ended_spans()

    def on_end(self, span: Span) -> None:
        """Hand an ended span to every processor. (Replaced on the instance by
        ``processors.dispatcher()``.)"""
        for processor in self.processors:
            processor.on_end(span)

    def _route_ended_spans(self) -> None:
        self.on_end = self.processors.dispatcher()  # type: ignore[method-assign]

    def force_flush(self, timeout_s: float = 5.0) -> None:
        self.processors.force_flush(timeout_s)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        self.processors.shutdown(timeout_s)


class Tracer:
    def __init__(self, provider: TracerProvider, scope: Scope) -> None:
        self.provider = provider
        self.scope = scope

    def start_span(self, name: str, kind: int = SpanKind.INTERNAL, attributes: Optional[Attributes] = None,
                   links: Optional[Sequence[Link]] = None, start_time: Optional[int] = None,
                   parent: Any = _CURRENT) -> AnySpan:
        """Start a span (not made current). ``parent`` is a span, a SpanContext, or None
        for a new trace; by default the current span."""
        if parent is _CURRENT:
            parent = _span.get()
        if parent is not None and not isinstance(parent, SpanContext):
            parent = parent.context
        if parent is not None and parent.trace_id and parent.span_id:
            trace_id = parent.trace_id
            trace_state = parent.trace_state
        else:
            parent = None
            trace_id = getrandbits(128) or 1
            trace_state = ""
        provider = self.provider
        if provider.parent_or_on:
            sampled = parent is None or bool(parent.trace_flags & 1)
        else:
            sampled = provider.sampler.should_sample(parent, trace_id)
        context = SpanContext(trace_id, getrandbits(64) or 1, 1 if sampled else 0, trace_state)
        if not sampled or not provider.processors:
            # Unsampled, or nowhere to send it (exporter none): the context still
            # propagates, and instrumentations skip their attribute work.
            return NonRecordingSpan(context)
        if not attributes:
            span = Span(name, context, parent, kind, start_time or time_ns(), {}, [], self.scope, provider)
        elif (provider.plain_types is _PLAIN_TYPES and len(attributes) <= provider.attribute_count
                and _PLAIN_TYPES.issuperset(map(type, attributes.values()))):
            # Plain values within the limits (the defaults; what instrumentations pass):
            # copied in one step, no per-value checks.
            span = Span(name, context, parent, kind, start_time or time_ns(), dict(attributes), [], self.scope,
                        provider)
        else:
            span = Span(name, context, parent, kind, start_time or time_ns(), {}, [], self.scope, provider)
            span.set_attributes(attributes)
        if links:
            for link in links:
                span.add_link(link.context, link.attributes)
        return span

    def start_as_current_span(self, name: str, kind: int = SpanKind.INTERNAL, attributes: Optional[Attributes] = None,
                              links: Optional[Sequence[Link]] = None, record_exception: bool = True,
                              end_on_exit: bool = True) -> _CurrentSpan:
        """Context manager (and decorator) that starts a span and makes it current."""
        return _CurrentSpan(self, name, kind, attributes, links, record_exception, end_on_exit)


class _CurrentSpan:
    __slots__ = ("tracer", "name", "kind", "attributes", "links", "record_exception",
                 "end_on_exit", "span", "token")

    def __init__(self, tracer: Tracer, name: str, kind: int, attributes: Optional[Attributes],
                 links: Optional[Sequence[Link]], record_exception: bool, end_on_exit: bool) -> None:
        self.tracer = tracer
        self.name = name
        self.kind = kind
        self.attributes = attributes
        self.links = links
        self.record_exception = record_exception
        self.end_on_exit = end_on_exit

    def __enter__(self) -> AnySpan:
        span = self.span = self.tracer.start_span(self.name, self.kind, self.attributes, self.links)
        self.token = _span.set(span)  # attach(), inlined: this runs for every span
        return span

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> Literal[False]:
        span = self.span
        try:
            _span.reset(self.token)  # detach(), inlined
        except ValueError:
            pass  # entered in another context: the span is not current here anyway
        if isinstance(exc, Exception) and span.end_ns is None:
            record_error(span, exc, error_type=False, record_exception=self.record_exception)
        if self.end_on_exit:
            span.end()
        return False

    def __call__(self, func: F) -> F:
        """Use as a decorator: a new span for each call of ``func``."""
        tracer, name, kind = self.tracer, self.name, self.kind
        attributes, links, record, end = self.attributes, self.links, self.record_exception, self.end_on_exit
        import functools

        if getattr(getattr(func, "__code__", None), "co_flags", 0) & 0x80:  # CO_COROUTINE: async def
            @functools.wraps(func)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                with _CurrentSpan(tracer, name, kind, attributes, links, record, end):
                    return await func(*args, **kwargs)

            return traced_async  # type: ignore[return-value]

        @functools.wraps(func)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with _CurrentSpan(tracer, name, kind, attributes, links, record, end):
                return func(*args, **kwargs)

        return traced  # type: ignore[return-value]


class use_span:
    """Make an existing span current for a block; ends it on exit if asked."""

    __slots__ = ("span", "end_on_exit", "token")

    def __init__(self, span: AnySpan, end_on_exit: bool = False) -> None:
        self.span = span
        self.end_on_exit = end_on_exit

    def __enter__(self) -> AnySpan:
        self.token = attach(self.span)
        return self.span

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> Literal[False]:
        detach(self.token)
        if isinstance(exc, Exception) and self.span.end_ns is None:
            record_error(self.span, exc, error_type=False)
        if self.end_on_exit:
            self.span.end()
        return False


current_span = get_current_span  # the older name, kept as an alias

"""Assertions on recorded spans: find by name, kind and attributes; parent and child;
same trace; attribute subsets. Each failure message lists what was there instead."""

from __future__ import annotations

from ..trace.span import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, List, Mapping, Optional, Sequence, Union

    from ..trace.span import NonRecordingSpan, Span

__all__ = ["assert_attributes", "assert_child_of", "assert_root", "assert_same_trace", "describe",
           "find_span", "find_spans"]

_MISSING = object()


def describe(span: Span) -> str:
    """``'GET /users CLIENT trace=4bf9.. span=00f0.. parent=..'``: one line per span."""
    parent = "%016x" % span.parent.span_id if span.parent is not None else "-"
    return "%r %s trace=%032x span=%016x parent=%s %r" % (
        span.name, SpanKind.NAMES.get(span.kind, span.kind), span.context.trace_id, span.context.span_id,
        parent, dict(span.attributes))


def _listing(spans: Iterable[Span]) -> str:
    lines = [describe(s) for s in spans]
    return "\n  ".join(lines) if lines else "(no span ended)"


def _has_attributes(span: Span, expected: Mapping[str, Any]) -> bool:
    actual = span.attributes
    return all(actual.get(key, _MISSING) == value for key, value in expected.items())


def find_spans(spans: Iterable[Span], name: Optional[str] = None, kind: Optional[int] = None,
               attributes: Optional[Mapping[str, Any]] = None) -> List[Span]:
    """The spans with this name, of this kind, having these attributes (a subset)."""
    return [s for s in spans if (name is None or s.name == name) and (kind is None or s.kind == kind)
            and (not attributes or _has_attributes(s, attributes))]


def find_span(spans: Sequence[Span], name: Optional[str] = None, kind: Optional[int] = None,
              attributes: Optional[Mapping[str, Any]] = None) -> Span:
    """The one span that matches; AssertionError (listing every span) for none or several."""
    found = find_spans(spans, name, kind, attributes)
    if len(found) != 1:
        wanted = ", ".join("%s=%r" % item for item in (("name", name), ("kind", kind), ("attributes", attributes))
                           if item[1] is not None)
        raise AssertionError("expected one span with %s, found %d among:\n  %s" % (
            wanted or "any properties", len(found), _listing(spans)))
    return found[0]


def assert_attributes(span: Span, expected: Mapping[str, Any]) -> None:
    """Every attribute in ``expected`` is on ``span`` with that value (others may be too)."""
    wrong = {key: span.attributes.get(key, "(missing)") for key, value in expected.items()
             if span.attributes.get(key, _MISSING) != value}
    if wrong:
        raise AssertionError("span %r: expected %r, found %r (all attributes: %r)" % (
            span.name, {k: expected[k] for k in wrong}, wrong, dict(span.attributes)))


def assert_child_of(child: Span, parent: Union[Span, NonRecordingSpan]) -> None:
    """``child``'s parent is ``parent`` (same trace, parent span id); ``parent`` may be a
    non-recording span (a remote parent, or one the sampler dropped)."""
    got = child.parent
    if got is None or got.span_id != parent.context.span_id or got.trace_id != parent.context.trace_id:
        raise AssertionError("expected %s\n  to be a child of %r" % (describe(child), parent))


def assert_same_trace(*spans: Span) -> None:
    traces = {s.context.trace_id for s in spans}
    if len(traces) != 1:
        raise AssertionError("expected one trace, got:\n  %s" % _listing(spans))


def assert_root(span: Span) -> None:
    """``span`` starts a trace (no parent, local or remote)."""
    if span.parent is not None:
        raise AssertionError("expected a root span, got %s" % describe(span))

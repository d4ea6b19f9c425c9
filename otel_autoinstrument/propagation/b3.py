"""Zipkin B3, single header (``b3``) and multiple headers (``x-b3-*``), for services
that still speak it. Only selected when OTEL_PROPAGATORS names b3 or b3multi."""

from ..trace.span import SpanContext
from .tracecontext import _is_hex


def _ids(trace_id, span_id):
    if not (_is_hex(trace_id) and _is_hex(span_id)) or len(trace_id) not in (16, 32) or len(span_id) != 16:
        return None
    trace, span = int(trace_id, 16), int(span_id, 16)
    return (trace, span) if trace and span else None


def _flags(sampled):
    return 1 if sampled in ("1", "d", "true") else 0


class B3SinglePropagator:
    fields = ("b3",)

    def extract(self, get, carried):
        value = (get("b3") or "").strip().lower()
        parts = value.split("-")
        if len(parts) < 2:
            return
        ids = _ids(parts[0], parts[1])
        if ids is None:
            return
        sampled = parts[2] if len(parts) > 2 else "1"
        carried.span_context = SpanContext(ids[0], ids[1], _flags(sampled), "", is_remote=True)

    def inject(self, set_header, context, baggage):
        if context is not None and context.is_valid:
            set_header("b3", "%032x-%016x-%d" % (context.trace_id, context.span_id, context.trace_flags & 1))


class B3MultiPropagator:
    fields = ("x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags")

    def extract(self, get, carried):
        ids = _ids((get("x-b3-traceid") or "").strip().lower(), (get("x-b3-spanid") or "").strip().lower())
        if ids is None:
            return
        sampled = "d" if (get("x-b3-flags") or "").strip() == "1" else (get("x-b3-sampled") or "1").strip().lower()
        carried.span_context = SpanContext(ids[0], ids[1], _flags(sampled), "", is_remote=True)

    def inject(self, set_header, context, baggage):
        if context is not None and context.is_valid:
            set_header("x-b3-traceid", "%032x" % context.trace_id)
            set_header("x-b3-spanid", "%016x" % context.span_id)
            set_header("x-b3-sampled", "1" if context.trace_flags & 1 else "0")

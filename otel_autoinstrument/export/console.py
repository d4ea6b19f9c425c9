"""The ``console`` exporter: each finished trace printed as an indented tree.

Spans of one trace can arrive in different batches, so they are held until the
trace's local root (a span with no parent in this process) has ended, then printed
as one block; what is still held at shutdown is printed as it is.
"""

import sys

from ..trace.span import SpanKind, StatusCode
from .outcome import Outcome

_KEY_ATTRIBUTES = ("http.route", "http.response.status_code", "url.full", "db.query.text",
                   "db.system.name", "error.type")


def _duration_ms(span):
    return (span.end_ns - span.start_ns) / 1e6


def format_trace(spans):
    """Lines of text for the spans of one trace, parents before children."""
    ids = {s.context.span_id for s in spans}
    children = {}
    roots = []
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = span.parent.span_id if span.parent is not None else None
        if parent in ids:
            children.setdefault(parent, []).append(span)
        else:
            roots.append(span)
    lines = ["trace %032x" % spans[0].context.trace_id]

    def walk(span, depth):
        attrs = " ".join("%s=%s" % (k, span.attributes[k]) for k in _KEY_ATTRIBUTES if k in span.attributes)
        status = "" if span.status_code == StatusCode.UNSET else " " + StatusCode.NAMES[span.status_code]
        lines.append("%s%s [%s%s] %.2f ms %s" % ("  " * (depth + 1), span.name, SpanKind.NAMES.get(span.kind, "?"),
                                                 status, _duration_ms(span), attrs))
        for child in children.get(span.context.span_id, ()):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return lines


class ConsoleSpanExporter:
    def __init__(self, stream=None):
        self.stream = stream
        self._pending = {}

    def export(self, spans, deadline):
        finished = []
        for span in spans:
            self._pending.setdefault(span.context.trace_id, []).append(span)
            if span.parent is None or span.parent.is_remote:
                finished.append(span.context.trace_id)
        for trace_id in finished:
            self._print(self._pending.pop(trace_id, []))
        return Outcome(len(spans))

    def _print(self, spans):
        if spans:
            stream = self.stream or sys.stdout
            stream.write("\n".join(format_trace(spans)) + "\n")
            stream.flush()

    def after_fork(self):
        self._pending = {}

    def shutdown(self):
        pending, self._pending = self._pending, {}
        for spans in pending.values():
            self._print(spans)


class ConsoleLogExporter:
    def __init__(self, stream=None):
        self.stream = stream

    def export(self, records, deadline):
        stream = self.stream or sys.stdout
        for r in records:
            trace = " trace=%032x span=%016x" % (r.trace_id, r.span_id) if r.trace_id else ""
            stream.write("log %s %s%s: %s\n" % (r.severity_text, r.scope.name if r.scope else "", trace, r.body))
        stream.flush()
        return Outcome(len(records))

    def after_fork(self):
        pass

    def shutdown(self):
        pass

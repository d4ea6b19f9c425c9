"""The ``console`` exporters: each finished trace as a waterfall, each log record on a line.

A trace is printed as one block, one line per span, parents before children::

    trace 4bf92f3577b34da6a3ce929d0e0e4736  3 spans  12.41 ms
    GET /users/<int:user_id>  SERVER        |##############################| 12.41 ms  route=/users/<int:user_id> status=200
      SELECT shop.db          CLIENT        |  ###                         |  1.02 ms  db=sqlite query="SELECT ..."
      GET                     CLIENT  ERROR |       ##########             |  4.10 ms  url=http://127.0.0.1:5001/ status=500

Indentation is nesting; the bar shows where the span sits in the trace's time and how
long it took (a waterfall). Colours are used only when the stream is a terminal.

Spans of one trace can arrive in different batches, so they are held until the
trace's local root (a span with no parent in this process) has ended, then printed
as one block; what is still held at shutdown is printed as it is.

Text from the application is printed safely: lone surrogates become U+FFFD, characters
the stream cannot encode become ``?``; a trace or record that cannot be formatted at all
(a value whose ``str()`` raises) is left out alone and counted as "could not be encoded".
"""

import sys
import time

from ..trace.span import SpanKind, StatusCode
from . import outcome as reasons
from .encoding import safe_text
from .outcome import Outcome

BAR_WIDTH = 30
NAME_WIDTH = 48
QUERY_WIDTH = 80

# ANSI colours, used only on a terminal.
_RESET, _BOLD, _DIM = "\x1b[0m", "\x1b[1m", "\x1b[2m"
_RED, _GREEN, _YELLOW, _BLUE, _MAGENTA, _CYAN = ("\x1b[3%dm" % n for n in (1, 2, 3, 4, 5, 6))
_KIND_COLOURS = {SpanKind.SERVER: _GREEN, SpanKind.CLIENT: _CYAN, SpanKind.INTERNAL: _BLUE,
                 SpanKind.PRODUCER: _MAGENTA, SpanKind.CONSUMER: _MAGENTA}
_LEVEL_COLOURS = {"WARNING": _YELLOW, "WARN": _YELLOW, "ERROR": _RED, "CRITICAL": _RED, "FATAL": _RED,
                  "DEBUG": _DIM}


class _Style:
    """Wraps text in ANSI codes, or leaves it alone when colours are off."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __call__(self, text, *codes):
        if not self.enabled or not codes or not text:
            return text
        return "".join(codes) + text + _RESET


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except Exception:
        return False


def _bar_char(stream):
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return "\u2588" if encoding.startswith("utf") else "#"


def _quote(text, width):
    text = " ".join(str(text).split())  # one line, whatever the statement looked like
    if len(text) > width:
        text = text[: width - 3] + "..."
    return '"%s"' % text


def key_attributes(span):
    """The few attributes that say what a span did, as ``name=value`` words."""
    a = span.attributes
    words = []
    if "http.route" in a:
        words.append("route=%s" % a["http.route"])
    elif span.kind == SpanKind.SERVER and "url.path" in a:
        words.append("path=%s" % a["url.path"])
    if "url.full" in a:
        words.append("url=%s" % a["url.full"])
    if "http.response.status_code" in a:
        words.append("status=%s" % a["http.response.status_code"])
    if "db.system.name" in a:
        words.append("db=%s" % a["db.system.name"])
    if "db.query.text" in a:
        words.append("query=%s" % _quote(a["db.query.text"], QUERY_WIDTH))
    if "error.type" in a:
        words.append("error=%s" % a["error.type"])
    elif span.status_code == StatusCode.ERROR and span.status_message:
        words.append("error=%s" % _quote(span.status_message, QUERY_WIDTH))
    return words


def _tree(spans):
    """(span, depth) pairs, parents before children, siblings by start time."""
    ids = {s.context.span_id for s in spans}
    children = {}
    roots = []
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = span.parent.span_id if span.parent is not None else None
        if parent in ids and parent != span.context.span_id:
            children.setdefault(parent, []).append(span)
        else:
            roots.append(span)
    ordered = []
    stack = [(root, 0) for root in reversed(roots)]
    while stack:  # iterative: a deep trace must not hit the recursion limit
        span, depth = stack.pop()
        ordered.append((span, depth))
        for child in reversed(children.get(span.context.span_id, ())):
            stack.append((child, depth + 1))
    return ordered


def _bar(span, t0, total, char):
    start = int((span.start_ns - t0) * BAR_WIDTH // total)
    length = max(1, int(round((span.end_ns - span.start_ns) * BAR_WIDTH / total)))
    start = min(start, BAR_WIDTH - 1)
    length = min(length, BAR_WIDTH - start)
    return " " * start + char * length + " " * (BAR_WIDTH - start - length)


def _duration(ns):
    ms = ns / 1e6
    return "%8.2f ms" % ms if ms < 100000 else "%8.1f s " % (ms / 1000.0)


def format_trace(spans, colour=False, bar_char="#"):
    """Lines of text for the spans of one trace: a header, then one line per span."""
    style = _Style(colour)
    ordered = _tree(spans)
    t0 = min(s.start_ns for s in spans)
    t1 = max(s.end_ns or s.start_ns for s in spans)
    total = max(t1 - t0, 1)
    header = "trace %032x  %d span%s  %s" % (
        spans[0].context.trace_id, len(spans), "" if len(spans) == 1 else "s", _duration(t1 - t0).strip())
    # A remote parent that is printed here too (this process called itself) is no other process's.
    here = {s.context.span_id for s in spans}
    remote = [s for s, _ in ordered if s.parent is not None and s.parent.is_remote and s.parent.span_id not in here]
    if remote:
        header += "  (continues span %016x of another process)" % remote[0].parent.span_id
    lines = [style(header, _BOLD)]
    names = []
    for span, depth in ordered:
        name = "  " * depth + span.name
        if len(name) > NAME_WIDTH:
            name = name[: NAME_WIDTH - 3] + "..."
        names.append(name)
    name_width = max(len(n) for n in names)
    for (span, depth), name in zip(ordered, names):
        kind = SpanKind.NAMES.get(span.kind, "?")
        status = StatusCode.NAMES[span.status_code] if span.status_code != StatusCode.UNSET else ""
        colour_of_kind = _RED if span.status_code == StatusCode.ERROR else _KIND_COLOURS.get(span.kind, "")
        words = " ".join(key_attributes(span))
        line = "%s  %s %s |%s| %s" % (
            style(name.ljust(name_width), _BOLD) if depth == 0 else name.ljust(name_width),
            kind.ljust(8),
            style(status.ljust(5), _RED, _BOLD) if status == "ERROR" else status.ljust(5),
            style(_bar(span, t0, total, bar_char), colour_of_kind),
            _duration((span.end_ns or span.start_ns) - span.start_ns))
        if words:
            line += "  " + style(words, _DIM)
        lines.append(line.rstrip())
    return lines


def _write(stream, text):
    """Write text from the application: lone surrogates replaced, and what the stream's
    encoding cannot carry written as ``?``."""
    text = safe_text(text)
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "replace").decode(encoding, "replace"))


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
        failed = set()
        for trace_id in finished:
            if not self._print(self._pending.pop(trace_id, [])):
                failed.add(trace_id)
        lost = sum(1 for span in spans if span.context.trace_id in failed)
        return Outcome(len(spans) - lost, lost, reasons.UNENCODABLE)

    def _print(self, spans):
        """Print one trace; False if it could not be formatted."""
        if not spans:
            return True
        stream = self.stream or sys.stdout
        try:
            lines = format_trace(spans, colour=_is_terminal(stream), bar_char=_bar_char(stream))
        except Exception:
            return False
        _write(stream, "\n".join(lines) + "\n")
        stream.flush()
        return True

    def after_fork(self):
        self._pending = {}

    def shutdown(self):
        pending, self._pending = self._pending, {}
        for spans in pending.values():
            self._print(spans)


def format_log(record, colour=False):
    """One line: time, level, logger, message (newlines escaped), trace and span ids."""
    style = _Style(colour)
    seconds = record.time_ns // 1000000000
    stamp = time.strftime("%H:%M:%S", time.localtime(seconds)) + ".%03d" % (record.time_ns // 1000000 % 1000)
    level = (record.severity_text or "-").upper()
    body = str(record.body).replace("\r", "\\r").replace("\n", "\\n")
    scope = record.scope.name if record.scope is not None and record.scope.name else ""
    line = "log %s %s %s%s" % (stamp, style(level.ljust(7), _LEVEL_COLOURS.get(level, "")),
                               scope + ": " if scope else "", body)
    if record.trace_id:
        line += "  " + style("trace=%032x span=%016x" % (record.trace_id, record.span_id), _DIM)
    return line


class ConsoleLogExporter:
    def __init__(self, stream=None):
        self.stream = stream

    def export(self, records, deadline):
        stream = self.stream or sys.stdout
        colour = _is_terminal(stream)
        lines = []
        for record in records:
            try:
                lines.append(format_log(record, colour) + "\n")
            except Exception:
                pass  # this record alone is left out, and counted
        _write(stream, "".join(lines))
        stream.flush()
        lost = len(records) - len(lines)
        return Outcome(len(lines), lost, reasons.UNENCODABLE)

    def after_fork(self):
        pass

    def shutdown(self):
        pass

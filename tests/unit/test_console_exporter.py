"""The console exporter's picture of a trace: one line per span, nesting by indentation,
a duration bar placed in the trace's time, kind, status and the key attributes."""

import io
import re

from otel_autoinstrument.export.console import ConsoleLogExporter, ConsoleSpanExporter, format_trace
from otel_autoinstrument.logs.record import LogRecord
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.span import SpanContext, SpanKind, StatusCode
from otel_autoinstrument.trace.tracer import Scope, TracerProvider

MS = 1000000
T0 = 1700000000000 * MS

LINE = re.compile(r"^(?P<indent> *)(?P<name>\S.*?)\s+(?P<kind>SERVER|CLIENT|INTERNAL)\s+(?P<status>ERROR|OK)?\s*"
                  r"\|(?P<bar>[^|]*)\|\s+(?P<ms>[\d.]+) ms(?:  (?P<attrs>.*))?$")


class Collect:
    def __init__(self):
        self.spans = []

    def on_end(self, span):
        self.spans.append(span)


def known_trace(parent=None):
    """server -> (db, client -> internal), with fixed times in ms after T0."""
    sink = Collect()
    tracer = TracerProvider(None, AlwaysOn(), processors=[sink]).get_tracer("test")
    server = tracer.start_span("GET /users/<int:user_id>", SpanKind.SERVER, start_time=T0, parent=parent,
                               attributes={"http.route": "/users/<int:user_id>", "http.response.status_code": 200,
                                           "url.path": "/users/7", "http.request.method": "GET"})
    db = tracer.start_span("SELECT shop", SpanKind.CLIENT, start_time=T0 + 10 * MS, parent=server,
                           attributes={"db.system.name": "sqlite",
                                       "db.query.text": "SELECT id,\n  name FROM users WHERE id = ?"})
    db.end(T0 + 30 * MS)
    client = tracer.start_span("GET", SpanKind.CLIENT, start_time=T0 + 40 * MS, parent=server,
                               attributes={"url.full": "http://127.0.0.1:9/users/7", "http.response.status_code": 503,
                                           "error.type": "503"})
    retry = tracer.start_span("backoff", SpanKind.INTERNAL, start_time=T0 + 60 * MS, parent=client)
    retry.end(T0 + 70 * MS)
    client.set_status(StatusCode.ERROR)
    client.end(T0 + 90 * MS)
    server.end(T0 + 100 * MS)
    return sink.spans


def parse(lines):
    rows = []
    for line in lines[1:]:
        match = LINE.match(line)
        assert match, "unexpected line shape: %r" % line
        rows.append(match.groupdict())
    return rows


def test_tree_shape_of_a_known_trace():
    spans = known_trace()
    lines = format_trace(list(reversed(spans)))  # the order spans arrive in must not matter
    assert lines[0].startswith("trace %032x  4 spans" % spans[0].context.trace_id)
    rows = parse(lines)
    assert [(len(r["indent"]), r["name"], r["kind"], r["status"]) for r in rows] == [
        (0, "GET /users/<int:user_id>", "SERVER", None),
        (2, "SELECT shop", "CLIENT", None),
        (2, "GET", "CLIENT", "ERROR"),
        (4, "backoff", "INTERNAL", None),
    ]
    server, db, client, backoff = rows
    assert server["attrs"] == "route=/users/<int:user_id> status=200"
    assert db["attrs"] == 'db=sqlite query="SELECT id, name FROM users WHERE id = ?"'
    assert client["attrs"] == "url=http://127.0.0.1:9/users/7 status=503 error=503"
    assert backoff["attrs"] is None
    # The waterfall: every bar has the same width; the root fills it; children sit in order.
    assert len({len(r["bar"]) for r in rows}) == 1
    assert set(server["bar"]) == {"#"}

    def start(row):
        return len(row["bar"]) - len(row["bar"].lstrip())

    assert start(server) < start(db) < start(client) < start(backoff)
    assert len(db["bar"].strip()) < len(client["bar"].strip()) < len(server["bar"].strip())
    # Columns line up: every bar starts at the same offset.
    assert len({line.index("|") for line in lines[1:]}) == 1


def test_remote_parent_is_named_in_the_header():
    remote = SpanContext(0xABC, 0x1234, 1, is_remote=True)
    lines = format_trace(known_trace(parent=remote))
    assert "continues span 0000000000001234 of another process" in lines[0]
    assert [len(r["indent"]) for r in parse(lines)] == [0, 2, 2, 4]


def test_a_remote_parent_printed_in_the_same_trace_is_not_another_process():
    """A process calling itself (a client span, then its own server span extracted from
    the request): the trace is one, the header names no other process."""
    caller = known_trace()[-1]  # the server span of a first trace plays the local caller
    extracted = SpanContext(caller.context.trace_id, caller.context.span_id, 1, is_remote=True)
    called = known_trace(parent=extracted)
    lines = format_trace([caller] + called)
    assert "another process" not in lines[0]


def test_exporter_prints_a_trace_when_its_local_root_ends_and_leftovers_at_shutdown():
    stream = io.StringIO()
    exporter = ConsoleSpanExporter(stream)
    spans = known_trace()
    children, root = spans[:-1], spans[-1]
    exporter.export(children, None)
    assert stream.getvalue() == ""  # held: the root has not ended yet
    exporter.export([root], None)
    printed = stream.getvalue().splitlines()
    assert len(printed) == 5 and "\x1b[" not in stream.getvalue()  # no colours off a terminal

    orphan = known_trace()[:2]  # the root never ends in this process
    exporter.export(orphan, None)
    assert len(stream.getvalue().splitlines()) == 5
    exporter.shutdown()
    tail = stream.getvalue().splitlines()[5:]
    assert tail[0].startswith("trace ") and len(tail) == 3


class FakeTerminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return True


def test_colours_and_block_bars_only_on_a_terminal():
    stream = FakeTerminal()
    ConsoleSpanExporter(stream).export(known_trace(), None)
    text = stream.getvalue()
    assert "\x1b[31m" in text  # the ERROR span in red
    assert "\u2588" in text


def test_log_record_on_one_line_with_its_trace_id():
    stream = io.StringIO()
    record = LogRecord("payment failed\nretrying", 17, "ERROR", trace_id=0xABCDEF, span_id=0x42,
                       scope=Scope("shop.payments"))
    plain = LogRecord("started", 9, "INFO", scope=Scope("shop"))
    ConsoleLogExporter(stream).export([record, plain], None)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert re.match(r"^log \d\d:\d\d:\d\d\.\d{3} ERROR   shop\.payments: payment failed\\nretrying  "
                    r"trace=0{26}abcdef span=0{14}42$", lines[0]), lines[0]
    assert re.match(r"^log \S+ INFO    shop: started$", lines[1]), lines[1]


class Unprintable:
    def __str__(self):
        raise RuntimeError("no text")


def test_text_from_the_application_always_prints():
    """A lone surrogate (a client's JSON "\\udcff") in names, attributes and log bodies is
    printed as U+FFFD; a stream that cannot encode it gets "?"; nothing raises."""
    sink = Collect()
    tracer = TracerProvider(None, AlwaysOn(), processors=[sink]).get_tracer("test")
    tracer.start_span("GET caf\udcff", SpanKind.SERVER, attributes={"url.path": "/caf\udcff"}).end()
    records = [LogRecord("caf\udcff"), LogRecord({"name": "caf\udcff"}), LogRecord(Unprintable()), LogRecord("ok")]
    utf8, ascii_bytes = io.StringIO(), io.BytesIO()
    ascii_stream = io.TextIOWrapper(ascii_bytes, encoding="ascii")
    for stream in (utf8, ascii_stream):
        assert ConsoleSpanExporter(stream).export(sink.spans, None).exported == 1
        result = ConsoleLogExporter(stream).export(records, None)
        assert (result.exported, result.dropped, result.reason) == (3, 1, "could not be encoded")
    ascii_stream.flush()
    assert "GET caf\ufffd" in utf8.getvalue() and "caf\ufffd" in utf8.getvalue().splitlines()[-3]
    assert "GET caf?" in ascii_bytes.getvalue().decode("ascii")

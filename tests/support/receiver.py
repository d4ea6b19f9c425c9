"""A real OTLP/HTTP receiver for end-to-end tests.

It listens on 127.0.0.1, decodes what exporters send (protobuf or OTLP JSON,
optionally gzip-compressed) with opentelemetry-proto, answers like a
collector would, and can be told to misbehave (errors, hangs, dropped
connections, partial success) so tests can exercise retry and timeout paths.

Tests assert on flattened views (`spans()`, `logs()`) made of plain Python
values, and wait for data with the bounded `wait_for_*` helpers.
"""

import base64
import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

TRACES_PATH = "/v1/traces"
LOGS_PATH = "/v1/logs"
METRICS_PATH = "/v1/metrics"

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# A hang is always bounded, even if a test asks for something silly.
MAX_HANG_SECONDS = 60.0

_KINDS = {
    0: "UNSPECIFIED",
    1: "INTERNAL",
    2: "SERVER",
    3: "CLIENT",
    4: "PRODUCER",
    5: "CONSUMER",
}
_STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}

# OTLP JSON writes these bytes fields as hex; protobuf's JSON mapping
# expects base64. Both spellings json_format accepts are listed.
_HEX_ID_KEYS = frozenset(
    ["traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"]
)


class _Signal(NamedTuple):
    """How to decode a request for one path and answer it."""

    request_type: Any
    response_type: Any
    partial_type: Any
    rejected_field: str


_SIGNALS = {
    TRACES_PATH: _Signal(
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        trace_service_pb2.ExportTracePartialSuccess,
        "rejected_spans",
    ),
    LOGS_PATH: _Signal(
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        logs_service_pb2.ExportLogsPartialSuccess,
        "rejected_log_records",
    ),
    METRICS_PATH: _Signal(
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        metrics_service_pb2.ExportMetricsPartialSuccess,
        "rejected_data_points",
    ),
}


# --------------------------------------------------------------------------
# Recorded data and flattened views
# --------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One HTTP request exactly as it arrived, plus how it was answered."""

    path: str
    headers: Dict[str, str]
    raw_body: bytes  # as received (possibly gzip)
    body: bytes  # after gunzip
    content_type: str  # media type without parameters, lower case
    status: Optional[int] = None  # None while pending or if the socket was closed
    message: Any = None  # decoded Export*ServiceRequest, if decoding worked


@dataclass
class EventView:
    name: str
    time_ns: int
    attributes: Dict[str, Any]


class LinkView(NamedTuple):
    """A span link; compares equal to a plain (trace_id, span_id, attributes) tuple."""

    trace_id: str
    span_id: str
    attributes: Dict[str, Any]


@dataclass
class SpanView:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    attributes: Dict[str, Any]
    events: List[EventView]
    links: List[LinkView]
    status_code: str
    status_message: str
    start_ns: int
    end_ns: int
    trace_state: str
    flags: int
    resource: Dict[str, Any]
    scope_name: str
    scope_version: str
    dropped_attributes_count: int
    dropped_events_count: int
    dropped_links_count: int
    scope_attributes: Dict[str, Any] = field(default_factory=dict)
    schema_url: str = ""

    def __str__(self):
        return "%s[%s %s/%s parent=%s]" % (
            self.name,
            self.kind,
            self.trace_id,
            self.span_id,
            self.parent_span_id or "-",
        )


@dataclass
class LogView:
    time_ns: int
    observed_time_ns: int
    severity_number: int
    severity_text: str
    body: Any
    attributes: Dict[str, Any]
    trace_id: str
    span_id: str
    flags: int
    resource: Dict[str, Any]
    scope_name: str
    dropped_attributes_count: int
    event_name: str = ""

    def __str__(self):
        return "%s %r trace=%s" % (self.severity_text or self.severity_number, self.body, self.trace_id or "-")


def any_value(value) -> Any:
    """Convert an OTLP AnyValue into the equivalent plain Python value."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return key_values(value.kvlist_value.values)
    return getattr(value, which)


def key_values(items) -> Dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in items}


def _hex(raw: bytes) -> str:
    """Lower-case hex of an id; "" when absent or all zero (the invalid id)."""
    if not raw or not any(raw):
        return ""
    return raw.hex()


def _span_view(span, resource, scope, schema_url="") -> SpanView:
    return SpanView(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=_hex(span.parent_span_id),
        name=span.name,
        kind=_KINDS.get(span.kind, "UNSPECIFIED"),
        attributes=key_values(span.attributes),
        events=[
            EventView(e.name, e.time_unix_nano, key_values(e.attributes))
            for e in span.events
        ],
        links=[
            LinkView(l.trace_id.hex(), l.span_id.hex(), key_values(l.attributes))
            for l in span.links
        ],
        status_code=_STATUS_CODES.get(span.status.code, "UNSET"),
        status_message=span.status.message,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        trace_state=span.trace_state,
        flags=span.flags,
        resource=resource,
        scope_name=scope.name,
        scope_version=scope.version,
        dropped_attributes_count=span.dropped_attributes_count,
        dropped_events_count=span.dropped_events_count,
        dropped_links_count=span.dropped_links_count,
        scope_attributes=key_values(scope.attributes),
        schema_url=schema_url,
    )


def _log_view(record, resource, scope) -> LogView:
    return LogView(
        time_ns=record.time_unix_nano,
        observed_time_ns=record.observed_time_unix_nano,
        severity_number=record.severity_number,
        severity_text=record.severity_text,
        body=any_value(record.body),
        attributes=key_values(record.attributes),
        trace_id=_hex(record.trace_id),
        span_id=_hex(record.span_id),
        flags=record.flags,
        resource=resource,
        scope_name=scope.name,
        dropped_attributes_count=record.dropped_attributes_count,
        event_name=record.event_name,
    )


class ExemplarView(NamedTuple):
    value: float
    time_ns: int
    trace_id: str
    span_id: str


@dataclass
class PointView:
    """One metric data point, with its metric's description."""

    metric: str
    kind: str  # "sum", "gauge" or "histogram"
    unit: str
    monotonic: bool
    temporality: str  # "cumulative", "delta" or "" (gauge)
    attributes: Dict[str, Any]
    start_ns: int
    time_ns: int
    value: Any  # sum and gauge points
    count: int  # histogram points (the rest too: None)
    sum: Any
    bucket_counts: List[int]
    bounds: List[float]
    min: Any
    max: Any
    exemplars: List[ExemplarView]
    resource: Dict[str, Any]
    scope_name: str

    def __str__(self):
        shown = self.value if self.kind != "histogram" else "count=%s sum=%s" % (self.count, self.sum)
        return "%s%s %s (%s %s)" % (self.metric, self.attributes, shown, self.kind, self.temporality)


_TEMPORALITIES = {0: "", 1: "delta", 2: "cumulative"}


def _number(point):
    return getattr(point, point.WhichOneof("value")) if point.WhichOneof("value") else None


def _exemplars(point):
    return [ExemplarView(_number(e), e.time_unix_nano, _hex(e.trace_id), _hex(e.span_id)) for e in point.exemplars]


def metric_points_of(message) -> List[PointView]:
    """Flatten an ExportMetricsServiceRequest into its data points."""
    out = []
    for rm in message.resource_metrics:
        resource = key_values(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                data = getattr(metric, kind)
                for p in data.data_points:
                    histogram = kind == "histogram"
                    out.append(PointView(
                        metric=metric.name, kind=kind, unit=metric.unit,
                        monotonic=bool(getattr(data, "is_monotonic", False)),
                        temporality=_TEMPORALITIES.get(getattr(data, "aggregation_temporality", 0), ""),
                        attributes=key_values(p.attributes), start_ns=p.start_time_unix_nano,
                        time_ns=p.time_unix_nano, value=None if histogram else _number(p),
                        count=p.count if histogram else None, sum=p.sum if histogram else None,
                        bucket_counts=list(p.bucket_counts) if histogram else [],
                        bounds=list(p.explicit_bounds) if histogram else [],
                        min=p.min if histogram and p.HasField("min") else None,
                        max=p.max if histogram and p.HasField("max") else None,
                        exemplars=_exemplars(p), resource=resource, scope_name=sm.scope.name))
    return out


def spans_of(message) -> List[SpanView]:
    """Flatten an ExportTraceServiceRequest."""
    out = []
    for rs in message.resource_spans:
        resource = key_values(rs.resource.attributes)
        for ss in rs.scope_spans:
            out.extend(_span_view(s, resource, ss.scope, ss.schema_url) for s in ss.spans)
    return out


def logs_of(message) -> List[LogView]:
    """Flatten an ExportLogsServiceRequest."""
    out = []
    for rl in message.resource_logs:
        resource = key_values(rl.resource.attributes)
        for sl in rl.scope_logs:
            out.extend(_log_view(r, resource, sl.scope) for r in sl.log_records)
    return out


# --------------------------------------------------------------------------
# Decoding and encoding
# --------------------------------------------------------------------------


class DecodeError(Exception):
    pass


def _hex_ids_to_base64(node):
    """Rewrite OTLP JSON hex ids to base64 in place, as the Collector does."""
    if isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _HEX_ID_KEYS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
                except ValueError:
                    raise DecodeError("%s is not hex: %r" % (key, value))
            else:
                _hex_ids_to_base64(value)


def decode_body(signal: _Signal, content_type: str, body: bytes):
    if content_type == PROTOBUF:
        message = signal.request_type()
        try:
            message.ParseFromString(body)
        except Exception as exc:  # protobuf raises its own DecodeError type
            raise DecodeError("invalid protobuf: %s" % exc)
        return message
    if content_type == JSON:
        try:
            document = json.loads(body.decode("utf-8"))
        except ValueError as exc:
            raise DecodeError("invalid JSON: %s" % exc)
        if not isinstance(document, dict):
            raise DecodeError("OTLP JSON body must be an object")
        _hex_ids_to_base64(document)
        try:
            # OTLP/JSON receivers must ignore unknown fields (forward compatibility).
            return json_format.ParseDict(
                document, signal.request_type(), ignore_unknown_fields=True
            )
        except json_format.ParseError as exc:
            raise DecodeError("invalid OTLP JSON: %s" % exc)
    raise DecodeError("unsupported content type %r" % content_type)


def encode_message(message, content_type: str) -> bytes:
    if content_type == JSON:
        return json_format.MessageToJson(message).encode("utf-8")
    return message.SerializeToString()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_rpc_status(code: int, message: str, content_type: str) -> bytes:
    """Encode a google.rpc.Status (code=1, message=2), the OTLP failure body.

    googleapis-common-protos is not a dependency, and the message is tiny.
    """
    if content_type == JSON:
        return json.dumps({"code": code, "message": message}).encode("utf-8")
    text = message.encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


# --------------------------------------------------------------------------
# Behaviour
# --------------------------------------------------------------------------


@dataclass
class Behaviour:
    status: int = 200
    hang_seconds: float = 0
    close_connection: bool = False
    retry_after: Any = None
    partial_success_rejected: int = 0
    location: str = ""  # with a 3xx status: the redirect's target
    answer_bytes: int = 0  # accept, then answer with a body this long (a misbehaving collector)
    drip_seconds: float = 0  # accept, then send the answer one byte at a time, this far apart

    @classmethod
    def from_dict(cls, directive: Dict[str, Any]) -> "Behaviour":
        unknown = set(directive) - set(cls.__dataclass_fields__)
        if unknown:
            raise TypeError("unknown behaviour keys: %s" % sorted(unknown))
        return cls(**directive)


# --------------------------------------------------------------------------
# HTTP handling
# --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # Exporters keep connections alive; every answer carries Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "otel-test-receiver"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def setup(self):
        super().setup()
        self.server.track(self.connection, True)

    def finish(self):
        self.server.track(self.connection, False)
        super().finish()

    def do_POST(self):
        if self.server.receiver._stopping.is_set():
            self.drop_connection()
            return
        try:
            self.server.receiver._handle(self)
        except (ConnectionError, TimeoutError):
            # The client gave up (e.g. it timed out during a hang); nothing to do.
            self.close_connection = True

    def do_GET(self):
        self.read_body()
        self.send_plain(405, b"POST only\n")

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # Skip optional trailers up to the blank line.
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # CRLF after each chunk

    def send_body(self, status: int, content_type: str, body: bytes, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_plain(self, status: int, body: bytes):
        self.send_body(status, "text/plain; charset=utf-8", body)

    def drop_connection(self):
        """Close the socket without writing any response."""
        self.close_connection = True
        try:
            self.connection.shutdown(2)  # socket.SHUT_RDWR
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._connections = set()
        self._connections_lock = threading.Lock()

    def track(self, connection, is_open: bool):
        with self._connections_lock:
            if is_open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self):
        """Cut kept-alive client connections, so a stopped receiver is really gone."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(2)  # socket.SHUT_RDWR
            except OSError:
                pass


class Receiver:
    """An OTLP/HTTP receiver on 127.0.0.1 recording everything it gets.

    Usable as a context manager. Restarting after `stop()` re-binds the same
    port, so exporters configured with `url` reach it again (a collector
    that went away and came back).
    """

    def __init__(self, port: int = 0):
        self._port = port
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._generation = 0  # bumped on every change; lets waiters skip no-op wakeups
        self._clear()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "Receiver":
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = self._make_server()
        self._server.receiver = self
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="otlp-receiver-%d" % self._port,
            daemon=True,
        )
        self._thread.start()
        return self

    def _make_server(self):
        """The listening server (a subclass may serve TLS, see ``tls_receiver``)."""
        return _Server(("127.0.0.1", self._port), _Handler)

    def stop(self):
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a hang
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self._port

    # -- state -------------------------------------------------------------

    def _clear(self):
        self._requests = []  # type: List[RecordedRequest]
        self._accepted = []  # type: List[RecordedRequest]
        self._rejected = []  # type: List[RecordedRequest]
        self._errors = []  # type: List[str]
        self._default = Behaviour()
        self._scripted = []  # type: List[Behaviour]

    def reset(self):
        """Forget everything received and go back to answering 200."""
        with self._cond:
            self._clear()
            self._generation += 1
            self._cond.notify_all()

    def behave(
        self,
        status: int = 200,
        hang_seconds: float = 0,
        close_connection: bool = False,
        retry_after: Any = None,
        partial_success_rejected: int = 0,
        responses: Optional[List[Dict[str, Any]]] = None,
        location: str = "",
        answer_bytes: int = 0,
        drip_seconds: float = 0,
    ):
        """Set how requests are answered from now on.

        `responses` is a list of per-request directives (dicts with the same
        keys, missing keys meaning the neutral value: 200, no hang...) used
        in arrival order; once exhausted the other arguments apply.
        Requests whose body does not decode are answered 400 and do not
        consume a directive.
        """
        default = Behaviour(
            status, hang_seconds, close_connection, retry_after, partial_success_rejected,
            location, answer_bytes, drip_seconds,
        )
        scripted = [Behaviour.from_dict(d) for d in (responses or [])]
        with self._cond:
            self._default = default
            self._scripted = scripted

    @property
    def requests(self) -> List[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def rejected_requests(self) -> List[RecordedRequest]:
        """Requests answered with something other than 200 or not answered."""
        with self._cond:
            return list(self._rejected)

    @property
    def errors(self) -> List[str]:
        with self._cond:
            return list(self._errors)

    def messages(self, path: str = TRACES_PATH) -> list:
        """Decoded Export*ServiceRequest messages accepted (200) on `path`."""
        with self._cond:
            return [r.message for r in self._accepted if r.path == path]

    def spans(self, service: Optional[str] = None, name: Optional[str] = None) -> List[SpanView]:
        spans = [s for m in self.messages(TRACES_PATH) for s in spans_of(m)]
        if service is not None:
            spans = [s for s in spans if s.resource.get("service.name") == service]
        if name is not None:
            spans = [s for s in spans if s.name == name]
        return spans

    def logs(self, service: Optional[str] = None) -> List[LogView]:
        logs = [r for m in self.messages(LOGS_PATH) for r in logs_of(m)]
        if service is not None:
            logs = [r for r in logs if r.resource.get("service.name") == service]
        return logs

    def metric_points(self, service: Optional[str] = None, name: Optional[str] = None) -> List[PointView]:
        points = [p for m in self.messages(METRICS_PATH) for p in metric_points_of(m)]
        if service is not None:
            points = [p for p in points if p.resource.get("service.name") == service]
        if name is not None:
            points = [p for p in points if p.metric == name]
        return points

    def final_metric_points(self, service: str, name: str) -> List[PointView]:
        """The last point of each series of each process (by service.instance.id) and
        scope: with cumulative temporality, the totals at each process's exit."""
        latest: Dict[Any, PointView] = {}
        for point in self.metric_points(service=service, name=name):
            key = (point.resource.get("service.instance.id"), point.scope_name, frozenset(point.attributes.items()))
            if key not in latest or point.time_ns > latest[key].time_ns:
                latest[key] = point
        return list(latest.values())

    # -- waiting -----------------------------------------------------------

    def _wait(self, what: str, fetch: Callable[[], list], done: Callable[[list], bool], timeout: float):
        """Wait until done(fetch()) is true; raise AssertionError after `timeout`.

        `done` runs outside the lock so it may call back into the receiver;
        an exception from it counts as "not yet" (the data may be incomplete).
        """
        deadline = time.monotonic() + timeout
        problem = None
        while True:
            with self._cond:
                generation = self._generation
            items = fetch()
            try:
                if done(items):
                    return items
                problem = None
            except Exception as exc:
                problem = exc
            with self._cond:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self._generation == generation:
                    self._cond.wait(remaining)
        raise AssertionError(self._timeout_message(what, items, timeout, problem))

    def _timeout_message(self, what, items, timeout, problem) -> str:
        lines = ["timed out after %.1fs waiting for %s; have %d:" % (timeout, what, len(items))]
        lines.extend("  %s" % item for item in items[:50])
        if len(items) > 50:
            lines.append("  ... and %d more" % (len(items) - 50))
        if problem is not None:
            lines.append("predicate raised %r" % problem)
        lines.append(
            "requests=%d rejected=%d errors=%s"
            % (len(self.requests), len(self.rejected_requests), self.errors)
        )
        return "\n".join(lines)

    @staticmethod
    def _condition(count, predicate) -> Callable[[list], bool]:
        def done(items):
            if count is not None and len(items) < count:
                return False
            if predicate is not None:
                return bool(predicate(items))
            return count is not None or bool(items)

        return done

    @staticmethod
    def _describe(kind, count, predicate, service) -> str:
        parts = ["%s %s" % ("at least %d" % count if count is not None else "some", kind)]
        if predicate is not None:
            parts.append("matching %s" % getattr(predicate, "__name__", "predicate"))
        if service is not None:
            parts.append("for service %r" % service)
        return " ".join(parts)

    def wait_for_spans(self, count=None, predicate=None, timeout=15.0, service=None) -> List[SpanView]:
        """Return the spans once there are `count` of them and/or predicate(spans) holds."""
        return self._wait(
            self._describe("spans", count, predicate, service),
            lambda: self.spans(service=service),
            self._condition(count, predicate),
            timeout,
        )

    def wait_for_logs(self, count=None, predicate=None, timeout=15.0, service=None) -> List[LogView]:
        return self._wait(
            self._describe("logs", count, predicate, service),
            lambda: self.logs(service=service),
            self._condition(count, predicate),
            timeout,
        )

    def wait_for_metric_points(self, predicate=None, timeout=15.0, service=None, name=None) -> List[PointView]:
        """The data points (of ``name``) once predicate(points) holds (or there are some)."""
        return self._wait(
            self._describe("metric points" + (" of %s" % name if name else ""), None, predicate, service),
            lambda: self.metric_points(service=service, name=name),
            self._condition(None, predicate),
            timeout,
        )

    def wait_for_requests(self, count, timeout=15.0, path=None) -> List[RecordedRequest]:
        """Wait for `count` requests of any outcome (optionally on one path)."""

        def fetch():
            return [r for r in self.requests if path is None or r.path == path]

        return self._wait(
            "%d requests%s" % (count, " on %s" % path if path else ""),
            fetch,
            lambda items: len(items) >= count,
            timeout,
        )

    # -- request handling (runs on server threads) --------------------------

    def _changed(self):
        self._generation += 1
        self._cond.notify_all()

    def _handle(self, handler: _Handler):
        raw = handler.read_body()
        path = handler.path.split("?", 1)[0]
        headers = {}
        for name, value in handler.headers.items():
            key = name.lower()
            headers[key] = headers[key] + ", " + value if key in headers else value
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        record = RecordedRequest(path, headers, raw, raw, content_type)
        with self._cond:
            self._requests.append(record)
            self._changed()

        signal = _SIGNALS.get(path)
        if signal is None:
            self._error("unknown path %s" % path)
            self._reject(record, 404)
            handler.send_plain(404, b"not found\n")
            return
        try:
            record.body = self._gunzip(headers, raw)
            record.message = decode_body(signal, content_type, record.body)
        except DecodeError as exc:
            status = 415 if "content type" in str(exc) else 400
            self._error("%s: %s" % (path, exc))
            self._answer_status(handler, record, status, str(exc), Behaviour(status=status))
            return
        self._respond(handler, record, signal, self._next_behaviour())

    @staticmethod
    def _gunzip(headers, raw: bytes) -> bytes:
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("", "identity"):
            return raw
        if encoding != "gzip":
            raise DecodeError("unsupported content encoding %r" % encoding)
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DecodeError("invalid gzip body: %s" % exc)

    def _error(self, error: str):
        with self._cond:
            self._errors.append(error)
            self._changed()

    def _reject(self, record, status: Optional[int]):
        with self._cond:
            record.status = status
            self._rejected.append(record)
            self._changed()

    def _next_behaviour(self) -> Behaviour:
        with self._cond:
            return self._scripted.pop(0) if self._scripted else self._default

    def _respond(self, handler, record, signal: _Signal, behaviour: Behaviour):
        if behaviour.hang_seconds > 0:
            self._stopping.wait(min(behaviour.hang_seconds, MAX_HANG_SECONDS))
        if behaviour.close_connection or self._stopping.is_set():
            self._reject(record, None)
            handler.drop_connection()
            return
        if behaviour.status != 200:
            self._answer_status(handler, record, behaviour.status, "injected failure", behaviour)
            return
        response = signal.response_type()
        if behaviour.partial_success_rejected:
            partial = signal.partial_type(error_message="rejected by test receiver")
            setattr(partial, signal.rejected_field, behaviour.partial_success_rejected)
            response.partial_success.CopyFrom(partial)
        # Count the data before answering: once the client sees 200 it is visible.
        with self._cond:
            record.status = 200
            self._accepted.append(record)
            self._changed()
        content_type = JSON if record.content_type == JSON else PROTOBUF
        if behaviour.answer_bytes or behaviour.drip_seconds:
            self._misbehave(handler, content_type, behaviour)
            return
        handler.send_body(200, content_type, encode_message(response, content_type), self._extra(behaviour))

    def _misbehave(self, handler, content_type, behaviour):
        """A 200 whose body is huge, or an answer sent a byte at a time (both bounded)."""
        size = behaviour.answer_bytes
        head = ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (content_type, size)).encode("latin-1")
        handler.close_connection = True
        started = time.monotonic()
        try:
            if behaviour.drip_seconds:
                for byte in head + b"\0" * size:
                    if self._stopping.wait(behaviour.drip_seconds) or time.monotonic() - started > MAX_HANG_SECONDS:
                        return
                    handler.wfile.write(bytes((byte,)))
                    handler.wfile.flush()
                return
            handler.wfile.write(head)
            chunk = b"\0" * (1 << 20)
            while size > 0 and not self._stopping.is_set():
                handler.wfile.write(chunk[:size])
                size -= len(chunk)
        except OSError:
            pass  # the client stopped reading, as it should

    def _answer_status(self, handler, record, status, text, behaviour):
        self._reject(record, status)
        content_type = JSON if record.content_type == JSON else PROTOBUF
        # gRPC code 14 (UNAVAILABLE) for retryable statuses, 3 (INVALID_ARGUMENT) otherwise.
        code = 14 if status in (429, 502, 503, 504) else 3
        body = encode_rpc_status(code, text, content_type)
        handler.send_body(status, content_type, body, self._extra(behaviour))

    @staticmethod
    def _extra(behaviour: Behaviour) -> Dict[str, str]:
        extra = {}
        if behaviour.retry_after is not None:
            extra["Retry-After"] = str(behaviour.retry_after)
        if behaviour.location:
            extra["Location"] = behaviour.location
        return extra

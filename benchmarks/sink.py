"""A local OTLP/HTTP sink that counts what it receives, per service.name.

Run as a subprocess by the harness:  python sink.py [--port 0]
It prints ``PORT <n>`` on stdout once listening, then serves:

  POST /v1/traces, /v1/logs, /v1/metrics   OTLP/HTTP (protobuf or JSON, gzip-aware)
  GET  /counts                              JSON: {service: {spans, logs, ...}}
  POST /reset                               forget everything

Requests are decoded with opentelemetry-proto when it is importable; otherwise a
small protobuf wire-format walker (same field numbers) counts the records.  Counts
are updated *before* the response is sent, so once an exporting process has exited
its deliveries are final.  Stdlib only (plus optional opentelemetry-proto);
runs on Python 3.9+.
"""
import argparse
import gzip
import json
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:  # the reference decoder
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    DECODER = "opentelemetry-proto"
except Exception:  # pragma: no cover - depends on the environment
    ExportLogsServiceRequest = ExportTraceServiceRequest = None
    DECODER = "builtin-wire"

UNKNOWN = "<no service.name>"

# ---------------------------------------------------------------- wire fallback


def _varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf):
    """Yield (field_number, wire_type, value) over one message; value is bytes
    for length-delimited fields, an int otherwise."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _varint(buf, i)
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            val, i = buf[i:i + ln], i + ln
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield num, wt, val


def _wire_service(resource):
    # Resource{1: repeated KeyValue}; KeyValue{1: key, 2: AnyValue{1: string}}
    for num, _, kv in _fields(resource):
        if num != 1:
            continue
        key = value = None
        for knum, _, kval in _fields(kv):
            if knum == 1:
                key = bytes(kval).decode("utf-8", "replace")
            elif knum == 2:
                for vnum, _, v in _fields(kval):
                    if vnum == 1:
                        value = bytes(v).decode("utf-8", "replace")
        if key == "service.name" and value is not None:
            return value
    return UNKNOWN


def _wire_count(body):
    """ExportTrace/LogsServiceRequest share a shape: 1: repeated Resource{Spans,Logs}
    {1: Resource, 2: repeated Scope{Spans,Logs}{2: repeated item}}."""
    out = {}
    for num, _, res_items in _fields(memoryview(body)):
        if num != 1:
            continue
        service, count = UNKNOWN, 0
        for rnum, _, rval in _fields(res_items):
            if rnum == 1:
                service = _wire_service(rval)
            elif rnum == 2:
                count += sum(1 for snum, _, _ in _fields(rval) if snum == 2)
        out[service] = out.get(service, 0) + count
    return out


# ---------------------------------------------------------------- decoding


def _pb_service(resource):
    for kv in resource.attributes:
        if kv.key == "service.name":
            return kv.value.string_value
    return UNKNOWN


def count_protobuf(kind, body):
    if DECODER == "builtin-wire":
        return _wire_count(body)
    out = {}
    if kind == "traces":
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            n = sum(len(ss.spans) for ss in rs.scope_spans)
            svc = _pb_service(rs.resource)
            out[svc] = out.get(svc, 0) + n
    else:
        req = ExportLogsServiceRequest()
        req.ParseFromString(body)
        for rl in req.resource_logs:
            n = sum(len(sl.log_records) for sl in rl.scope_logs)
            svc = _pb_service(rl.resource)
            out[svc] = out.get(svc, 0) + n
    return out


def count_json(kind, body):
    doc = json.loads(body.decode("utf-8"))
    outer, inner, items = (("resourceSpans", "scopeSpans", "spans") if kind == "traces"
                           else ("resourceLogs", "scopeLogs", "logRecords"))
    out = {}
    for res in doc.get(outer, []):
        svc = UNKNOWN
        for kv in (res.get("resource") or {}).get("attributes", []):
            if kv.get("key") == "service.name":
                svc = (kv.get("value") or {}).get("stringValue", UNKNOWN)
        n = sum(len(s.get(items, [])) for s in res.get(inner, []))
        out[svc] = out.get(svc, 0) + n
    return out


# ---------------------------------------------------------------- state


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.data = {}
        self.errors = []

    def reset(self):
        with self.lock:
            self.data = {}
            self.errors = []

    def add(self, kind, per_service, nbytes):
        now = time.time()
        with self.lock:
            for svc, n in per_service.items():
                d = self.data.setdefault(svc, {"spans": 0, "logs": 0, "requests": 0, "bytes": 0,
                                               "first": now, "last": now})
                d["spans" if kind == "traces" else "logs"] += n
                d["requests"] += 1
                d["bytes"] += nbytes
                d["last"] = now

    def snapshot(self):
        with self.lock:
            return {"decoder": DECODER, "services": json.loads(json.dumps(self.data)),
                    "errors": list(self.errors[-20:])}


COUNTS = Counts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as exporters expect

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, code, body=b"", ctype="application/x-protobuf"):
        # headers and body in ONE write (no Nagle/delayed-ACK stall on keep-alive)
        self.send_response_only(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        enc = self.headers.get("Content-Encoding", "").lower()
        if enc == "gzip" or body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        elif enc == "deflate":
            body = zlib.decompress(body)
        return body

    def do_GET(self):
        if self.path.startswith("/counts"):
            self._reply(200, json.dumps(COUNTS.snapshot()).encode(), "application/json")
        else:
            self._reply(404)

    def do_POST(self):
        try:
            body = self._body()
        except Exception as exc:
            COUNTS.errors.append("read: %r" % (exc,))
            self._reply(400)
            return
        path = self.path.split("?")[0]
        if path == "/reset":
            COUNTS.reset()
            self._reply(200, b"{}", "application/json")
            return
        kind = {"/v1/traces": "traces", "/v1/logs": "logs"}.get(path)
        if path == "/v1/metrics":
            self._reply(200)
            return
        if kind is None:
            self._reply(404)
            return
        ctype = self.headers.get("Content-Type", "")
        try:
            per = count_json(kind, body) if "json" in ctype else count_protobuf(kind, body)
        except Exception as exc:
            with COUNTS.lock:
                COUNTS.errors.append("%s decode: %r" % (kind, exc))
            self._reply(400)
            return
        COUNTS.add(kind, per, len(body))
        if "json" in ctype:
            self._reply(200, b"{}", "application/json")
        else:
            self._reply(200)  # an empty Export*ServiceResponse


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=3600.0,
                    help="exit by itself after this long (a safety bound)")
    args = ap.parse_args(argv)
    srv = Server(("127.0.0.1", args.port), Handler)
    print("PORT %d %s" % (srv.server_address[1], DECODER), flush=True)
    timer = threading.Timer(args.max_seconds, srv.shutdown)
    timer.daemon = True
    timer.start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    sys.exit(main())

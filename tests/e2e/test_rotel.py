"""Interoperability with a receiver nobody here wrote: rotel, a Rust OpenTelemetry
collector published on PyPI with its binary inside the wheel (``rotel`` in the test
extra). The test starts it on 127.0.0.1 with its OTLP/HTTP receiver, a blackhole
exporter and its debug log of traces, logs and metrics on stdout, exports to it from
``otel-run python ...`` in http/protobuf and in http/json, and checks from rotel's own
debug output that it accepted every span, log record and metric point with the right
names, ids, counts and sums.

rotel is an alpha release (0.0.1a15 here). What it refuses although the OTLP
specification requires it: its OTLP/JSON decoder of metrics reads 64-bit integers
only as JSON numbers, while OTLP/JSON encodes them as decimal strings. A number
point's ``asInt`` is then lost (the point has no value), a histogram with string
``count``/``bucketCounts`` becomes an empty metric, and so does any metric whose points
carry exemplars. Protobuf is decoded fully. So every value and exemplar is checked
over protobuf (cumulative and delta); over JSON the test checks what rotel keeps
(names, types, temporality, attributes) with exemplars off. Should a later alpha refuse
more, keep the checks for the rest and say here what it refuses.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.agent import agent_env, otel_run
from support.processes import TESTS_DIR, free_port, run, wait_for_port

SCRIPT = TESTS_DIR / "scripts" / "foundation_rotel.py"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def rotel_binary():
    import rotel

    path = Path(rotel.__file__).parent / "rotel-agent"
    assert path.exists() and os.access(str(path), os.X_OK), "rotel's wheel ships rotel-agent: %s" % path
    return path


class Rotel:
    """A rotel process of this test's own, with its debug output in a file."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.port = free_port()
        self.out = self.folder / "rotel.stdout"
        self.err = self.folder / "rotel.stderr"
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        cmd = [str(rotel_binary()), "start", "--exporter", "blackhole",
               "--debug-log", "traces", "--debug-log", "logs", "--debug-log", "metrics",
               "--debug-log-verbosity", "detailed",
               "--otlp-http-endpoint", "127.0.0.1:%d" % self.port,
               "--otlp-grpc-endpoint", "127.0.0.1:%d" % free_port(),
               "--batch-timeout", "100ms",
               "--pid-file", str(self.folder / "rotel.pid"), "--log-file", str(self.folder / "rotel.log")]
        with open(str(self.out), "wb") as out, open(str(self.err), "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        wait_for_port(self.port, timeout=20, proc=self.proc)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def output(self):
        return ANSI.sub("", self.out.read_text(errors="replace"))

    def stderr(self):
        return ANSI.sub("", self.err.read_text(errors="replace"))


@pytest.fixture(scope="module")
def rotel(tmp_path_factory):
    r = Rotel(tmp_path_factory.mktemp("rotel")).start()
    yield r
    r.stop()


def parse_debug_output(text):
    """rotel's detailed debug log -> (spans, log records) as dicts, each with the
    service.name of its resource."""
    spans, records = [], []
    service = None
    item = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith(("ResourceSpans #", "ResourceLog #", "ResourceLogs #", "ResourceMetrics #")):
            item, service = None, None
            continue
        if line.startswith("Span #"):
            item = {"service": service, "attributes": {}}
            spans.append(item)
            continue
        if line.startswith("LogRecord #"):
            item = {"service": service, "attributes": {}}
            records.append(item)
            continue
        attribute = re.match(r"^     -> ([^:]+): (\w+)\((.*)\)$", line)
        if attribute:
            key, _, value = attribute.groups()
            if item is None:
                if key == "service.name":
                    service = value
            else:
                item["attributes"][key] = value
            continue
        if item is None:
            continue
        field = re.match(r"^\s*(Trace ID|Parent ID|ID|Span ID|Name|Kind|Status code|Status message)\s*: ?(.*)$",
                         line)
        if field:
            item[field.group(1)] = field.group(2).strip()
            continue
        top = re.match(r"^(Body|SeverityText|SeverityNumber|Flags): ?(.*)$", line)
        if top:
            item[top.group(1)] = top.group(2).strip()
    return spans, records


def _wait_for(rotel, service, n_spans, n_logs, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        spans, records = parse_debug_output(rotel.output())
        spans = [s for s in spans if s["service"] == service]
        records = [r for r in records if r["service"] == service]
        if (len(spans) >= n_spans and len(records) >= n_logs) or time.monotonic() > deadline:
            return spans, records
        time.sleep(0.1)


@pytest.mark.parametrize("protocol, compression", [
    ("http/protobuf", "none"),
    ("http/json", "none"),
    ("http/json", "gzip"),
])
def test_rotel_accepts_every_span_and_log_record(rotel, service_name, protocol, compression):
    tag = "%s-%s" % (protocol.split("/")[1], compression)
    env = agent_env(None, service_name, OTEL_EXPORTER_OTLP_ENDPOINT=rotel.url,
                    OTEL_EXPORTER_OTLP_PROTOCOL=protocol, OTEL_EXPORTER_OTLP_COMPRESSION=compression)
    result = run(otel_run("python", SCRIPT, tag), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr          # nothing refused, nothing dropped
    made = json.loads(result.stdout)
    spans, records = _wait_for(rotel, service_name, len(made["spans"]), len(made["logs"]))
    context = "\nrotel stderr:\n%s" % rotel.stderr()[-3000:]

    # Every span, once, with its name, ids, parent and trace.
    assert sorted(s["Name"] for s in spans) == sorted(s["name"] for s in made["spans"]), context
    by_id = {s["ID"]: s for s in spans}
    assert len(by_id) == len(spans)
    for expected in made["spans"]:
        got = by_id[expected["span_id"]]
        assert got["Name"] == expected["name"]
        assert got["Trace ID"] == made["trace_id"]
        assert got["Parent ID"] == expected["parent_span_id"]
    request = next(s for s in spans if s["Name"].startswith("rotel-request-"))
    assert request["Kind"] == "SPAN_KIND_SERVER"
    assert request["attributes"]["test.tag"] == tag
    assert request["attributes"]["http.response.status_code"] == "200"
    failing = next(s for s in spans if s["Name"].startswith("rotel-failing-"))
    assert failing["Status code"] == "STATUS_CODE_ERROR"
    assert failing["Status message"] == "ValueError: expected failure"

    # Every log record, once, with its body and the ids of the span it was made in.
    assert sorted(r["Body"] for r in records) == sorted("Str(%s)" % r["body"] for r in made["logs"]), context
    by_body = {r["Body"]: r for r in records}
    for expected in made["logs"]:
        got = by_body["Str(%s)" % expected["body"]]
        assert got["Trace ID"] == expected["trace_id"]
        assert got["Span ID"] == expected["span_id"]
        assert got["attributes"]["test.tag"] == tag
        assert got["Flags"] == ("1" if expected["trace_id"] else "0")
    outside = by_body["Str(outside any span %s)" % tag]
    assert outside["SeverityText"] == "WARN" and "(13)" in outside["SeverityNumber"]
    assert "error" not in rotel.stderr().lower(), rotel.stderr()


METRICS_SCRIPT = TESTS_DIR / "scripts" / "metrics_work.py"


def parse_debug_metrics(text):
    """rotel's detailed debug log -> metric points as dicts: service, metric, data type,
    temporality, attributes, value or count/sum, exemplars [(trace id, span id)]."""
    points = []
    service = metric = point = None
    resource = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith(("ResourceSpans #", "ResourceLog #", "ResourceLogs #")):
            service, metric, point, resource = None, None, None, False
        elif line.startswith("ResourceMetrics #"):
            service, metric, point, resource = None, None, None, True
        elif line.startswith("Metric #"):
            metric, point = {"service": service}, None
        elif line.startswith(("NumberDataPoints #", "HistogramDataPoints #")) and metric is not None:
            point = dict(metric, attributes={}, exemplars=[])
            points.append(point)
        elif line.startswith("Exemplar #") and point is not None:
            point["exemplars"].append({})
        else:
            attribute = re.match(r"^     -> ([^:]+): (.*)$", line)
            field = re.match(r"^(Value|Count|Sum|StartTimestamp|Timestamp): (.*)$", line)
            if attribute and resource and metric is None:
                if attribute.group(1) == "service.name":
                    service = re.sub(r"^Str\((.*)\)$", r"\1", attribute.group(2))
            elif attribute and metric is not None and point is None:
                metric[attribute.group(1)] = attribute.group(2)
            elif attribute and point is not None and point["exemplars"]:
                point["exemplars"][-1][attribute.group(1)] = attribute.group(2)
            elif attribute and point is not None:
                point["attributes"][attribute.group(1)] = re.sub(r"^\w+\((.*)\)$", r"\1", attribute.group(2))
            elif field and point is not None:
                point[field.group(1)] = field.group(2)
    return [p for p in points if p["service"] is not None]


def _wait_for_metrics(rotel, service, names, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        points = [p for p in parse_debug_metrics(rotel.output()) if p["service"] == service]
        if names <= {p["Name"] for p in points} or time.monotonic() > deadline:
            return points
        time.sleep(0.1)


@pytest.mark.parametrize("protocol, temporality", [
    ("http/protobuf", "cumulative"),
    ("http/protobuf", "delta"),
    ("http/json", "delta"),
])
def test_rotel_accepts_every_metric_point(rotel, service_name, protocol, temporality):
    full = protocol == "http/protobuf"  # see the module's docstring for what rotel keeps of JSON
    env = agent_env(None, service_name, OTEL_EXPORTER_OTLP_ENDPOINT=rotel.url, OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
                    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=temporality,
                    OTEL_METRICS_EXEMPLAR_FILTER="trace_based" if full else "always_off")
    result = run(otel_run("python", METRICS_SCRIPT, "record", "0"), env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr  # nothing refused, nothing dropped
    done = json.loads(result.stdout)
    points = _wait_for_metrics(rotel, service_name, {"work.orders", "work.queue", "process.cpu.time"})
    context = "\nrotel stderr:\n%s" % rotel.stderr()[-3000:]
    by_name = {}
    for point in points:
        by_name.setdefault(point["Name"], []).append(point)
    expected = "AGGREGATION_TEMPORALITY_" + temporality.upper()
    assert {p["attributes"]["payment"] for p in by_name["work.orders"]} == set(done["orders"]), context
    assert {(p["DataType"], p["IsMonotonic"], p["AggregationTemporality"]) for p in by_name["work.orders"]} == {
        ("Sum", "true", expected)}
    assert {(p["DataType"], p["IsMonotonic"], p["AggregationTemporality"]) for p in by_name["work.queue"]} == {
        ("Sum", "false", "AGGREGATION_TEMPORALITY_CUMULATIVE")}
    assert {p["attributes"]["cpu.mode"] for p in by_name["process.cpu.time"]} == {"user", "system"}
    if full:
        orders = {p["attributes"]["payment"]: p["Value"] for p in by_name["work.orders"]}
        assert orders == {k: str(v) for k, v in done["orders"].items()}, context
        assert [p["Value"] for p in by_name["work.queue"]] == [str(done["queue"])]
        (latency,) = by_name["work.latency"]
        assert (latency["DataType"], latency["AggregationTemporality"]) == ("Histogram", expected)
        assert latency["Count"] == str(done["latency_count"])
        assert float(latency["Sum"]) == pytest.approx(done["latency_sum"])
        assert len(latency["exemplars"]) == 4
        spans = {tuple(s) for s in done["spans"]}
        assert {(e["Trace ID"], e["Span ID"]) for e in latency["exemplars"]} <= spans
        assert all(len(p["exemplars"]) == 1 for p in by_name["work.orders"])
    assert "error" not in rotel.stderr().lower(), rotel.stderr()

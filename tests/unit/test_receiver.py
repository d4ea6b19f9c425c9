"""Self-tests of the end-to-end support code and test apps.

They prove the OTLP receiver decodes what real clients send (protobuf,
gzip, OTLP JSON), that its fault behaviours work, and that the test apps run
on their own, without the agent.
"""

import gzip
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from support.processes import (
    APPS_DIR,
    PYTHON,
    Server,
    base_env,
    free_port,
    http_get,
    run,
    wait_for_port,
)
from support.receiver import Receiver

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
ROOT_ID = bytes.fromhex("eee19b7ec3c1b174")
CHILD_ID = bytes.fromhex("eee19b7ec3c1b173")
OTHER_TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
OTHER_SPAN = bytes.fromhex("b7ad6b7169203331")


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


# -- building requests by hand ------------------------------------------------


def kv(key, **value):
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(**value))


def resource(service="svc"):
    return resource_pb2.Resource(
        attributes=[kv("service.name", string_value=service), kv("host.cores", int_value=4)]
    )


def trace_request(service="svc"):
    Span = trace_pb2.Span
    root = Span(
        trace_id=TRACE_ID,
        span_id=ROOT_ID,
        name="GET /users/{id}",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1000,
        end_time_unix_nano=2000,
        trace_state="vendor=1",
        flags=0x101,
        attributes=[
            kv("http.request.method", string_value="GET"),
            kv("http.response.status_code", int_value=200),
            kv("ok", bool_value=True),
            kv("ratio", double_value=0.5),
            kv("raw", bytes_value=b"\x00\x01"),
            kv(
                "tags",
                array_value=common_pb2.ArrayValue(
                    values=[common_pb2.AnyValue(string_value="a"), common_pb2.AnyValue(int_value=2)]
                ),
            ),
            kv(
                "nested",
                kvlist_value=common_pb2.KeyValueList(values=[kv("inner", string_value="x")]),
            ),
        ],
        events=[
            Span.Event(
                name="exception",
                time_unix_nano=1500,
                attributes=[kv("exception.type", string_value="RuntimeError")],
            )
        ],
        links=[Span.Link(trace_id=OTHER_TRACE, span_id=OTHER_SPAN, attributes=[kv("l", int_value=1)])],
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="boom"),
        dropped_attributes_count=3,
    )
    child = Span(
        trace_id=TRACE_ID,
        span_id=CHILD_ID,
        parent_span_id=ROOT_ID,
        name="SELECT",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=1100,
        end_time_unix_nano=1200,
    )
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource(service),
                scope_spans=[
                    trace_pb2.ScopeSpans(
                        scope=common_pb2.InstrumentationScope(name="otel.flask", version="1.2"),
                        spans=[root, child],
                    )
                ],
            )
        ]
    )


def logs_request():
    records = [
        logs_pb2.LogRecord(
            time_unix_nano=10,
            observed_time_unix_nano=11,
            severity_number=logs_pb2.SEVERITY_NUMBER_ERROR,
            severity_text="ERROR",
            body=common_pb2.AnyValue(string_value="failed"),
            attributes=[kv("code.function", string_value="log")],
            trace_id=TRACE_ID,
            span_id=ROOT_ID,
            flags=1,
        ),
        # All-zero ids mean "no trace context".
        logs_pb2.LogRecord(
            severity_number=logs_pb2.SEVERITY_NUMBER_INFO,
            body=common_pb2.AnyValue(
                kvlist_value=common_pb2.KeyValueList(values=[kv("k", int_value=1)])
            ),
            trace_id=bytes(16),
            span_id=bytes(8),
        ),
    ]
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[
            logs_pb2.ResourceLogs(
                resource=resource(),
                scope_logs=[
                    logs_pb2.ScopeLogs(
                        scope=common_pb2.InstrumentationScope(name="shop"), log_records=records
                    )
                ],
            )
        ]
    )


JSON_TRACES = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
            "scopeSpans": [
                {
                    "scope": {"name": "manual", "version": "0.1"},
                    "spans": [
                        {
                            "traceId": TRACE_ID.hex(),
                            "spanId": ROOT_ID.hex(),
                            "parentSpanId": "",
                            "name": "root",
                            "kind": 2,
                            "startTimeUnixNano": "1000",
                            "endTimeUnixNano": "2000",
                            "attributes": [
                                {"key": "n", "value": {"intValue": "42"}},
                                {
                                    "key": "arr",
                                    "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"boolValue": True}]}},
                                },
                            ],
                            "links": [{"traceId": OTHER_TRACE.hex(), "spanId": OTHER_SPAN.hex()}],
                            "status": {"code": 1},
                        },
                        {
                            "traceId": TRACE_ID.hex().upper(),
                            "spanId": CHILD_ID.hex(),
                            "parentSpanId": ROOT_ID.hex(),
                            "name": "child",
                            "kind": 4,
                            "futureField": "ignored",
                        },
                    ],
                }
            ],
        }
    ]
}


def post(url, body, content_type="application/x-protobuf", gzip_it=False, timeout=5):
    headers = {"Content-Type": content_type}
    if gzip_it:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


# -- decoding -----------------------------------------------------------------


def test_protobuf_traces_are_flattened(receiver):
    status, headers, body = post(receiver.url + "/v1/traces", trace_request().SerializeToString())
    assert status == 200
    assert headers["Content-Type"] == "application/x-protobuf"
    trace_service_pb2.ExportTraceServiceResponse.FromString(body)

    root, child = receiver.wait_for_spans(count=2)
    assert root.trace_id == TRACE_ID.hex() and child.trace_id == root.trace_id
    assert root.parent_span_id == "" and child.parent_span_id == root.span_id == ROOT_ID.hex()
    assert (root.kind, child.kind) == ("SERVER", "CLIENT")
    assert root.attributes == {
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "ok": True,
        "ratio": 0.5,
        "raw": b"\x00\x01",
        "tags": ["a", 2],
        "nested": {"inner": "x"},
    }
    assert root.events[0].name == "exception" and root.events[0].time_ns == 1500
    assert root.events[0].attributes == {"exception.type": "RuntimeError"}
    assert root.links == [(OTHER_TRACE.hex(), OTHER_SPAN.hex(), {"l": 1})]
    assert (root.status_code, root.status_message) == ("ERROR", "boom")
    assert child.status_code == "UNSET"
    assert (root.start_ns, root.end_ns, root.trace_state, root.flags) == (1000, 2000, "vendor=1", 0x101)
    assert root.resource == {"service.name": "svc", "host.cores": 4}
    assert (root.scope_name, root.scope_version) == ("otel.flask", "1.2")
    assert root.dropped_attributes_count == 3 and root.dropped_events_count == 0

    request = receiver.requests[0]
    assert request.path == "/v1/traces" and request.content_type == "application/x-protobuf"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.raw_body == request.body == trace_request().SerializeToString()


def test_gzip_protobuf_logs(receiver):
    payload = logs_request().SerializeToString()
    status, _, _ = post(receiver.url + "/v1/logs", payload, gzip_it=True)
    assert status == 200
    with_trace, without = receiver.wait_for_logs(count=2)
    assert with_trace.severity_number == 17 and with_trace.severity_text == "ERROR"
    assert with_trace.body == "failed"
    assert with_trace.attributes == {"code.function": "log"}
    assert (with_trace.trace_id, with_trace.span_id) == (TRACE_ID.hex(), ROOT_ID.hex())
    assert (with_trace.time_ns, with_trace.observed_time_ns, with_trace.flags) == (10, 11, 1)
    assert with_trace.resource["service.name"] == "svc" and with_trace.scope_name == "shop"
    assert without.body == {"k": 1}
    assert (without.trace_id, without.span_id) == ("", "")

    request = receiver.requests[0]
    assert request.headers["content-encoding"] == "gzip"
    assert request.raw_body != payload and gzip.decompress(request.raw_body) == payload
    assert request.body == payload


def test_otlp_json_with_hex_ids(receiver):
    status, headers, body = post(
        receiver.url + "/v1/traces", json.dumps(JSON_TRACES).encode(), "application/json"
    )
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {}

    root, child = receiver.wait_for_spans(count=2, service="json-svc")
    assert (root.trace_id, root.span_id, root.parent_span_id) == (TRACE_ID.hex(), ROOT_ID.hex(), "")
    assert child.trace_id == TRACE_ID.hex()  # upper-case hex is accepted, reported lower
    assert child.parent_span_id == root.span_id
    assert (root.kind, child.kind, root.status_code) == ("SERVER", "PRODUCER", "OK")
    assert root.attributes == {"n": 42, "arr": ["x", True]}
    assert root.links == [(OTHER_TRACE.hex(), OTHER_SPAN.hex(), {})]
    assert (root.start_ns, root.end_ns, root.scope_name) == (1000, 2000, "manual")


def test_otlp_json_logs_snake_case_and_gzip(receiver):
    document = {
        "resource_logs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "s"}}]},
                "scope_logs": [
                    {
                        "log_records": [
                            {
                                "severity_number": "SEVERITY_NUMBER_WARN",
                                "body": {"string_value": "careful"},
                                "trace_id": TRACE_ID.hex(),
                                "span_id": CHILD_ID.hex(),
                            }
                        ]
                    }
                ],
            }
        ]
    }
    status, _, _ = post(
        receiver.url + "/v1/logs", json.dumps(document).encode(), "application/json; charset=utf-8", True
    )
    assert status == 200
    (log,) = receiver.wait_for_logs(count=1, service="s")
    assert (log.severity_number, log.body) == (13, "careful")
    assert (log.trace_id, log.span_id) == (TRACE_ID.hex(), CHILD_ID.hex())


def test_metrics_are_accepted(receiver):
    status, _, _ = post(receiver.url + "/v1/metrics", b"", "application/x-protobuf")
    assert status == 200
    assert len(receiver.messages("/v1/metrics")) == 1


@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        (b"\xff\xff\xff", "application/x-protobuf", 400),
        (b"{not json", "application/json", 400),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(),
         "application/json", 400),
        (b"x", "text/plain", 415),
    ],
)
def test_undecodable_bodies_are_errors(receiver, body, content_type, expected):
    status, _, _ = post(receiver.url + "/v1/traces", body, content_type)
    assert status == expected
    assert len(receiver.errors) == 1 and receiver.spans() == []
    assert len(receiver.rejected_requests) == 1


def test_bad_gzip_is_an_error(receiver):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        receiver.url + "/v1/traces",
        data=b"not gzip",
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(request, timeout=5)
    info.value.close()
    assert info.value.code == 400 and "gzip" in receiver.errors[0]


def test_filters_and_reset(receiver):
    post(receiver.url + "/v1/traces", trace_request("a").SerializeToString())
    post(receiver.url + "/v1/traces", trace_request("b").SerializeToString())
    assert len(receiver.spans()) == 4
    assert [s.name for s in receiver.spans(service="b", name="SELECT")] == ["SELECT"]
    receiver.behave(status=500)
    receiver.reset()
    assert receiver.spans() == [] and receiver.requests == []
    assert post(receiver.url + "/v1/traces", b"")[0] == 200  # behaviour was reset too


# -- fault behaviours -------------------------------------------------------------


def test_scripted_503_then_200_with_retry_after(receiver):
    receiver.behave(responses=[{"status": 503, "retry_after": 2}])
    payload = trace_request().SerializeToString()

    status, headers, body = post(receiver.url + "/v1/traces", payload)
    assert status == 503 and headers["Retry-After"] == "2"
    assert receiver.spans() == []
    assert [r.status for r in receiver.rejected_requests] == [503]
    assert b"injected failure" in body  # a google.rpc.Status message

    status, headers, _ = post(receiver.url + "/v1/traces", payload)
    assert status == 200 and "Retry-After" not in headers
    assert len(receiver.wait_for_spans(count=2)) == 2
    assert len(receiver.requests) == 2


def test_default_status_with_retry_after(receiver):
    receiver.behave(status=429, retry_after=7)
    status, headers, _ = post(receiver.url + "/v1/logs", logs_request().SerializeToString())
    assert status == 429 and headers["Retry-After"] == "7"
    assert receiver.logs() == []
    assert len(receiver.rejected_requests[0].message.resource_logs) == 1


def test_hang_times_out_client_and_stop_interrupts_it(receiver):
    receiver.behave(hang_seconds=30)
    with pytest.raises((socket.timeout, urllib.error.URLError)):
        post(receiver.url + "/v1/traces", b"", timeout=0.3)
    receiver.wait_for_requests(1, timeout=2)
    started = time.monotonic()
    receiver.stop()
    assert time.monotonic() - started < 5
    assert receiver.spans() == []


def test_close_connection_gives_client_error(receiver):
    receiver.behave(responses=[{"close_connection": True}])
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)) as info:
        post(receiver.url + "/v1/traces", trace_request().SerializeToString())
    assert not isinstance(info.value, urllib.error.HTTPError)
    assert receiver.spans() == [] and len(receiver.rejected_requests) == 1
    assert receiver.rejected_requests[0].status is None
    assert post(receiver.url + "/v1/traces", trace_request().SerializeToString())[0] == 200


def test_partial_success(receiver):
    receiver.behave(partial_success_rejected=3)
    status, _, body = post(receiver.url + "/v1/traces", trace_request().SerializeToString())
    assert status == 200
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(body)
    assert response.partial_success.rejected_spans == 3
    assert response.partial_success.error_message
    assert len(receiver.spans()) == 2  # answered 200: counted

    status, _, body = post(receiver.url + "/v1/logs", b"{}", "application/json")
    assert status == 200
    assert json.loads(body)["partialSuccess"]["rejectedLogRecords"] == "3"


def test_restart_keeps_the_port(receiver):
    port = receiver.port
    receiver.stop()
    with pytest.raises(OSError):
        post(receiver.url + "/v1/traces", b"", timeout=1)
    receiver.start()
    assert receiver.port == port
    assert post(receiver.url + "/v1/traces", b"")[0] == 200


# -- waiting --------------------------------------------------------------------


def test_wait_wakes_up_when_data_arrives(receiver):
    payload = trace_request().SerializeToString()
    timer = threading.Timer(0.2, post, args=(receiver.url + "/v1/traces", payload))
    timer.start()
    try:
        spans = receiver.wait_for_spans(predicate=lambda s: any(x.name == "SELECT" for x in s), timeout=5)
    finally:
        timer.join(5)
    assert {s.name for s in spans} == {"GET /users/{id}", "SELECT"}


def test_wait_times_out_with_clear_message(receiver):
    post(receiver.url + "/v1/traces", trace_request().SerializeToString())
    started = time.monotonic()
    with pytest.raises(AssertionError) as info:
        receiver.wait_for_spans(count=3, timeout=0.3)
    assert time.monotonic() - started < 2
    message = str(info.value)
    assert "at least 3 spans" in message and "have 2" in message and "SELECT" in message

    with pytest.raises(AssertionError, match="have 0"):
        receiver.wait_for_logs(predicate=lambda logs: logs[0].body == "x", timeout=0.2)
    with pytest.raises(AssertionError, match="3 requests"):
        receiver.wait_for_requests(3, timeout=0.2)


# -- processes and apps ---------------------------------------------------------


def test_upstream_app():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", str(port)], env=base_env(), port=port) as server:
        status, headers, body = http_get(server.url + "/status/404")
        assert (status, body) == (404, b"status 404")
        status, headers, _ = http_get(server.url + "/redirect", follow_redirects=False)
        assert status == 302 and headers["location"] == "/status/200"
        assert http_get(server.url + "/redirect")[::2] == (200, b"status 200")
        status, _, body = http_get(server.url + "/echo-headers", headers={"X-Probe": "1"})
        assert json.loads(body)["x-probe"] == "1"
    assert server.returncode is not None


def test_flask_app_runs_without_agent(tmp_path):
    port = free_port()
    env = base_env(PORT=port, APP_DB_PATH=tmp_path / "flask.sqlite3")
    with Server([PYTHON, "app.py"], env=env, cwd=APPS_DIR / "flask_app", port=port) as server:
        status, headers, body = http_get(server.url + "/users/3")
        assert status == 200 and json.loads(body) == {"id": 3}
        assert http_get(server.url + "/db")[::2] == (200, b"1")
        assert http_get(server.url + "/stream")[::2] == (200, b"abc")
        assert http_get(server.url + "/error")[0] == 500
    assert "boom" in server.output()[1]


def test_django_project_migrates_and_serves(tmp_path):
    project = APPS_DIR / "django_project"
    env = base_env(APP_DB_PATH=tmp_path / "django.sqlite3")
    result = run([PYTHON, "manage.py", "migrate", "--noinput"], env=env, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Applying shop.0001_initial" in result.stdout

    port = free_port()
    cmd = [PYTHON, "manage.py", "runserver", "--noreload", "127.0.0.1:%d" % port]
    with Server(cmd, env=env, cwd=project, port=port) as server:
        status, _, body = http_get(server.url + "/users/3/")
        assert status == 200 and json.loads(body) == {"id": 3}
        assert http_get(server.url + "/db/")[::2] == (200, b"0")
        assert http_get(server.url + "/admin/login/")[0] == 200


def test_wait_for_port_fails_fast_when_process_dies():
    port = free_port()
    with Server([PYTHON, "-c", "import sys; print('bye'); sys.exit(3)"], env=base_env()) as server:
        started = time.monotonic()
        with pytest.raises(AssertionError, match="bye"):
            wait_for_port(port, timeout=20, proc=server)
        assert time.monotonic() - started < 10


def test_run_times_out_clearly():
    with pytest.raises(AssertionError, match="timed out"):
        run([PYTHON, "-c", "import time; time.sleep(30)"], env=base_env(), timeout=0.5)

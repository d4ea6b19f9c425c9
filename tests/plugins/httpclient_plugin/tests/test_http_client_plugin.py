"""The http.client plugin's own tests, with the agent's testing kit: no receiver needed."""

import http.client
import http.server
import json
import threading

import pytest

from otel_autoinstrument.instrumentation import SpanKind, suppressed
from otel_autoinstrument.testing import InMemoryAgent, assert_attributes, assert_child_of
from otel_test_http_client import HttpClientInstrumentor


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def port():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def agent():
    with InMemoryAgent() as agent:
        agent.instrument(HttpClientInstrumentor())
        yield agent


def get(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_client_span_from_request_to_response(agent, port):
    with agent.tracer().start_as_current_span("job") as job:
        status, seen = get(port, "/items")
    span = agent.span(kind=SpanKind.CLIENT)
    assert status == 200 and span.name == "GET"
    assert_child_of(span, job)
    assert_attributes(span, {"url.full": "http://127.0.0.1:%d/items" % port, "http.response.status_code": 200,
                             "network.protocol.version": "1.0"})
    assert seen["traceparent"].split("-")[2] == "%016x" % span.context.span_id


def test_a_4xx_is_an_error_for_a_client(agent, port):
    assert get(port, "/missing")[0] == 404
    assert agent.span().status_code == 2


def test_nothing_is_traced_where_instrumentation_is_suppressed(agent, port):
    with suppressed():
        status, seen = get(port, "/quiet")
    assert status == 200 and "traceparent" not in seen and agent.spans == []


def test_a_refused_connection_ends_the_span(agent):
    with pytest.raises(OSError):
        get(9, "/")
    (span,) = agent.spans
    assert span.status_code == 2 and span.attributes["error.type"] == "ConnectionRefusedError"

"""The urllib3 plugin's own tests, with the agent's testing kit: no receiver needed."""

import http.server
import json
import threading

import pytest
import urllib3

from otel_autoinstrument.instrumentation import SpanKind
from otel_autoinstrument.testing import InMemoryAgent, assert_attributes, assert_child_of, assert_root
from otel_test_urllib3 import Urllib3Instrumentor


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = 503 if self.path.startswith("/fail") else 200
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def agent():
    with InMemoryAgent({"OTEL_PYTHON_TEST_URLLIB3_EXCLUDED_URLS": "/health"}) as agent:
        agent.instrument(Urllib3Instrumentor())
        yield agent


def test_a_client_span_with_propagation(agent, server):
    headers = {"x-app": "1"}
    with agent.tracer().start_as_current_span("request") as parent:
        response = urllib3.PoolManager().request("GET", "http://127.0.0.1:%d/users?id=7" % server, headers=headers)
    seen = json.loads(response.data)
    span = agent.span(kind=SpanKind.CLIENT)
    assert span.name == "GET"
    assert_child_of(span, parent)
    assert_attributes(span, {"http.request.method": "GET", "http.response.status_code": 200,
                             "url.full": "http://127.0.0.1:%d/users?id=7" % server,
                             "server.address": "127.0.0.1", "server.port": server})
    assert seen["traceparent"].split("-")[1:3] == ["%032x" % span.context.trace_id, "%016x" % span.context.span_id]
    assert headers == {"x-app": "1"}                      # the caller's dict is not changed


def test_an_error_status_and_an_excluded_url(agent, server):
    pool = urllib3.HTTPConnectionPool("127.0.0.1", server)
    assert pool.request("GET", "/fail").status == 503
    assert pool.request("GET", "/health").status == 200    # excluded: no span, no header
    (span,) = agent.spans
    assert_root(span)
    assert_attributes(span, {"http.response.status_code": 503, "error.type": "503"})
    assert span.status_code == 2


def test_a_connection_error_is_the_applications(agent):
    pool = urllib3.HTTPConnectionPool("127.0.0.1", 9, retries=False)   # the discard port: refused
    with pytest.raises(urllib3.exceptions.HTTPError):
        pool.request("GET", "/")
    (span,) = agent.spans
    assert span.status_code == 2 and span.attributes["error.type"].startswith("urllib3.exceptions.")

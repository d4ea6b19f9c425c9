"""The caches of the request paths are bounded, keyed on everything they depend on, and
never leak a shared dict to a caller or a span; the Flask layer names spans and records
exceptions without a second patched call per request."""

import pytest

from otel_autoinstrument.instrumentation import Instrumentor
from otel_autoinstrument.instrumentation import http as http_helpers
from otel_autoinstrument.instrumentation.http import HttpClient, HttpServer
from otel_autoinstrument.testing import InMemoryAgent
from support.wsgi import environ_for, strict  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("strict")


class _Plain(Instrumentor):
    name = "cache-test"


@pytest.fixture
def memory():
    with InMemoryAgent() as agent:
        yield agent


def test_server_attribute_sets_are_bounded_and_keyed_on_every_shared_value(memory):
    server = HttpServer(memory.instrument(_Plain()))
    for n in range(http_helpers._CACHE_MAX * 3):
        attributes = server.request_attributes("GET", "http", "/p", host="host-%d:80" % n, protocol="HTTP/1.1")
        assert attributes["server.address"] == "host-%d" % n
        assert len(server._bases) <= http_helpers._CACHE_MAX
    one = server.request_attributes("GET", "https", "/a", "x=1", "h:8443", peer="10.0.0.1", user_agent="ua",
                                    protocol="HTTP/2")
    two = server.request_attributes("POST", "https", "/b", None, "h:8443", peer="10.0.0.2", protocol="HTTP/1.0")
    assert one == {"http.request.method": "GET", "url.scheme": "https", "server.address": "h", "server.port": 8443,
                   "network.protocol.version": "2", "url.path": "/a", "url.query": "x=1",
                   "client.address": "10.0.0.1", "user_agent.original": "ua"}
    assert two == {"http.request.method": "POST", "url.scheme": "https", "server.address": "h",
                   "server.port": 8443, "network.protocol.version": "1.0", "url.path": "/b",
                   "client.address": "10.0.0.2"}
    one["url.path"] = "changed by the caller"
    again = server.request_attributes("GET", "https", "/c", None, "h:8443", protocol="HTTP/2")
    assert again["url.path"] == "/c" and "client.address" not in again and "user_agent.original" not in again


def test_server_query_redaction_is_cached_per_query_and_bounded(memory):
    server = HttpServer(memory.instrument(_Plain()))
    for n in range(http_helpers._CACHE_MAX * 3):
        attributes = server.request_attributes("GET", "http", "/", "page=%d&token=s3cret" % n, "h")
        assert attributes["url.query"] == "page=%d&token=REDACTED" % n
        assert len(server._queries) <= http_helpers._CACHE_MAX
    long_query = "q=" + "x" * http_helpers._CACHED_URL_MAX + "&password=p"
    assert server.request_attributes("GET", "http", "/", long_query, "h")["url.query"].endswith("&password=REDACTED")
    assert long_query not in server._queries


def test_server_attributes_of_unhashable_values_are_described_not_cached(memory):
    server = HttpServer(memory.instrument(_Plain()))
    attributes = server.request_attributes("GET", "http", "/", host=None, server_name="n", server_port=["8080"])
    assert attributes["server.address"] == "n" and server._bases == {}


def test_client_descriptions_are_bounded_and_never_shared_with_callers_or_spans(memory):
    client = HttpClient(memory.instrument(_Plain()))
    for n in range(http_helpers._CACHE_MAX * 3):
        name, attributes = client.attributes("GET", "http://h/%d?token=secret" % n)
        assert attributes["url.full"] == "http://h/%d?token=REDACTED" % n
        assert len(client._requests) <= http_helpers._CACHE_MAX
    long_url = "http://h/" + "x" * http_helpers._CACHED_URL_MAX
    client.attributes("GET", long_url)
    assert ("GET", long_url) not in client._requests
    name, attributes = client.attributes("GET", "http://h/same")
    attributes["url.full"] = "changed by the caller"
    span = client.start("GET", "http://h/same")
    span.set_attribute("extra", 1)
    assert client.attributes("GET", "http://h/same")[1] == {
        "http.request.method": "GET", "url.full": "http://h/same", "server.address": "h", "server.port": 80}
    client.finish(span, 200)
    assert memory.spans[-1].attributes["url.full"] == "http://h/same"


def test_client_descriptions_with_captured_headers_are_not_cached(memory):
    env = {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": "x-a"}
    with InMemoryAgent(env) as agent:
        client = HttpClient(agent.instrument(_Plain()))
        first = client.start("GET", "http://h/", headers={"X-A": "1"})
        second = client.start("GET", "http://h/", headers={"X-A": "2"})
        assert first.attributes["http.request.header.x-a"] == ("1",)
        assert second.attributes["http.request.header.x-a"] == ("2",)


# --- Flask: a buffered body is watched for its end only; no second patch per request ---


@pytest.fixture
def flask_app():
    import flask
    from otel_autoinstrument.instrumentors.flask import FlaskInstrumentor

    app = flask.Flask("hot")
    app.add_url_rule("/items/<int:item_id>", "item", lambda item_id: "item")
    app.add_url_rule("/fail", "fail", lambda: 1 / 0)
    app.add_url_rule("/stream", "stream", lambda: flask.Response(iter([b"a", b"b"])))
    with InMemoryAgent() as agent:
        agent.instrument(FlaskInstrumentor())
        yield app, agent


def _serve(app, path, close=True):
    """Call, iterate and (optionally) close, as a server does; the status line."""
    statuses = []
    body = app(environ_for(path), lambda status, headers, exc_info=None: statuses.append(status))
    chunks = list(body)
    if close:
        body.close()
    return statuses[0], chunks


def test_a_buffered_flask_body_ends_its_span_at_its_end_even_unclosed(flask_app):
    app, memory = flask_app
    assert _serve(app, "/items/3", close=False) == ("200 OK", [b"item"])
    (span,) = memory.spans  # ended by the body's end, not by a close that never came
    assert span.name == "GET /items/<int:item_id>" and span.attributes["http.route"] == "/items/<int:item_id>"
    assert "otel_autoinstrument.response.unclosed" not in span.attributes
    assert _serve(app, "/stream") == ("200 OK", [b"a", b"b"])  # a streamed body is still traced
    assert memory.spans[-1].name == "GET /stream"


def test_a_flask_500_is_named_and_its_exception_recorded_once(flask_app):
    import flask

    from otel_autoinstrument.instrumentation.instrumentor import is_agent_wrapper

    app, memory = flask_app
    assert is_agent_wrapper(flask.Flask.__dict__["wsgi_app"])
    assert not is_agent_wrapper(flask.Flask.__dict__["full_dispatch_request"])  # one patched call per request
    assert _serve(app, "/fail")[0].startswith("500")
    assert _serve(app, "/missing")[0].startswith("404")
    failed, missing = memory.spans
    assert failed.name == "GET /fail" and failed.status_code == 2
    assert [e.name for e in failed.events] == ["exception"]
    assert failed.events[0].attributes["exception.type"] == "ZeroDivisionError"
    assert missing.name == "GET" and "http.route" not in missing.attributes

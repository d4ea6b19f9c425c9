"""The shared WSGI tracing (otel_autoinstrument/instrumentation/wsgi.py), driven in-process.

Tiny real WSGI applications are called the way a server calls them (PEP 3333: call,
iterate, close) through ``WsgiTracing``, the wrapper the Flask and Django
instrumentors install, with a real agent whose spans land in an in-memory processor.
"""

import io
import wsgiref.util

import pytest

from otel_autoinstrument.instrumentation import INVALID_SPAN, get_baggage, get_current_span, use_span
from otel_autoinstrument.instrumentation.wsgi import ENVIRON_KEY
from otel_autoinstrument.trace.context import suppress, unsuppress
from support.wsgi import environ_for, hello, make_tracing, serve, strict, traced  # noqa: F401 (fixtures)

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)


pytestmark = pytest.mark.usefixtures("strict")


def test_attributes_from_the_environ(traced):
    tracing, memory = traced
    environ = environ_for(
        "/users/7", "token=s3cret&page=2", headers={"Host": "shop.example:8080", "User-Agent": "probe/1.0"},
        REMOTE_ADDR="10.1.2.3", SERVER_PROTOCOL="HTTP/1.1")
    served = serve(tracing, hello, environ)
    assert served.status == "200 OK" and served.body == b"hello"
    (span,) = memory.spans
    assert span.name == "GET"
    assert span.kind == 2  # SERVER
    assert span.parent is None
    assert span.status_code == 0
    assert span.attributes == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/users/7",
        "url.query": "token=REDACTED&page=2",
        "server.address": "shop.example",
        "server.port": 8080,
        "client.address": "10.1.2.3",
        "network.protocol.version": "1.1",
        "user_agent.original": "probe/1.0",
        "http.response.status_code": 200,
    }


@pytest.mark.parametrize("host, scheme, expected", [
    ("shop.example", "http", ("shop.example", 80)),
    ("shop.example", "https", ("shop.example", 443)),
    ("[::1]:8443", "https", ("::1", 8443)),
    ("[::1]", "http", ("::1", 80)),
])
def test_server_address_from_host(traced, host, scheme, expected):
    tracing, memory = traced
    serve(tracing, hello, environ_for(headers={"Host": host}, **{"wsgi.url_scheme": scheme}))
    attributes = memory.spans[0].attributes
    assert (attributes["server.address"], attributes["server.port"]) == expected
    assert attributes["url.scheme"] == scheme


def test_server_address_without_host_header(traced):
    tracing, memory = traced
    environ = environ_for(SERVER_NAME="internal.local", SERVER_PORT="8081")
    environ.pop("HTTP_HOST", None)
    serve(tracing, hello, environ)
    attributes = memory.spans[0].attributes
    assert (attributes["server.address"], attributes["server.port"]) == ("internal.local", 8081)


def test_unknown_method_is_other(traced):
    tracing, memory = traced
    served = serve(tracing, hello, environ_for(method="PURGE"))
    assert served.status == "200 OK"
    span = memory.spans[0]
    assert span.name == "HTTP"
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "PURGE"


def test_route_names_the_span(traced):
    tracing, memory = traced

    def app(environ, start_response):
        environ[ENVIRON_KEY].set_route("/users/<int:user_id>")
        return hello(environ, start_response)

    serve(tracing, app, environ_for("/users/7"))
    serve(tracing, app, environ_for("/users/8", method="PURGE"))
    first, second = memory.spans
    assert first.name == "GET /users/<int:user_id>"
    assert first.attributes["http.route"] == "/users/<int:user_id>"
    assert second.name == "HTTP /users/<int:user_id>"


def test_non_ascii_path_is_percent_encoded(traced):
    tracing, memory = traced
    raw = "/caf\u00e9".encode("utf-8").decode("latin-1")  # as PEP 3333 servers pass it
    serve(tracing, hello, environ_for(raw))
    assert memory.spans[0].attributes["url.path"] == "/caf%C3%A9"


def test_context_is_extracted_and_current_while_handling(traced):
    tracing, memory = traced
    seen = {}

    def app(environ, start_response):
        seen["in_app"] = (get_current_span(), dict(get_baggage() or {}))
        start_response("200 OK", [])

        def body():
            seen["in_body"] = (get_current_span(), dict(get_baggage() or {}))
            yield b"x"

        return body()

    headers = {"traceparent": TRACEPARENT, "tracestate": "vendor=abc", "baggage": "tenant=acme,k=v"}
    served = serve(tracing, app, environ_for(headers=headers), consume=False)
    # Between the application's return and the body, nothing of the request is current.
    assert get_current_span() is INVALID_SPAN and get_baggage() is None
    list(served.result)
    served.result.close()
    assert get_current_span() is INVALID_SPAN and get_baggage() is None
    (span,) = memory.spans
    assert "%032x" % span.context.trace_id == TRACE_ID
    assert "%016x" % span.parent.span_id == PARENT_ID
    assert span.context.trace_state == "vendor=abc"
    for where in ("in_app", "in_body"):
        current, baggage = seen[where]
        assert current is span, where
        assert baggage == {"tenant": "acme", "k": "v"}, where


def test_no_parent_without_headers_even_inside_a_span(traced):
    tracing, memory = traced
    outer = tracing.tracer.start_span("outer")
    with use_span(outer):
        serve(tracing, hello, environ_for())
    assert memory.spans[0].parent is None  # a server span starts from what the request carries


def test_5xx_is_an_error_4xx_is_not(traced):
    tracing, memory = traced

    def status(code):
        def app(environ, start_response):
            start_response(code, [])
            return [b""]
        return app

    serve(tracing, status("503 Service Unavailable"), environ_for())
    serve(tracing, status("404 Not Found"), environ_for())
    unavailable, not_found = memory.spans
    assert unavailable.status_code == 2
    assert unavailable.attributes["error.type"] == "503"
    assert unavailable.attributes["http.response.status_code"] == 503
    assert not_found.status_code == 0
    assert "error.type" not in not_found.attributes
    assert not_found.attributes["http.response.status_code"] == 404


class Boom(Exception):
    pass


def test_exception_from_the_app_is_recorded_and_reraised_untouched(traced):
    tracing, memory = traced
    raised = Boom("kaput")

    def app(environ, start_response):
        raise raised

    with pytest.raises(Boom) as info:
        serve(tracing, app, environ_for())
    assert info.value is raised
    assert get_current_span() is INVALID_SPAN
    (span,) = memory.spans
    assert span.end_ns is not None
    assert span.status_code == 2
    assert span.attributes["error.type"] == __name__ + ".Boom"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == __name__ + ".Boom"
    assert event.attributes["exception.message"] == "kaput"


def test_recorded_exception_keeps_its_type_over_the_500(traced):
    tracing, memory = traced

    def app(environ, start_response):
        try:
            raise KeyError("missing")
        except KeyError as exc:
            environ[ENVIRON_KEY].record_exception(exc)  # what the framework hooks do
            environ[ENVIRON_KEY].record_exception(exc)  # seen by two layers: one event
        start_response("500 Internal Server Error", [])
        return [b"oops"]

    serve(tracing, app, environ_for())
    span = memory.spans[0]
    assert span.attributes["error.type"] == "KeyError"
    assert len(span.events) == 1
    assert span.attributes["http.response.status_code"] == 500


def test_exception_while_streaming_is_recorded_and_reraised(traced):
    tracing, memory = traced

    def app(environ, start_response):
        start_response("200 OK", [])

        def body():
            yield b"first"
            raise Boom("mid-stream")

        return body()

    with pytest.raises(Boom):
        serve(tracing, app, environ_for())
    span = memory.spans[0]
    assert span.status_code == 2
    assert span.attributes["error.type"] == __name__ + ".Boom"
    assert span.attributes["http.response.status_code"] == 200


def test_streamed_span_ends_when_the_iterable_is_closed(traced):
    tracing, memory = traced
    closed = []

    class Stream:
        def __iter__(self):
            yield b"a"
            yield b"b"

        def close(self):
            closed.append(get_current_span())

    def app(environ, start_response):
        start_response("200 OK", [])
        return Stream()

    served = serve(tracing, app, environ_for(), consume=False)
    assert memory.spans == []  # the view returned; the body is not sent yet
    assert b"".join(served.result) == b"ab"
    assert memory.spans == []  # consumed but not closed
    served.result.close()
    (span,) = memory.spans
    assert closed == [span]  # the span is current while the body closes, and ends after
    assert not hasattr(served.result, "__len__")


def test_result_keeps_its_length_and_attributes(traced):
    tracing, memory = traced

    class Sized(list):
        extra = "kept"

    def app(environ, start_response):
        start_response("200 OK", [])
        return Sized([b"one", b"two"])

    served = serve(tracing, app, environ_for(), consume=False)
    assert len(served.result) == 2  # wsgiref sets Content-Length from len() of one block
    assert served.result.extra == "kept"
    assert not hasattr(served.result, "close")  # as the list: the span ends with the body
    assert memory.spans == []
    assert list(served.result) == [b"one", b"two"]
    assert len(memory.spans) == 1


def test_file_wrapper_is_returned_as_is(traced):
    tracing, memory = traced
    stream = io.BytesIO(b"file contents")

    def app(environ, start_response):
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](stream, 4)

    environ = environ_for(**{"wsgi.file_wrapper": wsgiref.util.FileWrapper})
    served = serve(tracing, app, environ, consume=False)
    assert type(served.result) is wsgiref.util.FileWrapper  # servers may sendfile() it
    assert b"".join(served.result) == b"file contents"
    assert memory.spans == []
    served.result.close()
    assert stream.closed
    assert len(memory.spans) == 1


def test_start_response_arguments_and_write_pass_through(traced):
    tracing, memory = traced

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late")
        except ValueError:
            import sys

            write = start_response("500 Internal Server Error", [], sys.exc_info())
        write(b"written")
        return []

    served = serve(tracing, app, environ_for())
    assert served.status == "500 Internal Server Error"
    assert served.exc_info[0] is ValueError
    assert served.body == b"written"
    assert memory.spans[0].attributes["http.response.status_code"] == 500


def test_header_capture_with_redaction():
    tracing, memory = make_tracing(
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="x-request-id,authorization,cookie,x-secret,content-type",
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE="x-custom,set-cookie",
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS="x-secret",
    )

    def app(environ, start_response):
        start_response("200 OK", [("X-Custom", "yes"), ("Set-Cookie", "session=abc"), ("X-Other", "no")])
        return [b""]

    headers = {"X-Request-Id": "r-1", "Authorization": "Bearer t", "Cookie": "a=b", "X-Secret": "hush",
               "X-Ignored": "no"}
    serve(tracing, app, environ_for(headers=headers, CONTENT_TYPE="text/plain"))
    captured = {k: v for k, v in memory.spans[0].attributes.items() if ".header." in k}
    assert captured == {
        "http.request.header.x-request-id": ("r-1",),
        "http.request.header.authorization": ("[REDACTED]",),
        "http.request.header.cookie": ("[REDACTED]",),
        "http.request.header.x-secret": ("[REDACTED]",),
        "http.request.header.content-type": ("text/plain",),
        "http.response.header.x-custom": ("yes",),
        "http.response.header.set-cookie": ("[REDACTED]",),
    }


def test_no_header_attributes_unless_configured(traced):
    tracing, memory = traced
    serve(tracing, hello, environ_for(headers={"X-Request-Id": "r-1"}))
    assert not [k for k in memory.spans[0].attributes if ".header." in k]


def test_excluded_urls_are_served_without_a_span():
    tracing, memory = make_tracing(OTEL_PYTHON_FLASK_EXCLUDED_URLS="/health,/static/.*",
                                   OTEL_PYTHON_EXCLUDED_URLS="ping")
    received = []

    def app(environ, start_response):
        received.append(start_response)
        return hello(environ, start_response)

    for path in ("/health", "/static/app.css", "/ping"):
        served = serve(tracing, app, environ_for(path))
        assert (served.status, served.body) == ("200 OK", b"hello")
        assert type(served.result) is list  # untouched
    assert memory.spans == []
    serve(tracing, app, environ_for("/users/1"))
    assert len(memory.spans) == 1


def test_one_span_when_two_layers_are_traced(traced):
    tracing, memory = traced

    def outer(environ, start_response):
        return tracing(hello, None, (environ, start_response), {})

    served = serve(tracing, outer, environ_for())
    assert served.body == b"hello"
    assert len(memory.spans) == 1


def test_suppressed_context_makes_no_span(traced):
    tracing, memory = traced
    token = suppress()
    try:
        served = serve(tracing, hello, environ_for())
    finally:
        unsuppress(token)
    assert served.body == b"hello"
    assert memory.spans == []


def test_sampled_out_request_is_served_and_still_propagates():
    tracing, memory = make_tracing(OTEL_TRACES_SAMPLER="always_off")
    seen = []

    def app(environ, start_response):
        seen.append(get_current_span())
        return hello(environ, start_response)

    served = serve(tracing, app, environ_for())
    assert served.body == b"hello"
    assert memory.spans == []
    assert seen[0].context.is_valid and not seen[0].is_recording()


def test_keyword_arguments_are_traced_too(traced):
    tracing, memory = traced
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    result = tracing(hello, None, (), {"environ": environ_for(), "start_response": start_response})
    assert list(result) == [b"hello"]
    assert statuses == ["200 OK"]
    assert memory.spans[0].attributes["http.response.status_code"] == 200


class _BrokenMetrics:
    def request(self, *args):
        raise RuntimeError("an agent bug")


def test_a_failure_starting_the_request_leaves_the_applications_context_and_environ_alone(monkeypatch):
    import otel_autoinstrument._log as log

    monkeypatch.setattr(log, "STRICT", False)  # the agent's safety net, as in production
    tracing, memory = make_tracing()
    tracing.http.metrics = _BrokenMetrics()
    seen = []

    def app(environ, start_response):
        seen.append((get_current_span(), ENVIRON_KEY in environ))
        start_response("200 OK", [])
        return [b"ok"]

    served = serve(tracing, app, environ_for())
    assert served.body == b"ok" and seen == [(INVALID_SPAN, False)]
    assert get_current_span() is INVALID_SPAN

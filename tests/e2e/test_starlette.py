"""A plain Starlette app under otel-run, served by hypercorn: a route inside a mounted
application (the span is named after the whole template, traced once), an exception in
an async route (recorded once), and a client that leaves a server-sent event stream in
the middle (the span records the disconnect and ends; no error)."""

import os
import socket
import time

import pytest

from support.agent import BIN, agent_env, otel_run
from support.processes import APPS_DIR, Server, free_port, http_get

APP = APPS_DIR / "starlette_app"


@pytest.fixture(scope="module")
def service(receiver):
    port = free_port()
    name = "starlette-hypercorn-%d" % port
    command = otel_run(os.path.join(BIN, "hypercorn"), "--bind", "127.0.0.1:%d" % port, "app:app")
    with Server(command, env=agent_env(receiver, name), cwd=APP, port=port) as server:
        yield server, name


def spans_named(receiver, service, name, count=1):
    spans = receiver.wait_for_spans(service=service, predicate=lambda found: len(
        [s for s in found if s.name == name]) >= count)
    return [s for s in spans if s.name == name]


def test_mounted_route_and_hypercorn(receiver, service):
    server, name = service
    status, _, body = http_get(server.url + "/api/v1/items/3")
    assert (status, body) == (200, b'{"id":3}')
    (span,) = spans_named(receiver, name, "GET /api/v1/items/{item_id:int}")
    assert span.kind == "SERVER" and span.scope_name == "otel_autoinstrument.starlette"
    assert span.attributes["http.route"] == "/api/v1/items/{item_id:int}"
    assert span.attributes["url.path"] == "/api/v1/items/3"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["network.protocol.version"] == "1.1"


def test_exception_in_an_async_route(receiver, service):
    server, name = service
    assert http_get(server.url + "/boom")[0] == 500
    (span,) = spans_named(receiver, name, "GET /boom")
    assert span.status_code == "ERROR" and span.attributes["error.type"] == "ValueError"
    assert span.attributes["http.response.status_code"] == 500
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.message"] == "async boom"


def test_client_leaves_an_event_stream(receiver, service):
    server, name = service
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"data: 1\n\n" not in received:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        left = time.time_ns()
    (span,) = spans_named(receiver, name, "GET /events")
    assert b"200" in received.split(b"\r\n", 1)[0]
    assert [e.name for e in span.events] == ["http.disconnect"]
    assert span.events[0].time_ns >= left
    assert span.status_code == "UNSET" and "error.type" not in span.attributes
    assert span.attributes["http.response.status_code"] == 200
    assert span.end_ns - left < 5e9  # ended with the stream, long before its 200 events

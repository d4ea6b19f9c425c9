"""One scenario of requests for an instrumented web application, and its checks.

The Flask and Django tests serve their app under several servers; each run sends the
same requests (``exercise``) and checks what the receiver decoded (``check_spans``):
names, kinds, attributes, statuses, parent links from a client-sent ``traceparent``,
baggage reaching an upstream, captured and redacted headers, excluded URLs, streamed
spans ending after the stream, and exactly one span per request. ``Routes`` says how
the application spells its paths and routes.
"""

import json
import threading
from typing import Dict, List, NamedTuple, Optional

from support.processes import http_request

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN_ID = "00f067aa0ba902b7"
CLIENT_HEADERS = {
    "traceparent": "00-%s-%s-01" % (TRACE_ID, CLIENT_SPAN_ID),
    "tracestate": "vendor=opaque",
    "baggage": "tenant=acme",
    "Authorization": "Bearer secret-token",
    "Cookie": "session=secret-cookie",
    "X-Api-Token": "secret-api-token",
    "X-Request-Id": "req-42",
    "User-Agent": "e2e-client/1.0",
}

# Header capture as the scenario configures it (plus an excluded-URL variable).
CAPTURE_ENV = {
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-request-id,authorization,cookie,x-api-token",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type,set-cookie",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "x-api-.*",
}

STREAM_DELAY = 0.1  # seconds slept between the slow stream's chunks (two sleeps)
CONCURRENT = 4  # simultaneous slow streams: with sync workers, several must serve them


class Routes(NamedTuple):
    """How one application spells the scenario's paths (request path, expected route)."""

    user: str
    user_route: str
    error: str
    error_route: str
    missing: str
    health: str
    root_route: str
    stream: str
    stream_route: str
    slow_stream: str
    slow_stream_route: str
    file: str
    file_route: str
    upstream: str
    upstream_route: str
    extra: str  # one more page: (method, path, route) in ``extra_request``
    extra_route: str
    extra_method: str = "GET"
    error_log: str = ""  # text of the framework's log record for the error
    missing_log: str = ""  # ... and for the 404, if it logs one


class Outcome(NamedTuple):
    responses: Dict[str, tuple]
    upstream_echo: Dict[str, str]


def exercise(base: str, routes: Routes, upstream_url: Optional[str]) -> Outcome:
    """Send the scenario's requests; returns the responses by name."""
    responses = {}

    def get(name, path, headers=None, method="GET", data=None):
        responses[name] = http_request(method, base + path, data=data, headers=headers)
        return responses[name]

    get("user", routes.user + "?token=secret&page=2", CLIENT_HEADERS)
    get("error", routes.error)
    get("missing", routes.missing)
    get("health", routes.health)
    get("root", "/")
    get("stream", routes.stream)
    get("slow_stream", routes.slow_stream + "?delay=%s" % STREAM_DELAY)
    get("file", routes.file)
    get("extra", routes.extra, method=routes.extra_method, data=b"payload" if routes.extra_method == "POST" else None)
    echo = {}
    if upstream_url:
        status, _, body = get("upstream", routes.upstream + "?path=/echo-headers", CLIENT_HEADERS)
        assert status == 200, body
        echo = json.loads(json.loads(body)["body"])

    # Simultaneous slow streams: a busy sync worker cannot take the next one.
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        http_request("GET", base + routes.slow_stream + "?delay=%s" % STREAM_DELAY, timeout=20)))
        for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r[0] for r in results] == [200] * CONCURRENT
    assert all(r[2] == b"abc" for r in results)

    assert responses["user"][0] == 200
    assert responses["error"][0] == 500
    assert responses["missing"][0] == 404
    assert responses["health"][0] == 200
    assert responses["root"][2] == b"hello"
    assert responses["stream"][2] == b"abc"
    assert responses["slow_stream"][2] == b"abc"
    assert responses["file"][0] == 200 and len(responses["file"][2]) > 100
    assert responses["extra"][0] == 200
    return Outcome(responses, echo)


def serve_scenario(receiver, service, server, routes, upstream, flushed_at_exit=True):
    """Start ``server``, run the scenario, check it; returns (spans, by name, outcome).

    gunicorn workers flush at exit, so their spans are awaited only after the server
    stopped (then nothing may be missing); a development server stopped by a signal
    runs no exit handlers, so its spans are awaited before it is stopped. Either way
    the count is exact once the server is gone.
    """
    expected = expected_span_count(bool(upstream))

    def arrived(spans):
        return len(http_spans(spans)) >= expected

    try:
        with server:
            outcome = exercise(server.url, routes, upstream)
            if not flushed_at_exit:
                receiver.wait_for_spans(predicate=arrived, service=service)
        spans = http_spans(receiver.wait_for_spans(predicate=arrived, service=service))
    except AssertionError as exc:
        out, err = server.output()
        raise AssertionError("%s\n--- server stdout ---\n%s\n--- server stderr ---\n%s" % (
            exc, out[-3000:], err[-6000:])) from None
    logs = receiver.wait_for_logs(predicate=lambda records: any(
        routes.error_log in str(r.body) for r in records), service=service)
    named = check_spans(spans, routes, server.port, outcome, logs)
    return spans, named, outcome


def http_spans(spans):
    """The HTTP spans (database spans, e.g. Django's start-up checks, are not counted)."""
    return [s for s in spans if "db.system.name" not in s.attributes]


def expected_span_count(upstream: bool) -> int:
    # user, error, missing, root, stream, slow stream, file, extra, the concurrent
    # streams; the upstream request adds its SERVER span and the requests CLIENT span.
    return 8 + CONCURRENT + (2 if upstream else 0)


def by_name(spans) -> Dict[str, List]:
    named = {}
    for span in spans:
        named.setdefault(span.name, []).append(span)
    return named


def check_spans(spans, routes: Routes, port: int, outcome: Outcome, logs=None):
    """Everything the scenario's spans must show."""
    server = [s for s in spans if s.kind == "SERVER"]
    named = by_name(server)
    assert len(spans) == expected_span_count(bool(outcome.upstream_echo)), [str(s) for s in spans]
    assert len(set(s.span_id for s in spans)) == len(spans)  # nothing duplicated

    # Names: "{method} {route}", or just "{method}" without a route; never a raw path.
    assert sorted(s.name for s in server) == sorted(
        ["GET " + routes.user_route, "GET " + routes.error_route, "GET", "GET " + routes.root_route,
         "GET " + routes.stream_route, "GET " + routes.file_route,
         routes.extra_method + " " + routes.extra_route]
        + ["GET " + routes.slow_stream_route] * (1 + CONCURRENT)
        + (["GET " + routes.upstream_route] if outcome.upstream_echo else []))
    assert not any("/7" in s.name or "nope" in s.name for s in spans)

    # The request that carried the client's context continues its trace.
    (user,) = named["GET " + routes.user_route]
    assert user.kind == "SERVER"
    assert user.trace_id == TRACE_ID
    assert user.parent_span_id == CLIENT_SPAN_ID
    assert user.trace_state == "vendor=opaque"
    attributes = user.attributes
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == routes.user_route
    assert attributes["url.scheme"] == "http"
    assert attributes["url.path"] == routes.user
    assert attributes["url.query"] == "token=REDACTED&page=2"
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == port
    assert attributes["client.address"] == "127.0.0.1"
    assert attributes["network.protocol.version"] == "1.1"
    assert attributes["user_agent.original"] == "e2e-client/1.0"
    assert user.status_code == "UNSET"
    assert "error.type" not in attributes
    # Captured headers: clear when allowed, [REDACTED] for credentials and sanitized names.
    assert attributes["http.request.header.x-request-id"] == ["req-42"]
    assert attributes["http.request.header.authorization"] == ["[REDACTED]"]
    assert attributes["http.request.header.cookie"] == ["[REDACTED]"]
    assert attributes["http.request.header.x-api-token"] == ["[REDACTED]"]
    assert attributes["http.response.header.content-type"] == ["application/json"]
    assert not any("secret" in str(v) for s in spans for v in s.attributes.values())

    # Requests without context start their own traces.
    others = [s for s in server if s.trace_id != TRACE_ID]
    assert all(s.parent_span_id == "" for s in others)
    assert len(set(s.trace_id for s in others)) == len(others)

    # A failing view: ERROR with the exception; the 404 is unnamed and not an error.
    (error,) = named["GET " + routes.error_route]
    assert error.status_code == "ERROR"
    assert error.attributes["http.response.status_code"] == 500
    assert error.attributes["error.type"] == "RuntimeError"
    (event,) = [e for e in error.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "RuntimeError"
    assert event.attributes["exception.message"] == "boom"
    assert "raise RuntimeError" in event.attributes["exception.stacktrace"]
    (missing,) = named["GET"]
    assert missing.status_code == "UNSET"
    assert missing.attributes["http.response.status_code"] == 404
    assert "http.route" not in missing.attributes
    assert missing.attributes["url.path"] == routes.missing

    # Excluded: no span at all.
    assert not [s for s in spans if s.attributes.get("url.path") == routes.health]

    # A streamed body: the span ends after the last chunk, two sleeps after the view returned.
    slow = named["GET " + routes.slow_stream_route]
    assert all(s.end_ns - s.start_ns >= 2 * STREAM_DELAY * 1e9 for s in slow)

    if outcome.upstream_echo:
        # Baggage and context were current in the view: the outgoing call carried them.
        (upstream,) = named["GET " + routes.upstream_route]
        (client,) = [s for s in spans if s.kind == "CLIENT"]
        assert upstream.trace_id == client.trace_id == TRACE_ID
        assert upstream.parent_span_id == CLIENT_SPAN_ID
        assert client.parent_span_id == upstream.span_id
        echo = outcome.upstream_echo
        assert echo["traceparent"].split("-")[1:3] == [TRACE_ID, client.span_id]
        assert echo["baggage"] == "tenant=acme"
        assert echo.get("tracestate") == "vendor=opaque"

    if logs is not None:
        # The framework's own log records during the request carry its span.
        check_log_in_span(logs, routes.error_log, error)
        if routes.missing_log:
            check_log_in_span(logs, routes.missing_log, missing)
    return named


def check_log_in_span(logs, text, span):
    matching = [r for r in logs if isinstance(r.body, str) and text in r.body]
    assert matching, "no log record containing %r in %s" % (text, [str(r) for r in logs])
    for record in matching:
        assert (record.trace_id, record.span_id) == (span.trace_id, span.span_id), str(record)


def comparable(response):
    """(status, headers without Date/Server, body): what must match an uninstrumented run."""
    status, headers, body = response
    return status, {k: v for k, v in headers.items() if k not in ("date", "server")}, body


def assert_same_responses(plain_url, traced_url, compared):
    """Each ``(method, path)`` of ``compared`` sent to both servers (a POST with a small
    body) answers the same: status, headers but Date/Server, body."""
    for method, path in compared:
        data = b"payload" if method == "POST" else None
        plain = http_request(method, plain_url + path, data=data, headers=CLIENT_HEADERS)
        traced = http_request(method, traced_url + path, data=data, headers=CLIENT_HEADERS)
        assert comparable(traced) == comparable(plain), path

"""requests under otel-run: CLIENT spans, redaction, propagation, redirects, errors,
excluded URLs, header capture, and a trace that crosses two instrumented services."""

import json

import pytest

from support.agent import PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, TESTS_DIR, Server, free_port, free_ports, http_get, run

SCRIPT = TESTS_DIR / "scripts" / "requests_calls.py"
SECRETS = ("hunter2-password", "alice-user", "sig-secret-123", "cred-secret-456", "token-secret-789",
           "auth-secret-value")


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server


@pytest.fixture(scope="module")
def script_run(receiver, upstream):
    """Run the requests script once; the tests below read its spans and output."""
    service = "requests-script-%d" % free_port()
    env = agent_env(
        receiver, service,
        OTEL_PYTHON_REQUESTS_EXCLUDED_URLS="skip-me",
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST="x-custom,authorization",
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE="content-type",
    )
    result = run(otel_run(PYTHON, SCRIPT, upstream.url, free_port()), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "STRICT" not in result.stderr, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # 11 client spans inside "script" (one per request sent, redirect hops included),
    # the "script" span, and the two spans of the top-level redirect.
    spans = receiver.wait_for_spans(count=14, service=service)
    return seen, spans, upstream


def _clients(spans, path):
    return [s for s in spans if s.kind == "CLIENT" and path in s.attributes.get("url.full", "")]


def _one(spans, url):
    """The one first-attempt client span for exactly ``url``."""
    found = [s for s in spans if s.kind == "CLIENT" and s.attributes.get("url.full") == url
             and "http.request.resend_count" not in s.attributes]
    assert len(found) == 1, (url, [str(s) for s in found])
    return found[0]


def test_client_span_attributes_and_propagation(script_run):
    seen, spans, upstream = script_run
    assert len(spans) == 14, [str(s) for s in spans]
    root = next(s for s in spans if s.name == "script")
    echo = _one(spans, upstream.url + "/echo-headers")
    assert echo.name == "GET"
    assert echo.parent_span_id == root.span_id and echo.trace_id == root.trace_id
    assert echo.scope_name == "otel_autoinstrument.requests"
    attrs = echo.attributes
    assert attrs["http.request.method"] == "GET"
    assert attrs["url.full"] == upstream.url + "/echo-headers"
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == upstream.port
    assert attrs["http.response.status_code"] == 200
    assert attrs["network.protocol.version"] == "1.1"
    assert echo.status_code == "UNSET" and "error.type" not in attrs
    # Opt-in header capture, with Authorization always redacted.
    assert attrs["http.request.header.x-custom"] == ["value-1"]
    assert attrs["http.request.header.authorization"] == ["[REDACTED]"]
    assert attrs["http.response.header.content-type"] == ["application/json"]
    # The upstream received this very span as its parent; the caller's dict is untouched.
    assert seen["echoed"]["traceparent"] == "00-%s-%s-01" % (echo.trace_id, echo.span_id)
    assert seen["headers_unchanged"] is True
    assert seen["echoed"]["x-custom"] == "value-1"


def test_statuses_and_errors(script_run):
    seen, spans, upstream = script_run
    assert (seen["status_200"], seen["status_404"], seen["status_500"]) == (200, 404, 500)
    ok, missing, failed = (_one(spans, upstream.url + "/status/%d" % c) for c in (200, 404, 500))
    assert ok.status_code == "UNSET" and "error.type" not in ok.attributes
    # Client spans: 4xx and 5xx are errors (HTTP semantic conventions).
    assert missing.status_code == "ERROR" and missing.attributes["error.type"] == "404"
    assert failed.status_code == "ERROR" and failed.attributes["error.type"] == "500"
    assert failed.attributes["http.response.status_code"] == 500

    assert seen["refused"] == "ConnectionError"
    refused = next(s for s in spans if s.attributes.get("url.full", "").endswith("/nothing"))
    assert refused.status_code == "ERROR"
    assert refused.attributes["error.type"] == "requests.exceptions.ConnectionError"
    assert "http.response.status_code" not in refused.attributes
    assert [e.name for e in refused.events] == ["exception"]
    assert refused.events[0].attributes["exception.type"] == "requests.exceptions.ConnectionError"

    assert seen["timeout"] == "ReadTimeout"
    slow = _one(spans, upstream.url + "/sleep/2")
    assert slow.status_code == "ERROR" and slow.attributes["error.type"] == "requests.exceptions.ReadTimeout"

    purge = next(s for s in spans if s.attributes.get("http.request.method") == "_OTHER")
    assert purge.name == "HTTP"
    assert purge.attributes["http.request.method_original"] == "PURGE"
    assert seen["purge"] == purge.attributes["http.response.status_code"] == 501


def test_redirect_hops_are_spans_of_their_own(script_run):
    seen, spans, upstream = script_run
    root = next(s for s in spans if s.name == "script")
    assert seen["redirect"] == [302, 200]
    first = _one(spans, upstream.url + "/redirect")
    hop = next(s for s in _clients(spans, "/status/200") if s.attributes.get("http.request.resend_count") == 1
               and s.parent_span_id == root.span_id)
    # Siblings under the caller's span; each has its own status; the first ends before the hop.
    assert first.parent_span_id == root.span_id
    assert first.attributes["http.response.status_code"] == 302
    assert "http.request.resend_count" not in first.attributes
    assert hop.attributes["http.response.status_code"] == 200
    assert first.end_ns <= hop.start_ns

    # No caller span: the hop is a child of the first request, in its trace.
    assert seen["top_redirect"] == [302, 200]
    top = _one(spans, upstream.url + "/redirect?top=1")
    assert top.parent_span_id == ""
    top_hop = next(s for s in spans if s.parent_span_id == top.span_id)
    assert top_hop.trace_id == top.trace_id
    assert top_hop.attributes["http.request.resend_count"] == 1
    assert top_hop.attributes["http.response.status_code"] == 200
    assert top.attributes["http.response.status_code"] == 302


def test_secrets_never_reach_spans(script_run):
    seen, spans, upstream = script_run
    assert seen["credentials"] == seen["signed"] == 200
    creds = next(s for s in spans if "page=2" in s.attributes.get("url.full", ""))
    assert creds.attributes["url.full"] == "http://REDACTED:REDACTED@%s:%d/status/200?page=2" % (
        "127.0.0.1", upstream.port)
    signed = next(s for s in spans if "page=3" in s.attributes.get("url.full", ""))
    assert signed.attributes["url.full"] == (
        upstream.url + "/status/200?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&token=REDACTED&page=3")
    for span in spans:
        texts = [repr(v) for v in span.attributes.values()]
        texts += [repr(v) for e in span.events for v in e.attributes.values()]
        texts.append(span.status_message)
        for secret in SECRETS:
            assert not any(secret in t for t in texts), (secret, str(span))


def test_excluded_urls_and_agent_export_are_not_traced(script_run, receiver):
    seen, spans, _ = script_run
    assert not [s for s in spans if "skip-me" in s.attributes.get("url.full", "")]
    assert "traceparent" not in seen["excluded_echoed"]
    assert "baggage" not in seen["excluded_echoed"]
    # The agent's own OTLP export (requests, too) produced no span anywhere.
    assert not [s for s in receiver.spans() if receiver.url in s.attributes.get("url.full", "")]


def test_trace_continues_across_two_services(receiver, service_name):
    """Service A's /upstream handler calls service B with requests: one trace,
    A server -> A client -> B server."""
    port_a, port_b = free_ports(2)
    service_a, service_b = service_name + "-a", service_name + "-b"
    gunicorn = ["gunicorn", "--no-control-socket", "-w", "1", "-b", None, "app:app"]
    flask_dir = APPS_DIR / "flask_app"

    def command(port):
        return otel_run(*[c if c is not None else "127.0.0.1:%d" % port for c in gunicorn])

    env_b = agent_env(receiver, service_b)
    env_a = agent_env(receiver, service_a, UPSTREAM_URL="http://127.0.0.1:%d" % port_b)
    with Server(command(port_b), env=env_b, cwd=flask_dir, port=port_b), \
            Server(command(port_a), env=env_a, cwd=flask_dir, port=port_a):
        status, _, body = http_get("http://127.0.0.1:%d/upstream?path=/users/7" % port_a)
        assert status == 200, body
        assert json.loads(body)["status"] == 200
        a_spans = receiver.wait_for_spans(count=2, service=service_a)
        b_spans = receiver.wait_for_spans(count=1, service=service_b)

    a_server = next(s for s in a_spans if s.kind == "SERVER")
    a_client = next(s for s in a_spans if s.kind == "CLIENT")
    (b_server,) = b_spans
    assert a_server.name == "GET /upstream"
    assert b_server.name == "GET /users/<int:user_id>"
    assert a_client.name == "GET"
    assert a_client.attributes["url.full"] == "http://127.0.0.1:%d/users/7" % port_b
    assert a_client.attributes["http.response.status_code"] == 200
    assert a_server.trace_id == a_client.trace_id == b_server.trace_id
    assert a_client.parent_span_id == a_server.span_id
    assert b_server.parent_span_id == a_client.span_id

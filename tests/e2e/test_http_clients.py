"""httpx, urllib3 and the standard library's HTTP client under otel-run, against a real
local server: one CLIENT span per request sent (requests' span is the only one for a
requests call, none from urllib3 or http.client underneath), propagation into the
outgoing request only, redirects and retries as sibling spans with
``http.request.resend_count``, excluded URLs, and the agent's own export traffic never
traced: the receiver gets exactly the script's spans."""

import json

import pytest

from support.agent import PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, TESTS_DIR, Server, free_port, run

SCRIPT = TESTS_DIR / "scripts" / "http_clients.py"
# Under "script": httpx 1 + 1 (streamed) + 2 (redirect) + 1 (credentials) + 1 (dropped unclosed)
# + 1 (async), urllib3 1 + 2
# (redirect) + 3 (two retries), requests 1, urllib.request 1, http.client 1; the
# "script" span; the top-level redirect's 2.
EXPECTED = 19


@pytest.fixture(scope="module")
def script_run(receiver):
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as upstream:
        service = "http-clients-%d" % port
        env = agent_env(receiver, service, OTEL_PYTHON_URLLIB3_EXCLUDED_URLS="skip-me",
                        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST="x-custom")
        result = run(otel_run(PYTHON, SCRIPT, upstream.url), env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout.strip().splitlines()[-1])
        spans = receiver.wait_for_spans(count=EXPECTED, service=service)
        yield seen, spans, upstream.url


def clients(spans, scope):
    return [s for s in spans if s.scope_name == "otel_autoinstrument." + scope]


def test_exactly_the_scripts_spans(script_run, receiver):
    seen, spans, _ = script_run
    assert len(spans) == EXPECTED, "\n".join(map(str, spans))
    assert sorted({s.scope_name.rsplit(".", 1)[1] for s in spans if s.kind == "CLIENT"}) == [
        "http_client", "httpx", "requests", "urllib3"]
    assert len(clients(spans, "requests")) == 1 and len(clients(spans, "http_client")) == 2
    # The agent exported several batches while the script ran: none of it was traced.
    assert not [s for s in receiver.spans() if receiver.url in s.attributes.get("url.full", "")]


def test_propagation_into_the_outgoing_request_only(script_run):
    seen, spans, base = script_run
    root = next(s for s in spans if s.name == "script")
    for key, scope in (("httpx_echo", "httpx"), ("urllib3_echo", "urllib3"), ("http_client_echo", "http_client")):
        (span,) = [s for s in clients(spans, scope) if s.attributes["url.full"] == base + "/echo-headers"]
        assert seen[key]["traceparent"] == "00-%s-%s-01" % (span.trace_id, span.span_id), key
        assert span.parent_span_id == root.span_id and span.kind == "CLIENT"
        assert span.attributes["http.response.status_code"] == 200
        assert span.attributes["http.request.header.x-custom"] == [seen[key]["x-custom"]]
    assert seen["headers_unchanged"] and seen["stdlib_headers_unchanged"]
    # httpx: the headers go on the wire, not into the application's request objects (its
    # event hooks, the next redirect hop, ``response.request``).
    assert seen["hooks_saw"] == [False] * 5 and seen["request_keeps_its_headers"]
    assert "traceparent" not in seen["excluded"]
    assert not [s for s in spans if "skip-me" in s.attributes.get("url.full", "")]


def test_redirects_and_retries_are_sibling_spans(script_run):
    seen, spans, base = script_run
    root = next(s for s in spans if s.name == "script")
    assert seen["httpx_redirect"] == [302] and seen["urllib3_redirect"] == 200 and seen["retried"] == 503
    for scope in ("httpx", "urllib3"):
        first, hop = [s for s in clients(spans, scope) if s.parent_span_id == root.span_id
                      and s.attributes["url.full"] in (base + "/redirect", base + "/status/200")]
        assert (first.attributes["http.response.status_code"], hop.attributes["http.response.status_code"]) == (
            302, 200)
        assert "http.request.resend_count" not in first.attributes
        assert hop.attributes["http.request.resend_count"] == 1 and first.end_ns <= hop.start_ns
    retries = [s for s in clients(spans, "urllib3") if s.attributes["url.full"] == base + "/status/503"]
    assert [s.attributes.get("http.request.resend_count") for s in retries] == [None, 1, 2]
    assert all(s.parent_span_id == root.span_id and s.status_code == "ERROR" for s in retries)

    # No caller span: the hop is a child of the first request's span (one root).
    (top,) = [s for s in spans if s.attributes.get("url.full") == base + "/redirect?top=1"]
    (hop,) = [s for s in spans if s.parent_span_id == top.span_id]
    assert top.parent_span_id == "" and hop.trace_id == top.trace_id
    assert hop.attributes["http.request.resend_count"] == 1


def test_credentials_never_reach_spans(script_run):
    seen, spans, base = script_run
    assert seen["credentials"] == 200
    (span,) = [s for s in clients(spans, "httpx") if "page=2" in s.attributes["url.full"]]
    assert span.attributes["url.full"] == base.replace("://", "://REDACTED:REDACTED@") + (
        "/status/200?token=REDACTED&page=2")
    assert not any("secret" in repr(v) for s in spans for v in s.attributes.values())


def test_streams_end_their_span_when_closed(script_run):
    seen, spans, base = script_run
    assert seen["streamed"] == '{"id": 1}' and seen["async"] == 200
    (streamed,) = [s for s in clients(spans, "httpx") if s.attributes["url.full"] == base + "/users/1"]
    assert streamed.attributes["http.response.status_code"] == 200
    assert streamed.attributes["network.protocol.version"] == "1.1"


def test_a_stream_dropped_unclosed_still_ends_its_span(script_run):
    seen, spans, base = script_run
    assert seen["dropped"] == 200
    (dropped,) = [s for s in clients(spans, "httpx") if s.attributes["url.full"] == base + "/users/4"]
    root = next(s for s in spans if s.name == "script")
    assert dropped.parent_span_id == root.span_id
    assert dropped.attributes["otel_autoinstrument.response.unclosed"] is True
    assert dropped.attributes["http.response.status_code"] == 200
    others = [s for s in clients(spans, "httpx") if s is not dropped]
    assert others and not any("otel_autoinstrument.response.unclosed" in s.attributes for s in others)


def test_each_request_sent_is_measured_once(script_run, receiver):
    """http.client.request.duration: one measurement per CLIENT span, by the library that
    owns it (requests over urllib3 over http.client is requests' alone)."""
    from collections import Counter

    _, spans, _ = script_run
    service = spans[0].resource["service.name"]
    keys = ("http.request.method", "http.response.status_code", "error.type")
    expected = Counter((s.scope_name,) + tuple(s.attributes.get(k) for k in keys) for s in spans if s.kind == "CLIENT")
    measured = Counter()
    for point in receiver.final_metric_points(service, "http.client.request.duration"):
        measured[(point.scope_name,) + tuple(point.attributes.get(k) for k in keys)] += point.count
        assert "url.full" not in point.attributes and point.attributes["server.address"] == "127.0.0.1"
    assert measured == expected

"""Security signals that trace sampling cannot hide: ``auth.failure`` as an OTLP log
event (event name set) next to the span event, driven in-process through the shared
WSGI layer with a real agent whose spans and log records land in memory; the plugin
API's ``emit_event``; Django's ``user_login_failed`` given what is not an HttpRequest."""

import pytest

from otel_autoinstrument.instrumentation import emit_event, use_span
from support.wsgi import environ_for, make_tracing, serve, strict  # noqa: F401  (strict: a fixture)

pytestmark = pytest.mark.usefixtures("strict")

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
UNSAMPLED = "00-%s-b7ad6b7169203331-00" % TRACE_ID


def answer(tracing, status, path="/admin", headers=None, route=None):
    """One request answered with ``status``."""
    def app(environ, start_response):
        if route:
            environ["otel_autoinstrument.request"].set_route(route)
        start_response(status, [("Content-Type", "text/plain")])
        return [b"no"]

    serve(tracing, app, environ_for(path, headers=headers, REMOTE_ADDR="10.1.2.3"))


def test_an_unsampled_401_is_still_a_log_event():
    tracing, memory = make_tracing()
    answer(tracing, "401 Unauthorized", headers={"traceparent": UNSAMPLED}, route="/admin")
    assert memory.spans == []
    (record,) = memory.logs
    assert record.event_name == "auth.failure" and (record.severity_number, record.severity_text) == (13, "WARN")
    assert record.attributes == {"auth.failure.reason": "unauthorized", "http.response.status_code": 401,
                                 "http.request.method": "GET", "http.route": "/admin", "client.address": "10.1.2.3"}
    assert "%032x" % record.trace_id == TRACE_ID and record.span_id and record.trace_flags == 0
    assert record.scope.name == "otel_autoinstrument.wsgi-test"  # the instrumentor's scope


def test_a_sampled_403_gets_the_span_event_and_the_log_event_behind_a_trusted_proxy():
    tracing, memory = make_tracing(OTEL_PYTHON_TRUSTED_PROXY_COUNT="1")
    answer(tracing, "403 Forbidden", path="/x/y", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    (span,) = memory.spans
    assert [(e.name, e.attributes) for e in span.events] == [
        ("auth.failure", {"auth.failure.reason": "forbidden", "http.response.status_code": 403})]
    (record,) = memory.logs
    assert record.attributes == {"auth.failure.reason": "forbidden", "http.response.status_code": 403,
                                 "http.request.method": "GET", "url.path": "/x/y", "client.address": "203.0.113.9",
                                 "network.peer.address": "10.1.2.3"}
    assert (record.trace_id, record.span_id, record.trace_flags) == (
        span.context.trace_id, span.context.span_id, 1)


def test_without_a_log_pipeline_only_the_span_event_remains():
    tracing, memory = make_tracing(OTEL_LOGS_EXPORTER="none")
    answer(tracing, "401 Unauthorized")
    assert [e.name for e in memory.spans[0].events] == ["auth.failure"]
    assert emit_event(memory.agent, "x") is False


def test_other_answers_send_no_event():
    tracing, memory = make_tracing()
    for status in ("200 OK", "404 Not Found", "500 Internal Server Error"):
        answer(tracing, status, headers={"traceparent": UNSAMPLED})
    assert memory.logs == [] and memory.spans == []


def test_emit_event_for_plugins():
    _, memory = make_tracing()
    span = memory.tracer().start_span("s")
    with use_span(span):
        assert emit_event(memory.agent, "cache.evicted", {"cache.name": "x" * 10}, body="evicted")
    emit_event(memory.agent, "outside")  # no current span: no ids
    first, second = memory.logs
    assert (first.event_name, first.body, first.attributes) == ("cache.evicted", "evicted", {"cache.name": "x" * 10})
    assert (first.trace_id, first.span_id) == (span.context.trace_id, span.context.span_id)
    assert second.trace_id == 0


def test_django_login_failures_with_anything_as_the_request():
    from types import SimpleNamespace

    from django.contrib.auth import signals

    from otel_autoinstrument.instrumentors import django as django_instrumentor

    tracing, memory = make_tracing()
    django_instrumentor.connect_django_login_failed(tracing.http.security)
    try:
        for odd in (None, object(), SimpleNamespace(META=None), SimpleNamespace(META={"REMOTE_ADDR": "1.2.3.4"})):
            signals.user_login_failed.send(sender=__name__, credentials={"username": "u"}, request=odd)
    finally:
        django_instrumentor.disconnect_django_login_failed()
    assert [r.attributes for r in memory.logs] == [{"auth.failure.reason": "login_failed"}] * 4

"""The duration metrics the plugin API's helpers record (WsgiTracing/HttpServer,
HttpClient, DbSpans), in process with the real agent of the testing kit: attributes,
sampled or not, errors, exemplars, active requests back to zero however a response ends."""

import pytest

from otel_autoinstrument.instrumentation import Instrumentor, wsgi_body
from otel_autoinstrument.instrumentation.db import DbSpans
from otel_autoinstrument.instrumentation.http import HttpClient
from otel_autoinstrument.instrumentation.wsgi import ENVIRON_KEY, WsgiTracing
from otel_autoinstrument.metrics.collector import Collector
from otel_autoinstrument.testing import InMemoryAgent
from support.wsgi import environ_for, serve


class _Plugin(Instrumentor):
    name = "metrics-test"


def make_agent(**env):
    """``(InMemoryAgent, instrumentor, the agent's spans)``: metrics read in place."""
    memory = InMemoryAgent(env)
    return memory, memory.instrument(_Plugin(), check_requires=False), memory


def points(memory, name):
    return memory.metric_points(name)


def exported(memory, name):
    """The points an exporter would get now (its collector starts a new exemplar window)."""
    return [p for m in Collector(memory.agent.metrics.provider, owns_window=True).collect() if m.name == name
            for p in m.points]


def routed(route, status="200 OK", raises=None):
    def app(environ, start_response):
        if route is not None:
            environ[ENVIRON_KEY].set_route(route)
        if raises is not None:
            raise raises
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def test_a_request_records_its_duration_with_route_and_status_never_the_path():
    agent, instrumentor, memory = make_agent()
    tracing = WsgiTracing(instrumentor)
    serve(tracing, routed("/users/<int:id>"), environ_for("/users/42", SERVER_PROTOCOL="HTTP/1.1"))
    serve(tracing, routed("/users/<int:id>", "404 Not Found"), environ_for("/users/43", method="get"))
    (ok, missing) = sorted(points(agent, "http.server.request.duration"),
                           key=lambda p: p.attributes["http.response.status_code"])
    assert ok.attributes == {"http.request.method": "GET", "url.scheme": "http", "network.protocol.version": "1.1",
                             "http.route": "/users/<int:id>", "http.response.status_code": 200}
    assert missing.attributes["http.response.status_code"] == 404 and "error.type" not in missing.attributes
    assert ok.count == 1 and ok.sum > 0 and ok.bounds[0] == 0.005 and ok.bounds[-1] == 10
    (active,) = points(agent, "http.server.active_requests")
    assert active.value == 0 and active.attributes == {"http.request.method": "GET", "url.scheme": "http"}
    assert all("/users/4" not in str(p.attributes) for p in points(agent, "http.server.request.duration"))


def test_schemes_a_client_chooses_make_no_series_of_their_own():
    """werkzeug's ProxyFix copies X-Forwarded-Proto into wsgi.url_scheme as it comes."""
    agent, instrumentor, memory = make_agent()
    tracing = WsgiTracing(instrumentor)
    for n in range(50):
        serve(tracing, routed("/"), environ_for("/", **{"wsgi.url_scheme": "x%d" % n}))
    serve(tracing, routed("/"), environ_for("/", **{"wsgi.url_scheme": "https"}))
    active = points(agent, "http.server.active_requests")
    assert sorted(p.attributes["url.scheme"] for p in active) == ["_OTHER", "https"]
    durations = points(agent, "http.server.request.duration")
    assert sorted((p.attributes["url.scheme"], p.count) for p in durations) == [("_OTHER", 50), ("https", 1)]


def test_no_route_no_route_attribute_and_errors_carry_their_type():
    agent, instrumentor, _ = make_agent()
    tracing = WsgiTracing(instrumentor)
    serve(tracing, routed(None, "503 Service Unavailable"), environ_for("/anything"))
    with pytest.raises(ValueError):
        serve(tracing, routed("/boom", raises=ValueError("x")), environ_for("/boom"))
    by_route = {p.attributes.get("http.route"): p.attributes for p in points(agent, "http.server.request.duration")}
    assert "http.route" not in by_route[None] and by_route[None]["error.type"] == "503"
    assert by_route["/boom"]["error.type"] == "ValueError" and "http.response.status_code" not in by_route["/boom"]
    assert points(agent, "http.server.active_requests")[0].value == 0


def test_unsampled_requests_count_and_carry_no_exemplar():
    agent, instrumentor, memory = make_agent(OTEL_TRACES_SAMPLER="always_off")
    tracing = WsgiTracing(instrumentor)
    for _ in range(3):
        serve(tracing, routed("/r"), environ_for("/r"))
    assert memory.spans == []
    (point,) = points(agent, "http.server.request.duration")
    assert point.count == 3
    (sent,) = exported(agent, "http.server.request.duration")
    assert sent.exemplars == []


def test_sampled_requests_leave_exemplars_of_their_spans():
    agent, instrumentor, memory = make_agent()
    tracing = WsgiTracing(instrumentor)
    serve(tracing, routed("/r"), environ_for("/r"))
    (span,) = memory.spans
    (point,) = exported(agent, "http.server.request.duration")
    assert [(e.trace_id, e.span_id) for e in point.exemplars] == [(span.context.trace_id, span.context.span_id)]


@pytest.mark.parametrize("sampler", ["always_on", "always_off"])
def test_an_unclosed_response_leaves_the_active_count_when_it_is_dropped(sampler):
    agent, instrumentor, _ = make_agent(OTEL_TRACES_SAMPLER=sampler)
    tracing = WsgiTracing(instrumentor)

    class Body:
        def __iter__(self):
            return iter([b"x"])

        def close(self):
            pass

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    kept = serve(tracing, app, environ_for("/"), consume=False).result
    assert points(agent, "http.server.active_requests")[0].value == 1
    wsgi_body._end_pending_at_exit()
    assert points(agent, "http.server.active_requests")[0].value == 0
    assert points(agent, "http.server.request.duration")[0].count == 1
    kept.close()
    assert points(agent, "http.server.request.duration")[0].count == 1  # once


@pytest.mark.parametrize("sampler", ["always_on", "always_off"])
def test_client_calls_are_measured_sampled_or_not(sampler):
    agent, instrumentor, _ = make_agent(OTEL_TRACES_SAMPLER=sampler)
    client = HttpClient(instrumentor)
    client.finish(client.start("GET", "https://api.example.com/users/7?x=1"), 200, protocol="1.1")
    client.finish(client.start("post", "http://api.example.com:8080/x"), 404)
    client.finish(client.start("GET", "http://down.example.com/"), error=ConnectionError("refused"))
    series = {(p.attributes["server.address"], p.attributes.get("server.port")): p.attributes
              for p in points(agent, "http.client.request.duration")}
    assert series[("api.example.com", 443)] == {
        "http.request.method": "GET", "server.address": "api.example.com", "server.port": 443,
        "network.protocol.version": "1.1", "http.response.status_code": 200}
    assert series[("api.example.com", 8080)]["error.type"] == "404"
    assert series[("api.example.com", 8080)]["http.request.method"] == "POST"
    assert series[("down.example.com", 80)]["error.type"] == "ConnectionError"
    assert all("url.full" not in attributes for attributes in series.values())


@pytest.mark.parametrize("sampler", ["always_on", "always_off"])
def test_statements_are_measured_sampled_or_not(sampler):
    agent, instrumentor, _ = make_agent(OTEL_TRACES_SAMPLER=sampler)
    spans = DbSpans(instrumentor.tracer, instrumentor.settings, instrumentor.meter)
    target = spans.target("postgresql", "shop", "db.internal", 5432)
    for statement in ("SELECT * FROM users WHERE id = 7", "SELECT * FROM users WHERE id = 8"):
        spans.finish(spans.start(target, statement))
    spans.finish(spans.start(target, "INSERT INTO orders VALUES (1)"), error=RuntimeError("deadlock"))
    found = {p.attributes["db.operation.name"]: p for p in points(agent, "db.client.operation.duration")}
    assert found["SELECT"].count == 2 and found["SELECT"].attributes == {
        "db.system.name": "postgresql", "db.namespace": "shop", "db.operation.name": "SELECT",
        "db.collection.name": "users", "server.address": "db.internal", "server.port": 5432}
    assert found["INSERT"].attributes["error.type"] == "RuntimeError"
    assert found["SELECT"].bounds[0] == 0.001 and found["SELECT"].bounds[-1] == 10


def test_metrics_off_costs_no_instrument_and_no_wrapper_span():
    agent, instrumentor, _ = make_agent(OTEL_METRICS_EXPORTER="none", OTEL_TRACES_SAMPLER="always_off")
    assert agent.agent.metrics is None and agent.metric_points("http.client.request.duration") == []
    client = HttpClient(instrumentor)
    assert client.metrics is None
    span = client.start("GET", "http://x/")
    assert type(span).__name__ == "NonRecordingSpan"
    assert WsgiTracing(instrumentor).http.metrics is None


@pytest.mark.parametrize("sampler", ["always_on", "always_off"])
def test_asgi_requests_are_measured_when_the_response_completes(sampler):
    """The ASGI layer (Starlette here) records what the WSGI layer does: route or none,
    status, error type, a streamed body's time included; a WebSocket is no request."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, StreamingResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.testclient import TestClient

    from otel_autoinstrument.instrumentors.starlette import StarletteInstrumentor

    with InMemoryAgent({"OTEL_TRACES_SAMPLER": sampler}) as agent:
        agent.instrument(StarletteInstrumentor())
        active_while_streaming = []

        async def item(request):
            return PlainTextResponse("item")

        async def boom(request):
            raise LookupError("no")

        async def stream(request):
            async def chunks():
                for chunk in (b"a", b"b"):
                    await asyncio.sleep(0.01)
                    active_while_streaming.append(points(agent, "http.server.active_requests")[0].value)
                    yield chunk
            return StreamingResponse(chunks())

        async def echo(websocket):
            await websocket.accept()
            await websocket.close()

        app = Starlette(routes=[Route("/items/{item_id}", item), Route("/boom", boom), Route("/stream", stream),
                                WebSocketRoute("/ws", echo)])
        with TestClient(app, raise_server_exceptions=False) as client:
            for i in range(3):
                assert client.get("/items/%d" % i).text == "item"
            assert client.get("/nowhere").status_code == 404
            assert client.get("/boom").status_code == 500
            assert client.get("/stream").text == "ab"
            with client.websocket_connect("/ws"):
                pass
        found = {(p.attributes.get("http.route"), p.attributes.get("http.response.status_code"),
                  p.attributes.get("error.type")): p for p in points(agent, "http.server.request.duration")}
        assert {key: p.count for key, p in found.items()} == {
            ("/items/{item_id}", 200, None): 3, (None, 404, None): 1, ("/boom", 500, "LookupError"): 1,
            ("/stream", 200, None): 1}
        assert found[("/stream", 200, None)].sum >= 0.02  # ended with the body, not with the first chunk
        for point in found.values():
            assert point.attributes["http.request.method"] == "GET" and point.attributes["url.scheme"] == "http"
            assert "/items/1" not in str(point.attributes)
        assert active_while_streaming == [1, 1]
        assert [p.value for p in points(agent, "http.server.active_requests")] == [0]


def test_the_testing_kit_gives_back_the_process_hooks_its_agent_registered():
    """A plugin's test session makes many in-memory agents: none may leave its at-fork
    reset (holding its metrics) or its first-use hook behind."""
    from otel_autoinstrument.metrics.series import process

    before = (list(process.on_fork), process.on_first_use)
    for _ in range(5):
        with InMemoryAgent() as memory:
            memory.agent.meter("kit").counter("uses").add(1)
            assert memory.metric_points("uses")[0].value == 1
            assert len(process.on_fork) > len(before[0])
    assert (list(process.on_fork), process.on_first_use) == before

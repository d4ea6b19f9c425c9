"""The shared ASGI layer in-process, on Starlette apps and bare ASGI callables: one span
per WebSocket connection, no span for lifespan, the end of the response (trailers,
5xx), exceptions once, disconnects, apps built before instrumenting, uninstrumenting."""

import asyncio

import pytest

from otel_autoinstrument.instrumentation.asgi import AsgiTracing
from otel_autoinstrument.instrumentors.starlette import StarletteInstrumentor
from otel_autoinstrument.testing import InMemoryAgent


@pytest.fixture
def agent():
    with InMemoryAgent({"OTEL_PYTHON_STARLETTE_EXCLUDED_URLS": "/skip"}) as memory:
        yield memory


@pytest.fixture
def starlette(agent):
    return agent.instrument(StarletteInstrumentor())


def make_app():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute

    async def hello(request):
        return PlainTextResponse("hello")

    async def echo(websocket):
        await websocket.accept()
        for _ in range(3):
            await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    return Starlette(routes=[Route("/hello", hello), Route("/skip", hello), WebSocketRoute("/ws/{room}", echo)])


def test_websocket_is_one_span_and_lifespan_none(agent, starlette):
    from starlette.testclient import TestClient

    app = make_app()  # built after instrumenting; the next test builds one before
    with TestClient(app) as client:  # runs the lifespan
        with client.websocket_connect("/ws/lobby") as websocket:
            for text in ("a", "b", "c"):
                websocket.send_text(text)
                assert websocket.receive_text() == text
        assert client.get("/hello").text == "hello"
        assert client.get("/skip").text == "hello"
    spans = agent.spans
    assert [s.name for s in spans] == ["WS /ws/{room}", "GET /hello"]
    ws = spans[0]
    assert ws.attributes["network.protocol.name"] == "websocket"
    assert ws.attributes["url.scheme"] == "ws" and ws.attributes["url.path"] == "/ws/lobby"
    assert "http.request.method" not in ws.attributes and ws.attributes["http.route"] == "/ws/{room}"


def test_apps_built_before_instrumenting_and_uninstrumenting(agent):
    from starlette.testclient import TestClient

    app = make_app()
    instrumentor = agent.instrument(StarletteInstrumentor())
    with TestClient(app) as client:
        client.get("/hello")
    assert [s.name for s in agent.spans] == ["GET /hello"]
    agent.uninstrument(instrumentor)
    with TestClient(app) as client:  # its stack keeps the wrapper, which now passes through
        assert client.get("/hello").text == "hello"
    with TestClient(make_app()) as client:
        assert client.get("/hello").text == "hello"
    assert len(agent.spans) == 1


class Instrumented:
    """What an instrumentor hands to AsgiTracing."""

    name = "test"

    def __init__(self, memory):
        self.agent = memory.agent
        self.settings = memory.settings
        self.tracer = memory.tracer("test")


def run_asgi(tracing, app, scope, messages=()):
    sent = []
    inbox = list(messages) or [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def main():
        await tracing.wrap_app(app)(scope, receive, send)

    asyncio.run(main())
    return sent


def http_scope(path="/", method="GET"):
    return {"type": "http", "method": method, "path": path, "scheme": "http", "http_version": "1.1",
            "headers": [(b"host", b"example.com")], "query_string": b"", "client": ("10.0.0.1", 5000),
            "server": ("example.com", 80)}


@pytest.mark.parametrize("changes", [
    {"query_string": "name=Andrew"},  # a str: Django's ASGI handler takes it (its own test sends one)
    {"query_string": bytearray(b"name=Andrew")},
    {"query_string": None, "client": None, "server": None},
    {"path": "/caf\u00e9", "http_version": "2"},
], ids=["str query", "bytearray query", "no query client server", "non-ascii path"])
def test_scopes_of_every_accepted_shape_make_a_span(agent, changes):
    tracing = AsgiTracing(Instrumented(agent))

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = run_asgi(tracing, app, dict(http_scope(), **changes))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    (span,) = agent.spans
    assert span.attributes["http.response.status_code"] == 200
    if changes.get("query_string"):
        assert span.attributes["url.query"] == "name=Andrew"


def test_trailers_end_the_response(agent):
    tracing = AsgiTracing(Instrumented(agent))
    ended_during_app = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"data", "more_body": False})
        ended_during_app.append(agent.spans[:])  # not yet: the trailers follow
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": False})
        ended_during_app.append(agent.spans[:])

    run_asgi(tracing, app, http_scope())
    assert [len(s) for s in ended_during_app] == [0, 1]


def test_an_exception_after_a_500_is_recorded_once(agent):
    tracing = AsgiTracing(Instrumented(agent))

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"Internal Server Error"})
        raise KeyError("late")

    with pytest.raises(KeyError):
        run_asgi(tracing, app, http_scope())
    (span,) = agent.spans
    assert span.attributes["error.type"] == "KeyError" and span.status_code == 2
    assert [e.name for e in span.events] == ["exception"]


def test_cancellation_is_not_an_application_error(agent):
    tracing = AsgiTracing(Instrumented(agent))

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise asyncio.CancelledError()

    with pytest.raises(asyncio.CancelledError):
        run_asgi(tracing, app, http_scope())
    (span,) = agent.spans
    assert span.events is None or span.events == []
    assert span.status_code == 0 and span.end_ns is not None


def test_lifespan_and_unknown_scopes_pass_untouched(agent):
    tracing = AsgiTracing(Instrumented(agent))
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["type"], receive, send))

    run_asgi(tracing, app, {"type": "lifespan"})
    run_asgi(tracing, app, {"type": "custom"})
    assert [t for t, _, _ in seen] == ["lifespan", "custom"]
    assert all(getattr(r, "__self__", None) is None for _, r, _ in seen)  # the server's own callables
    assert agent.spans == []


def test_client_address_behind_trusted_proxies_and_excluded_urls():
    """The WSGI layer's rules, from the same code: the proxy's header, the peer kept as
    network.peer.address; an excluded URL is served untraced."""
    memory = InMemoryAgent({"OTEL_PYTHON_TRUSTED_PROXY_COUNT": "1", "OTEL_PYTHON_EXCLUDED_URLS": "/skip$"})
    tracing = AsgiTracing(Instrumented(memory))

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scope = http_scope("/caf\u00e9")
    scope["headers"] = scope["headers"] + [(b"x-forwarded-for", b"198.51.100.7, 203.0.113.9")]
    with memory:
        run_asgi(tracing, app, scope)
        run_asgi(tracing, app, http_scope("/skip"))
    (span,) = memory.spans
    assert span.attributes["client.address"] == "203.0.113.9"
    assert span.attributes["network.peer.address"] == "10.0.0.1"
    assert span.attributes["url.path"] == "/caf%C3%A9"  # as on the wire
    assert (span.attributes["server.address"], span.attributes["server.port"]) == ("example.com", 80)


def test_fastapi_makes_no_request_span_of_its_own_beside_the_agents(agent, monkeypatch):
    """FastAPI traces requests itself once an OpenTelemetry tracer provider is set (the
    agent's API bridge sets one): the agent's span must be the only one."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from opentelemetry import trace

    from otel_autoinstrument.instrumentors.starlette import FastAPIInstrumentor

    started = []

    class Tracer(trace.NoOpTracer):
        def start_span(self, name, *args, **kwargs):
            started.append(name)
            return super().start_span(name, *args, **kwargs)

        def start_as_current_span(self, name, *args, **kwargs):
            started.append(name)
            return super().start_as_current_span(name, *args, **kwargs)

    class Provider(trace.TracerProvider):
        def get_tracer(self, *args, **kwargs):
            return Tracer()

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", Provider())
    app = FastAPI()
    app.get("/items/{item_id}")(lambda item_id: {"id": item_id})
    with TestClient(app) as client:  # without the agent FastAPI would trace it
        client.get("/items/1")
    assert started
    started.clear()

    agent.instrument(FastAPIInstrumentor())
    app = FastAPI()
    app.get("/items/{item_id}")(lambda item_id: {"id": item_id})
    with TestClient(app) as client:
        assert client.get("/items/2").json() == {"id": "2"}
    assert started == []
    assert [s.name for s in agent.spans] == ["GET /items/{item_id}"]


def test_a_send_that_fails_is_a_disconnect_not_an_error(agent):
    tracing = AsgiTracing(Instrumented(agent))

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})

    async def gone(message):
        if message["type"] == "http.response.body":
            raise ConnectionResetError("peer gone")

    async def main():
        await tracing.wrap_app(app)(http_scope(), None, gone)

    with pytest.raises(ConnectionResetError):
        asyncio.run(main())
    (span,) = agent.spans
    assert [e.name for e in span.events] == ["http.disconnect"]
    assert span.status_code == 0 and "error.type" not in span.attributes


def test_auth_failures_are_signalled_sampled_or_not():
    """As on the WSGI side: a 401/403 is an ``auth.failure`` span event when the span
    records, and always an OTLP log event (trace sampling cannot hide it)."""
    for sampler, recording in (("always_on", True), ("always_off", False)):
        with InMemoryAgent({"OTEL_TRACES_SAMPLER": sampler}) as memory:
            tracing = AsgiTracing(Instrumented(memory), route=lambda scope, owner: "/admin/{page}")

            async def app(scope, receive, send):
                await send({"type": "http.response.start", "status": 403, "headers": []})
                await send({"type": "http.response.body", "body": b"no"})

            run_asgi(tracing, app, http_scope("/admin/users"))
            (record,) = [r for r in memory.logs if r.event_name == "auth.failure"]
            assert record.attributes["http.response.status_code"] == 403
            assert record.attributes["http.route"] == "/admin/{page}"
            assert record.attributes["client.address"] == "10.0.0.1"
            if recording:
                (span,) = memory.spans
                assert [e.name for e in span.events] == ["auth.failure"]
            else:
                assert memory.spans == []


def test_a_failure_starting_the_request_leaves_the_applications_context_and_scope_alone(monkeypatch):
    import otel_autoinstrument._log as log
    from otel_autoinstrument.instrumentation import get_current_span
    from otel_autoinstrument.instrumentation.asgi import SCOPE_KEY

    class BrokenMetrics:
        def request(self, *args):
            raise RuntimeError("an agent bug")

    monkeypatch.setattr(log, "STRICT", False)  # the agent's safety net, as in production
    with InMemoryAgent(strict=False) as memory:
        tracing = AsgiTracing(Instrumented(memory))
        tracing.http.metrics = BrokenMetrics()
        seen = []

        async def app(scope, receive, send):
            seen.append((get_current_span().is_recording(), SCOPE_KEY in scope))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        sent = run_asgi(tracing, app, http_scope())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert seen == [(False, False)]

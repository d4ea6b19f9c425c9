"""FastAPI under otel-run, served by uvicorn (2 workers, and --reload) and by gunicorn
with uvicorn workers (with and without --preload), calling a second instrumented
FastAPI service: no change to the application.

The schedule delay is 60 s: what a worker made arrives only through its flush at exit,
so every span counted here proves that each worker flushed once (exit summaries add
up, nothing dropped, nothing twice). Checked on what the receiver decoded: routes
templated, the incoming context continued, one trace per request across both services
(httpx AsyncClient, an asyncio task, urllib3 in the thread pool and in a background
task after the response), errors recorded once, streamed bodies inside their span, and
responses byte-identical to an uninstrumented server's.
"""

import json
from collections import Counter
import os
import re
import time

import pytest

from support import web
from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, Server, base_env, free_port, http_get, http_request, run

APP = APPS_DIR / "fastapi_app"
LATE = dict(OTEL_BSP_SCHEDULE_DELAY=60000, OTEL_BLRP_SCHEDULE_DELAY=60000, OTEL_LOG_LEVEL="debug")
STATS = re.compile(r"traces \(pid (\d+)\): created (\d+), exported (\d+), dropped (\d+)")
CHAIN_TRACE = "0af7651916cd43dd8448eb211c80319c"
CHAIN_PARENT = "00-%s-b7ad6b7169203331-01" % CHAIN_TRACE


def uvicorn(port, *options):
    return [os.path.join(BIN, "uvicorn"), "app:app", "--host", "127.0.0.1", "--port", port, "--no-access-log",
            *options]


def gunicorn(port, *options):
    return [os.path.join(BIN, "gunicorn"), "--no-control-socket", "-k", "uvicorn.workers.UvicornWorker", "-w", "2",
            "-b", "127.0.0.1:%d" % port, *options, "app:app"]


@pytest.fixture(scope="module")
def downstream(receiver):
    """Service B: the same app, instrumented, exporting at once."""
    port = free_port()
    service = "fastapi-downstream-%d" % port
    with Server(otel_run(*uvicorn(port)), env=agent_env(receiver, service), cwd=APP, port=port) as server:
        yield server, service


def exercise(base, workers):
    """The scenario's requests; returns (responses, worker pids, /pid requests)."""
    responses = {
        "user": http_request("GET", base + "/users/7?token=secret&page=2", headers=web.CLIENT_HEADERS),
        "root": http_get(base + "/"),
        "error": http_get(base + "/error"),
        "missing": http_get(base + "/nope"),
        "health": http_get(base + "/health"),
        "stream": http_get(base + "/stream"),
        "slow": http_get(base + "/slow-stream?delay=0.1"),
        "echo": http_request("POST", base + "/echo", data=b"payload"),
        "chain": http_get(base + "/chain/5", headers={"traceparent": CHAIN_PARENT, "baggage": "tenant=acme"}),
    }
    pids, asked = set(), 0
    while len(pids) < workers and asked < 300:
        pids.add(int(http_get(base + "/pid")[2]))
        asked += 1
    assert len(pids) == workers, pids
    assert responses["user"][0] == 200 and responses["user"][2] == b'{"id":7,"greeting":"hi"}'
    assert [responses[k][0] for k in ("error", "missing", "health")] == [500, 404, 200]
    assert responses["stream"][2] == responses["slow"][2] == b"abc"
    assert responses["echo"][2] == b"payload"
    assert responses["chain"][0] == 200, responses["chain"]
    return responses, pids, asked


def expected_count(asked):
    # user, root, error, missing, stream, slow stream, echo, chain (server + 4 clients),
    # one per /pid; /health is excluded.
    return 12 + asked


def serve(receiver, service, command, port, downstream, workers=2):
    env = agent_env(receiver, service, DOWNSTREAM_URL=downstream[0].url,
                    OTEL_PYTHON_FASTAPI_EXCLUDED_URLS="/health$", **web.CAPTURE_ENV, **LATE)
    server = Server(command, env=env, cwd=APP, port=port)
    with server:
        responses, pids, asked = exercise(server.url, workers)
    stderr = server.output()[1]
    assert server.returncode == 0, stderr[-3000:]
    expected = expected_count(asked)
    spans = receiver.wait_for_spans(count=expected, service=service)
    assert len(spans) == expected and len({s.span_id for s in spans}) == expected, "\n".join(map(str, spans))
    summaries = [tuple(map(int, m.groups())) for m in STATS.finditer(stderr)]
    assert sum(created for _, created, _, _ in summaries) == expected, summaries
    assert all(created == exported and dropped == 0 for _, created, exported, dropped in summaries), summaries
    check(receiver, spans, downstream[1], server.port, json.loads(responses["chain"][2]))
    check_metrics(receiver, service, asked)
    return server, spans, pids


def check_metrics(receiver, service, asked):
    """Every request in http.server.request.duration once, whichever worker served it
    (routes, never paths; /health excluded), and the chain's four calls (httpx, urllib3)
    in http.client.request.duration."""
    served = Counter()
    for point in receiver.final_metric_points(service, "http.server.request.duration"):
        attributes = point.attributes
        served[attributes["http.request.method"], attributes.get("http.route"),
               attributes["http.response.status_code"], attributes.get("error.type")] += point.count
    assert served == {
        ("GET", "/users/{user_id}", 200, None): 1, ("GET", "/", 200, None): 1, ("GET", "/error", 500, "RuntimeError"): 1,
        ("GET", None, 404, None): 1, ("GET", "/stream", 200, None): 1, ("GET", "/slow-stream", 200, None): 1,
        ("POST", "/echo", 200, None): 1, ("GET", "/chain/{item_id}", 200, None): 1, ("GET", "/pid", 200, None): asked}
    calls = Counter()
    for point in receiver.final_metric_points(service, "http.client.request.duration"):
        calls[point.scope_name.rsplit(".", 1)[1], point.attributes["http.response.status_code"]] += point.count
    assert calls == {("httpx", 200): 2, ("urllib3", 200): 2}
    active = receiver.final_metric_points(service, "http.server.active_requests")
    assert active and sum(p.value for p in active) == 0


def check(receiver, spans, downstream_service, port, chain_body):
    server = [s for s in spans if s.kind == "SERVER"]
    named = web.by_name(server)
    assert not any("/7" in s.name or "/5" in s.name for s in spans)
    assert all(s.scope_name == "otel_autoinstrument.fastapi" for s in server)

    (user,) = named["GET /users/{user_id}"]
    assert (user.trace_id, user.parent_span_id, user.trace_state) == (web.TRACE_ID, web.CLIENT_SPAN_ID,
                                                                      "vendor=opaque")
    attributes = user.attributes
    assert attributes["http.route"] == "/users/{user_id}"
    assert attributes["url.path"] == "/users/7" and attributes["url.query"] == "token=REDACTED&page=2"
    assert attributes["http.response.status_code"] == 200 and user.status_code == "UNSET"
    assert (attributes["server.address"], attributes["server.port"]) == ("127.0.0.1", port)
    assert attributes["client.address"] == "127.0.0.1"
    assert attributes["network.protocol.version"] == "1.1"
    assert attributes["user_agent.original"] == "e2e-client/1.0"
    assert attributes["http.request.header.x-request-id"] == ["req-42"]
    assert attributes["http.request.header.authorization"] == ["[REDACTED]"]
    assert attributes["http.request.header.x-api-token"] == ["[REDACTED]"]
    assert attributes["http.response.header.content-type"] == ["application/json"]
    assert not any("secret" in str(v) for s in spans for v in s.attributes.values())

    (error,) = named["GET /error"]
    assert error.status_code == "ERROR" and error.attributes["error.type"] == "RuntimeError"
    assert error.attributes["http.response.status_code"] == 500
    (event,) = [e for e in error.events if e.name == "exception"]  # recorded once
    assert event.attributes["exception.message"] == "boom"
    (missing,) = named["GET"]
    assert missing.attributes["http.response.status_code"] == 404 and missing.status_code == "UNSET"
    assert "http.route" not in missing.attributes
    assert not [s for s in spans if s.attributes.get("url.path") == "/health"]
    (slow,) = named["GET /slow-stream"]
    assert slow.end_ns - slow.start_ns >= 0.2e9  # two sleeps of the stream, after the view returned
    (echo,) = named["POST /echo"]
    assert echo.attributes["http.request.method"] == "POST"

    check_chain(receiver, spans, named, downstream_service, chain_body)


def check_chain(receiver, spans, named, downstream_service, body):
    """One trace across both services, each call a child of the span it was made in."""
    (chain,) = named["GET /chain/{item_id}"]
    assert (chain.trace_id, chain.parent_span_id) == (CHAIN_TRACE, "b7ad6b7169203331")
    clients = [s for s in spans if s.kind == "CLIENT"]
    assert len(clients) == 4 and all(c.trace_id == CHAIN_TRACE and c.parent_span_id == chain.span_id
                                     for c in clients)
    assert sorted(c.scope_name.rsplit(".", 1)[1] for c in clients) == ["httpx", "httpx", "urllib3", "urllib3"]
    # The background task ran after the response: its call started after the span ended.
    assert max(c.start_ns for c in clients) >= chain.end_ns
    callers = {c.span_id for c in clients}  # the downstream serves every test of the module
    remote = receiver.wait_for_spans(service=downstream_service, predicate=lambda found: len(
        [s for s in found if s.parent_span_id in callers]) >= 4)
    remote = [s for s in remote if s.parent_span_id in callers]
    assert len(remote) == 4 and all(s.trace_id == CHAIN_TRACE for s in remote)
    assert sorted(s.parent_span_id for s in remote) == sorted(callers)
    assert sorted(s.name for s in remote) == ["GET /echo-headers"] + ["GET /users/{user_id}"] * 3
    echoed = [s for s in remote if s.name == "GET /echo-headers"][0]
    assert echoed.attributes["http.route"] == "/echo-headers"
    # What the downstream received: this trace, and the incoming request's baggage.
    assert body["echoed"]["traceparent"] == "00-%s-%s-01" % (CHAIN_TRACE, echoed.parent_span_id)
    assert body["echoed"]["baggage"] == "tenant=acme"
    # The background task's log record belongs to the request's span.
    logs = receiver.wait_for_logs(service=chain.resource["service.name"],
                                  predicate=lambda found: any("background task" in str(r.body) for r in found))
    (record,) = [r for r in logs if "background task" in str(r.body)]
    assert (record.trace_id, record.span_id) == (chain.trace_id, chain.span_id)


def test_uvicorn_workers(receiver, service_name, downstream):
    port = free_port()
    server, spans, pids = serve(receiver, service_name, otel_run(*uvicorn(port, "--workers", "2")), port,
                                 downstream)
    assert {s.resource["process.pid"] for s in spans} <= pids and server.pid not in pids


@pytest.mark.parametrize("preload", [False, True], ids=["fork", "preload"])
def test_gunicorn_uvicorn_workers(receiver, service_name, downstream, preload):
    port = free_port()
    command = otel_run(*gunicorn(port, *(["--preload"] if preload else [])))
    server, spans, pids = serve(receiver, service_name, command, port, downstream)
    assert {s.resource["process.pid"] for s in spans} <= pids and server.pid not in pids


def test_uvicorn_reload_flushes_the_replaced_server(receiver, service_name, downstream, tmp_path):
    """--reload serves from a child process; a reload replaces it: the old child flushes
    at exit, the new one serves and flushes when the server stops."""
    port = free_port()
    watched = tmp_path / "watched.py"
    watched.write_text("x = 1\n")
    command = otel_run(*uvicorn(port, "--reload", "--reload-dir", tmp_path))
    env = agent_env(receiver, service_name, DOWNSTREAM_URL=downstream[0].url, **LATE)
    with Server(command, env=env, cwd=APP, port=port) as server:
        answers = [int(http_get(server.url + "/pid")[2])]
        watched.write_text("x = 2\n")
        deadline = time.monotonic() + 30
        while answers[-1] == answers[0] and time.monotonic() < deadline:
            try:
                answers.append(int(http_get(server.url + "/pid", timeout=2)[2]))
            except (OSError, ValueError):
                time.sleep(0.1)  # between the old child and the new one
        first, second = answers[0], answers[-1]
        assert second != first, "no reload"
        # The old child flushed when it was replaced, before the server stops.
        old = receiver.wait_for_spans(service=service_name, count=answers.count(first))
        assert [s.resource["process.pid"] for s in old] == [first] * answers.count(first)
        http_get(server.url + "/users/3")
    assert server.returncode == 0
    spans = receiver.wait_for_spans(service=service_name, count=len(answers) + 1)
    assert len(spans) == len(answers) + 1 and len({s.span_id for s in spans}) == len(spans)
    assert {s.resource["process.pid"] for s in spans} == {first, second}
    (user,) = [s for s in spans if s.name == "GET /users/{user_id}"]
    assert user.resource["process.pid"] == second


@pytest.fixture(scope="module")
def uninstrumented():
    port = free_port()
    with Server(uvicorn(port), env=base_env(PATH=BIN + os.pathsep + os.environ["PATH"]), cwd=APP,
                port=port) as server:
        yield server


COMPARED = [("GET", "/"), ("GET", "/users/7?token=x"), ("GET", "/users/x"), ("GET", "/error"), ("GET", "/nope"),
            ("GET", "/stream"), ("GET", "/slow-stream?delay=0.01"), ("GET", "/events?count=3"), ("POST", "/echo"),
            ("HEAD", "/"), ("GET", "/health"), ("GET", "/openapi.json")]


def test_responses_are_identical_to_an_uninstrumented_run(receiver, service_name, uninstrumented):
    port = free_port()
    env = agent_env(receiver, service_name, OTEL_PYTHON_FASTAPI_EXCLUDED_URLS="/health$", **web.CAPTURE_ENV)
    with Server(otel_run(*uvicorn(port)), env=env, cwd=APP, port=port) as server:
        web.assert_same_responses(uninstrumented.url, server.url, COMPARED)
        spans = receiver.wait_for_spans(count=len(COMPARED) - 1, service=service_name)
    assert len(spans) == len(COMPARED) - 1  # every request but the excluded one
    assert {"GET /openapi.json", "HEAD /", "GET /users/{user_id}"} <= {s.name for s in spans}


EARLY = """
import fastapi
from otel_autoinstrument.agent.startup import start
start()
from fastapi.testclient import TestClient
app = fastapi.FastAPI()
app.get("/items/{item_id}")(lambda item_id: {"id": item_id})
print(TestClient(app).get("/items/3").text)
"""


def test_fastapi_imported_before_the_agent(receiver, service_name, tmp_path):
    """As documented: the warning names it, and its apps are traced all the same (the
    stack is built at the first request, after the classes were patched)."""
    # ``python -c`` outside the repository, so the installed agent is the one imported.
    result = run([PYTHON, "-c", EARLY], env=agent_env(receiver, service_name, AUTOINSTRUMENT_STRICT="0"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"id":"3"}\n'
    (warning,) = [line for line in result.stderr.splitlines() if "imported before the agent started" in line]
    assert "fastapi" in warning and "starlette.applications" in warning
    spans = receiver.wait_for_spans(count=2, service=service_name)
    (server,) = [s for s in spans if s.kind == "SERVER"]
    (client,) = [s for s in spans if s.kind == "CLIENT"]  # the test client is httpx
    assert server.name == "GET /items/{item_id}" and server.parent_span_id == client.span_id


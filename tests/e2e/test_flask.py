"""Flask under otel-run: gunicorn (2 sync workers, with and without --preload),
``python app.py`` and ``flask run``, with no change to the application.

Each server gets the whole scenario of ``support.web`` (names, attributes, parent
links, baggage, header capture, errors, 404s, excluded URLs, streaming, one span per
request), checked after the server has stopped, so spans flushed at worker exit count
and nothing can arrive late. Responses must match an uninstrumented gunicorn's.
"""

import os

import pytest

from support import web
from support.agent import BIN, agent_env, otel_run
from support.processes import APPS_DIR, PYTHON, Server, base_env, free_port, http_request

FLASK_APP = APPS_DIR / "flask_app"
ROUTES = web.Routes(
    user="/users/7", user_route="/users/<int:user_id>",
    error="/error", error_route="/error",
    missing="/nope", health="/health", root_route="/",
    stream="/stream", stream_route="/stream",
    slow_stream="/slow-stream", slow_stream_route="/slow-stream",
    file="/file", file_route="/file",
    upstream="/upstream", upstream_route="/upstream",
    extra="/echo", extra_route="/echo", extra_method="POST",
    error_log="Exception on /error [GET]",
)


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server.url


def gunicorn(port, *options):
    return [os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "2", "-b", "127.0.0.1:%d" % port,
            *options, "app:app"]


def serve_scenario(receiver, service, command, env, port, upstream, flushed_at_exit=True):
    server = Server(command, env=env, cwd=FLASK_APP, port=port)
    spans, named, _ = web.serve_scenario(receiver, service, server, ROUTES, upstream, flushed_at_exit)
    return server, spans, named


@pytest.mark.parametrize("preload", [False, True], ids=["fork", "preload"])
def test_gunicorn_workers(receiver, service_name, upstream, preload):
    port = free_port()
    env = agent_env(receiver, service_name, UPSTREAM_URL=upstream,
                    OTEL_PYTHON_FLASK_EXCLUDED_URLS="/health$", **web.CAPTURE_ENV)
    command = otel_run(*gunicorn(port, *(["--preload"] if preload else [])))
    server, spans, named = serve_scenario(receiver, service_name, command, env, port, upstream)
    # Spans come from both workers (the concurrent streams need two), none from the master.
    pids = {s.resource["process.pid"] for s in spans}
    assert len(pids) == 2 and server.pid not in pids
    (echo,) = named["POST /echo"]
    assert echo.attributes["http.request.method"] == "POST"
    assert echo.scope_name == "otel_autoinstrument.flask"


@pytest.mark.parametrize("how", ["python app.py", "flask run"])
def test_development_servers(receiver, service_name, upstream, how):
    port = free_port()
    env = agent_env(receiver, service_name, UPSTREAM_URL=upstream, PORT=port,
                    OTEL_PYTHON_EXCLUDED_URLS="/health", **web.CAPTURE_ENV)
    if how == "python app.py":
        command = otel_run("python", "app.py")
    else:
        command = otel_run("flask", "--app", "app", "run", "--host", "127.0.0.1", "--port", port)
    server, spans, _ = serve_scenario(receiver, service_name, command, env, port, upstream,
                                      flushed_at_exit=False)
    assert {s.resource["process.pid"] for s in spans} == {server.pid}


@pytest.fixture(scope="module")
def uninstrumented():
    port = free_port()
    with Server(gunicorn(port), env=base_env(PATH=BIN + os.pathsep + os.environ["PATH"]),
                cwd=FLASK_APP, port=port) as server:
        yield server


COMPARED = [("GET", "/"), ("GET", "/users/7?token=x"), ("GET", "/error"), ("GET", "/nope"),
            ("GET", "/stream"), ("GET", "/slow-stream?delay=0.01"), ("GET", "/file"),
            ("POST", "/echo"), ("HEAD", "/"), ("GET", "/health")]


def test_responses_are_identical_to_an_uninstrumented_run(receiver, service_name, uninstrumented):
    port = free_port()
    env = agent_env(receiver, service_name, OTEL_PYTHON_FLASK_EXCLUDED_URLS="/health$", **web.CAPTURE_ENV)
    with Server(otel_run(*gunicorn(port)), env=env, cwd=FLASK_APP, port=port) as server:
        web.assert_same_responses(uninstrumented.url, server.url, COMPARED)
    spans = receiver.wait_for_spans(count=len(COMPARED) - 1, service=service_name)
    assert len(spans) == len(COMPARED) - 1  # every request but the excluded one


def test_apps_made_before_instrumenting_and_subclasses_are_covered():
    """In-process: the class is patched where the methods are defined, never swapped."""
    import flask

    from otel_autoinstrument.instrumentors.flask import FlaskInstrumentor
    from otel_autoinstrument.testing import InMemoryAgent

    flask_class = flask.Flask

    class Custom(flask.Flask):
        pass

    before = flask.Flask("before")
    before.add_url_rule("/items/<int:item_id>", "item", lambda item_id: "item")
    before.add_url_rule("/fail", "fail", lambda: 1 / 0)
    with InMemoryAgent() as memory:
        memory.instrument(FlaskInstrumentor())
        assert flask.Flask is flask_class
        after = Custom("after")
        after.add_url_rule("/", "index", lambda: "index")
        # The span ends when the body is closed: the test client leaves that to the caller.
        with before.test_client().get("/items/3") as response:
            assert response.data == b"item"
        with after.test_client().get("/") as response:
            assert response.data == b"index"
        # Testing mode propagates the exception out of wsgi_app: recorded once, span ended.
        before.testing = True
        with pytest.raises(ZeroDivisionError):
            before.test_client().get("/fail")
    assert [s.name for s in memory.spans] == ["GET /items/<int:item_id>", "GET /", "GET /fail"]
    failed = memory.spans[2]
    assert failed.status_code == 2 and failed.attributes["error.type"] == "ZeroDivisionError"
    assert [e.name for e in failed.events] == ["exception"]
    before.testing = False
    with before.test_client().get("/items/4") as response:  # uninstrumented again
        assert response.data == b"item"
    assert len(memory.spans) == 3

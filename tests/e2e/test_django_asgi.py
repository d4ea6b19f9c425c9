"""Django served by uvicorn (ASGI) under otel-run, with no change to the project: async
views (one calling another service with httpx, one raising), sync views run by Django
in its thread (the ORM view: its statements are children of the request span; the
requests view: exactly one client span, none from urllib3 underneath), routes named
by Django's resolver, errors recorded once, a streamed body inside its span."""

import os

import pytest

from support import web
from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, Server, base_env, free_port, http_get, http_request, run

PROJECT = APPS_DIR / "django_project"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("django-asgi") / "db.sqlite3")
    result = run([PYTHON, "manage.py", "migrate", "-v0"], cwd=PROJECT, env=base_env(APP_DB_PATH=path))
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server.url


REQUESTS = [("async_user", "/async/users/7/"), ("db", "/db/"), ("async_error", "/async/error/"),
            ("error", "/error/"), ("missing", "/nope/"), ("health", "/health/"),
            ("slow", "/slow-stream/?delay=0.1"), ("upstream", "/upstream/?path=/status/200")]


def test_django_under_uvicorn(receiver, service_name, database, upstream):
    port = free_port()
    env = agent_env(receiver, service_name, APP_DB_PATH=database, DJANGO_SETTINGS_MODULE="mysite.settings",
                    UPSTREAM_URL=upstream, OTEL_PYTHON_DJANGO_EXCLUDED_URLS="/health/$", **web.CAPTURE_ENV)
    command = otel_run(os.path.join(BIN, "uvicorn"), "mysite.asgi:application", "--port", port, "--no-access-log")
    with Server(command, env=env, cwd=PROJECT, port=port) as server:
        responses = {name: http_request("GET", server.url + path, headers=web.CLIENT_HEADERS if name == "async_user"
                                        else None) for name, path in REQUESTS}
        statuses = {name: r[0] for name, r in responses.items()}
        assert statuses == {"async_user": 200, "db": 200, "async_error": 500, "error": 500, "missing": 404,
                            "health": 200, "slow": 200, "upstream": 200}, responses
        assert responses["async_user"][2] == b'{"id": 7, "upstream": 200}'
        assert responses["slow"][2] == b"abc"
        spans = receiver.wait_for_spans(service=service_name, predicate=lambda found: len(
            [s for s in found if s.kind == "SERVER"]) >= len(REQUESTS) - 1 and len(
            [s for s in found if s.scope_name.endswith(("httpx", "requests"))]) >= 2)
        logs = receiver.wait_for_logs(service=service_name, predicate=lambda records: any(
            "Internal Server Error: /async/error/" in str(r.body) for r in records))
    server_spans = [s for s in spans if s.kind == "SERVER"]
    named = web.by_name(server_spans)
    assert sorted(named) == sorted(["GET async/users/<int:pk>/", "GET db/", "GET async/error/", "GET error/", "GET",
                                    "GET slow-stream/", "GET upstream/"])
    assert all(len(found) == 1 and found[0].scope_name == "otel_autoinstrument.django" for found in named.values())

    (user,) = named["GET async/users/<int:pk>/"]
    assert (user.trace_id, user.parent_span_id) == (web.TRACE_ID, web.CLIENT_SPAN_ID)
    assert user.attributes["http.route"] == "async/users/<int:pk>/"
    assert user.attributes["http.request.header.x-request-id"] == ["req-42"]
    assert user.attributes["http.request.header.authorization"] == ["[REDACTED]"]
    assert user.attributes["http.response.header.content-type"] == ["application/json"]
    (fetch,) = [s for s in spans if s.scope_name == "otel_autoinstrument.httpx"]
    assert (fetch.kind, fetch.parent_span_id, fetch.trace_id) == ("CLIENT", user.span_id, web.TRACE_ID)

    (db,) = named["GET db/"]
    queries = [s for s in spans if "db.system.name" in s.attributes and s.trace_id == db.trace_id]
    assert len(queries) >= 2 and all(q.parent_span_id == db.span_id for q in queries)

    for name, message in (("GET async/error/", "async boom"), ("GET error/", "boom")):
        (failed,) = named[name]
        assert failed.status_code == "ERROR" and failed.attributes["error.type"] == "RuntimeError"
        assert failed.attributes["http.response.status_code"] == 500
        (event,) = [e for e in failed.events if e.name == "exception"]
        assert event.attributes["exception.message"] == message
    web.check_log_in_span(logs, "Internal Server Error: /async/error/", named["GET async/error/"][0])

    (missing,) = named["GET"]
    assert missing.attributes["http.response.status_code"] == 404 and "http.route" not in missing.attributes
    (slow,) = named["GET slow-stream/"]
    assert slow.end_ns - slow.start_ns >= 0.2e9
    (proxied,) = named["GET upstream/"]
    clients = [s for s in spans if s.kind == "CLIENT" and s.trace_id == proxied.trace_id]
    assert [(c.scope_name, c.parent_span_id) for c in clients] == [("otel_autoinstrument.requests", proxied.span_id)]

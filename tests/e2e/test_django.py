"""Django under otel-run: gunicorn (2 sync workers, with and without --preload, the
settings module found only through DJANGO_SETTINGS_MODULE) and ``manage.py runserver``
with its autoreloader, with no change to the project.

Each server gets the whole scenario of ``support.web``, plus the admin login page.
Management commands that do not serve make no request spans and no errors.
Responses must match an uninstrumented gunicorn's.
"""

import os

import pytest

from support import web
from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, Server, base_env, free_port, http_get, http_request, run

PROJECT = APPS_DIR / "django_project"
ROUTES = web.Routes(
    user="/users/7/", user_route="users/<int:pk>/",
    error="/error/", error_route="error/",
    missing="/nope/", health="/health/", root_route="/",
    stream="/stream/", stream_route="stream/",
    slow_stream="/slow-stream/", slow_stream_route="slow-stream/",
    file="/file/", file_route="file/",
    upstream="/upstream/", upstream_route="upstream/",
    extra="/admin/login/", extra_route="admin/login/",
    error_log="Internal Server Error: /error/",
    missing_log="Not Found: /nope/",
)


def migrate(db_path):
    result = run([PYTHON, "manage.py", "migrate", "-v0"], cwd=PROJECT, env=base_env(APP_DB_PATH=db_path))
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("django") / "db.sqlite3")
    migrate(path)
    return path


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server.url


def project_env(receiver, service, database, upstream=None, **extra):
    env = agent_env(receiver, service, APP_DB_PATH=database, DJANGO_SETTINGS_MODULE="mysite.settings",
                    **web.CAPTURE_ENV, **extra)
    if upstream:
        env["UPSTREAM_URL"] = upstream
    return env


def gunicorn(port, *options, app="mysite.wsgi"):
    return [os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "2", "-b", "127.0.0.1:%d" % port,
            *options, app]


def check_admin_login(named, outcome):
    status, _, body = outcome.responses["extra"]
    assert status == 200 and b'name="username"' in body and b'name="password"' in body
    (login,) = named["GET admin/login/"]
    assert login.attributes["http.route"] == "admin/login/"
    assert login.attributes["http.response.status_code"] == 200
    # The CSRF cookie is set on this page; its value never reaches a span.
    assert login.attributes["http.response.header.set-cookie"] == ["[REDACTED]"]
    assert login.attributes["http.response.header.content-type"] == ["text/html; charset=utf-8"]


@pytest.mark.parametrize("preload, app", [
    (False, "mysite.wsgi"),
    # The settings module known only from the environment, Django set up by the factory.
    (True, "django.core.wsgi:get_wsgi_application()"),
], ids=["fork", "preload-factory"])
def test_gunicorn_workers(receiver, service_name, database, upstream, preload, app):
    port = free_port()
    env = project_env(receiver, service_name, database, upstream,
                      OTEL_PYTHON_DJANGO_EXCLUDED_URLS="/health/$")
    command = otel_run(*gunicorn(port, *(["--preload"] if preload else []), app=app))
    server = Server(command, env=env, cwd=PROJECT, port=port)
    spans, named, outcome = web.serve_scenario(receiver, service_name, server, ROUTES, upstream)
    pids = {s.resource["process.pid"] for s in spans}
    assert len(pids) == 2 and server.pid not in pids
    check_admin_login(named, outcome)
    assert all(s.scope_name == "otel_autoinstrument.django" for s in spans if s.kind == "SERVER")


def test_runserver_with_autoreloader(receiver, service_name, database, upstream):
    port = free_port()
    env = project_env(receiver, service_name, database, upstream, OTEL_PYTHON_EXCLUDED_URLS="/health/")
    command = otel_run("python", "manage.py", "runserver", "127.0.0.1:%d" % port)
    server = Server(command, env=env, cwd=PROJECT, port=port)
    spans, named, outcome = web.serve_scenario(receiver, service_name, server, ROUTES, upstream,
                                               flushed_at_exit=False)
    # Served by the reloader's child process, which the agent instrumented too.
    pids = {s.resource["process.pid"] for s in spans}
    assert len(pids) == 1 and server.pid not in pids
    check_admin_login(named, outcome)


def test_management_commands_make_no_request_spans(receiver, service_name, tmp_path):
    db = str(tmp_path / "fresh.sqlite3")
    env = project_env(receiver, service_name, db)
    for command in (["migrate", "-v0"], ["check"]):
        result = run(otel_run("python", "manage.py", *command), env=env, cwd=PROJECT)
        assert result.returncode == 0, result.stderr
        assert "otel-autoinstrument" not in result.stderr, result.stderr
    # The agent flushed at each exit, so what the commands produced has arrived: the
    # migrations' database statements (the agent was on), and no request span.
    spans = receiver.spans(service=service_name)
    assert spans and all(s.kind == "CLIENT" and s.attributes["db.system.name"] == "sqlite" for s in spans)


@pytest.fixture(scope="module")
def uninstrumented(database):
    port = free_port()
    env = base_env(PATH=BIN + os.pathsep + os.environ["PATH"], APP_DB_PATH=database,
                   DJANGO_SETTINGS_MODULE="mysite.settings")
    with Server(gunicorn(port), env=env, cwd=PROJECT, port=port) as server:
        yield server


COMPARED = ["/", "/users/7/?token=x", "/error/", "/nope/", "/nope", "/stream/", "/slow-stream/?delay=0.01",
            "/file/", "/db/", "/health/", "/admin/"]


def test_responses_are_identical_to_an_uninstrumented_run(receiver, service_name, database, uninstrumented):
    port = free_port()
    env = project_env(receiver, service_name, database, OTEL_PYTHON_DJANGO_EXCLUDED_URLS="/health/$")
    with Server(otel_run(*gunicorn(port)), env=env, cwd=PROJECT, port=port) as server:
        for path in COMPARED:
            plain = http_get(uninstrumented.url + path, headers=web.CLIENT_HEADERS, follow_redirects=False)
            traced = http_get(server.url + path, headers=web.CLIENT_HEADERS, follow_redirects=False)
            assert web.comparable(traced) == web.comparable(plain), path
        head = [http_request("HEAD", base + "/") for base in (uninstrumented.url, server.url)]
        assert web.comparable(head[0]) == web.comparable(head[1])
    # Every request but the excluded one, plus the HEAD; and the ORM's statements under /db/.
    spans = receiver.wait_for_spans(service=service_name, predicate=lambda spans: len(
        [s for s in spans if s.kind == "SERVER"]) >= len(COMPARED))
    server_spans = [s for s in spans if s.kind == "SERVER"]
    assert len(server_spans) == len(COMPARED)
    names = {s.name for s in server_spans}
    assert {"GET admin/", "GET db/", "GET", "HEAD /"} <= names
    (db,) = [s for s in server_spans if s.name == "GET db/"]
    queries = [s for s in spans if s.kind == "CLIENT"]
    assert queries and all(q.parent_span_id == db.span_id and q.trace_id == db.trace_id for q in queries)


"""Django ORM queries under otel-run: CLIENT database spans, children of the request span,
through Django's own cursor wrapper (so DEBUG's CursorDebugWrapper adds no duplicate)."""

import pytest

from support.agent import PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, Server, base_env, free_port, http_get, run

PROJECT = APPS_DIR / "django_project"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("django-db") / "db.sqlite3")
    result = run([PYTHON, "manage.py", "migrate", "--noinput"], env=base_env(APP_DB_PATH=path), cwd=PROJECT,
                 timeout=120)
    assert result.returncode == 0, result.stderr
    return path


@pytest.mark.parametrize("debug", ["0", "1"], ids=["debug-off", "debug-on"])
def test_orm_queries_are_client_children_of_the_request(debug, database, receiver, service_name):
    port = free_port()
    command = otel_run("gunicorn", "--no-control-socket", "-w", "1", "-b", "127.0.0.1:%d" % port,
                       "mysite.wsgi")
    env = agent_env(receiver, service_name, APP_DB_PATH=database, DJANGO_DEBUG=debug)
    with Server(command, env=env, cwd=PROJECT, port=port):
        status, _, body = http_get("http://127.0.0.1:%d/db/" % port)
        assert (status, body) == (200, b"0")
        ok_spans = receiver.wait_for_spans(count=3, service=service_name)
        status, _, _ = http_get("http://127.0.0.1:%d/db-error/" % port)
        assert status == 500
        spans = receiver.wait_for_spans(count=5, service=service_name)

    servers = [s for s in spans if s.kind == "SERVER"]
    assert len(servers) == 2, [str(s) for s in spans]
    ok = next(s for s in servers if s.attributes.get("url.path") == "/db/")
    failing = next(s for s in servers if s.attributes.get("url.path") == "/db-error/")

    queries = [s for s in spans if s.parent_span_id == ok.span_id]
    assert [s.name for s in queries] == ["SELECT shop_item", "SELECT shop_item"], [str(s) for s in ok_spans]
    for query in queries:
        assert query.kind == "CLIENT" and query.trace_id == ok.trace_id
        assert query.scope_name == "otel_autoinstrument.django"
        assert query.attributes["db.system.name"] == "sqlite"
        assert query.attributes["db.namespace"] == database
        assert query.attributes["db.operation.name"] == "SELECT"
        assert query.attributes["db.collection.name"] == "shop_item"
        assert query.status_code == "UNSET"
    count, first = (q.attributes["db.query.text"] for q in queries)
    assert count == 'SELECT COUNT(*) AS "__count" FROM "shop_item"'
    assert first.startswith('SELECT "shop_item"."id", "shop_item"."name"')
    assert 'WHERE "shop_item"."name" = %s' in first and "LIMIT ?" in first

    (error,) = [s for s in spans if s.parent_span_id == failing.span_id]
    assert error.kind == "CLIENT" and error.name == "SELECT missing_table"
    assert error.status_code == "ERROR"
    assert error.attributes["error.type"] == "django.db.utils.OperationalError"
    assert error.attributes["db.query.text"] == "SELECT name FROM missing_table WHERE name = %s"
    assert [e.name for e in error.events] == ["exception"]
    assert "no such table: missing_table" in error.events[0].attributes["exception.message"]
    assert failing.status_code == "ERROR"
    for span in spans:
        assert not any("param-secret" in repr(v) for v in span.attributes.values())

"""psycopg 3 and psycopg2 under otel-run on a real PostgreSQL: one CLIENT span per
statement (sync, async, executemany, named cursors, COPY, composed SQL, a pool shared by
two "requests"), exactly one span per statement under SQLAlchemy, errors scrubbed, the
password never exported nor logged, the SQL commenter where it is allowed.
"""

import json
import uuid
from collections import Counter

import pytest

from support.agent import PYTHON, agent_env, otel_run
from support.processes import TESTS_DIR, base_env, run
from support.servers import PG_PASSWORD

SCRIPT = TESTS_DIR / "scripts" / "postgres_app.py"


def _run(postgres, env, table):
    env = dict(env, PG_DSN=postgres.dsn(), PG_URL=postgres.url(), PG_TABLE=table)
    result = run(otel_run(PYTHON, SCRIPT) if "OTEL_SERVICE_NAME" in env else [PYTHON, SCRIPT], env=env, timeout=90)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result


def _table():
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def traced(postgres, receiver):
    """The script run once under otel-run: (what it saw, its spans, its output)."""
    service = "postgres-" + uuid.uuid4().hex[:6]
    seen, result = _run(postgres, agent_env(receiver, service), _table())
    spans = receiver.wait_for_spans(service=service, predicate=lambda s: any(x.name == "sqlalchemy-async" for x in s))
    return seen, spans, result


def _children(spans, step_name):
    (step,) = [s for s in spans if s.name == step_name and s.kind == "INTERNAL"]
    return [s for s in spans if s.parent_span_id == step.span_id and s.trace_id == step.trace_id]


def _app_statement(spans, step_name):
    """The spans of the step's own statements (not SQLAlchemy's first-connect queries)."""
    return [s for s in _children(spans, step_name) if s.attributes.get("db.collection.name", "").endswith("_users")]


def test_results_identical_to_an_uninstrumented_run(traced, postgres):
    plain, _ = _run(postgres, base_env(), _table())
    assert traced[0] == plain


def test_psycopg_statements(traced, postgres):
    _, spans, _ = traced
    children = _children(spans, "psycopg")
    assert all(s.kind == "CLIENT" and s.scope_name == "otel_autoinstrument.psycopg" for s in children)
    for s in children:
        assert s.attributes["db.system.name"] == "postgresql"
        assert s.attributes["db.namespace"] == "appdb"
        assert s.attributes["server.address"] == "127.0.0.1"
        assert s.attributes["server.port"] == postgres.port
    texts = [s.attributes["db.query.text"] for s in children]
    table = texts[0].split()[2]
    assert [s.name for s in children] == [
        "CREATE " + table, "INSERT " + table, "INSERT " + table, "SELECT " + table, "SELECT " + table,
        "COPY " + table, "COPY"]
    assert texts[1] == "INSERT INTO %s (name, age) VALUES (?, ?)" % table  # literals gone
    many = children[2]
    assert many.attributes["db.operation.batch.size"] == 3
    assert many.attributes["db.query.text"] == "INSERT INTO %s (name, age) VALUES (%%s, %%s)" % table
    assert texts[3] == 'SELECT name FROM "%s" WHERE age > ?' % table  # composed SQL, rendered then sanitized
    assert texts[4] == "SELECT id FROM %s WHERE age > %%s ORDER BY id" % table  # the named cursor's query
    assert texts[5:] == ["COPY %s (name, age) FROM STDIN" % table, "COPY (SELECT name FROM %s ORDER BY id) TO STDOUT" % table]
    for s in children:
        assert s.attributes["db.operation.name"] == s.name.split()[0]
    assert "secret" not in json.dumps([s.attributes for s in spans])


def test_psycopg_error_is_recorded_scrubbed(traced):
    _, spans, _ = traced
    (failed,) = _children(spans, "psycopg-error")
    assert failed.status_code == "ERROR"
    assert failed.attributes["error.type"] == "psycopg.errors.UndefinedColumn"
    assert failed.attributes["db.query.text"].endswith("WHERE name = ? AND nosuchcol = ?")
    (event,) = failed.events
    assert "does not exist" in event.attributes["exception.message"]
    # PostgreSQL quotes the statement in its message: the literal must not be exported.
    assert "literal-secret-zed" not in json.dumps([failed.attributes, event.attributes, failed.status_message])


def test_async_psycopg(traced):
    _, spans, _ = traced
    children = _children(spans, "async")
    assert [s.attributes["db.operation.name"] for s in children] == ["SELECT", "UPDATE", "COPY", "SELECT"]
    assert children[1].attributes["db.operation.batch.size"] == 2
    assert children[2].attributes["db.query.text"].startswith("COPY ")
    assert all(s.scope_name == "otel_autoinstrument.psycopg" for s in children)


def test_pooled_connection_spans_follow_the_request_that_borrowed_it(traced):
    _, spans, _ = traced
    first, second = _children(spans, "request-1"), _children(spans, "request-2")
    assert len(first) == 1 and len(second) == 1
    assert first[0].trace_id != second[0].trace_id  # each request its own trace


def test_psycopg2_statements(traced):
    seen, spans, _ = traced
    children = _children(spans, "psycopg2")
    assert all(s.scope_name == "otel_autoinstrument.psycopg2" for s in children)
    ops = [s.attributes["db.operation.name"] for s in children]
    assert ops == ["SELECT", "INSERT", "COPY", "SELECT", "SELECT", "INSERT", "SELECT"]
    assert children[1].attributes["db.operation.batch.size"] == 2
    assert children[3].attributes["db.query.text"].endswith("WHERE name = ?")  # RealDictCursor traced too
    failed = children[5]
    assert failed.status_code == "ERROR" and failed.attributes["error.type"] == "psycopg2.errors.UniqueViolation"
    assert seen["cursor_is_dict"] and seen["p2conn"]
    # RealDictConnection's own cursor class: its rows, traced.
    assert seen["dict_connection_row"] == {"name": "p2-a"}
    assert seen["dict_connection_cursor"] and seen["dict_connection"]
    assert children[6].attributes["db.query.text"].endswith("WHERE name = ?")


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_one_span_per_statement_under_sqlalchemy(traced, driver):
    _, spans, _ = traced
    (statement,) = _app_statement(spans, "sqlalchemy-" + driver)
    assert statement.scope_name == "otel_autoinstrument.sqlalchemy"  # the ORM layer owns it
    # Statements SQLAlchemy sends outside its execution events (first connect) are the driver's.
    others = [s for s in _children(spans, "sqlalchemy-" + driver) if s is not statement]
    assert others and all(s.scope_name == "otel_autoinstrument." + driver for s in others)


def test_one_span_per_statement_under_async_sqlalchemy(traced):
    _, spans, _ = traced
    (statement,) = _app_statement(spans, "sqlalchemy-async")
    assert statement.scope_name == "otel_autoinstrument.sqlalchemy"


def test_every_statement_is_in_the_duration_metric_once(traced, receiver):
    """One db.client.operation.duration measurement per CLIENT span (all sampled here):
    a statement under an ORM is measured by the layer that owns its span, never twice."""
    _, spans, _ = traced
    service = spans[0].resource["service.name"]
    keys = ("db.system.name", "db.operation.name", "db.collection.name", "error.type")
    expected = Counter(tuple(s.attributes.get(k) for k in keys) for s in spans if s.kind == "CLIENT")
    measured = Counter()
    for point in receiver.final_metric_points(service, "db.client.operation.duration"):
        measured[tuple(point.attributes.get(k) for k in keys)] += point.count
        assert "db.query.text" not in point.attributes
    assert measured == expected


def test_password_never_exported_nor_logged(traced, receiver):
    _, _, result = traced
    assert PG_PASSWORD not in result.stdout + result.stderr
    for request in receiver.requests:
        assert PG_PASSWORD.encode() not in request.body


def test_connection_failure_keeps_the_password_secret(postgres, receiver, service_name):
    code = ("import psycopg, psycopg2\n"
            "for connect in (psycopg.connect, psycopg2.connect):\n"
            "    try:\n"
            "        connect(%r, connect_timeout=5)\n"
            "    except Exception as exc:\n"
            "        print(type(exc).__name__)\n") % postgres.dsn(password="wrong-" + PG_PASSWORD)
    env = agent_env(receiver, service_name, OTEL_LOG_LEVEL="debug")
    result = run(otel_run(PYTHON, "-c", code), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["OperationalError", "OperationalError"]
    assert PG_PASSWORD not in result.stdout + result.stderr
    for request in receiver.requests:
        assert PG_PASSWORD.encode() not in request.body


def test_sql_commenter(postgres, receiver, service_name):
    """Enabled: the traceparent of the statement's span reaches PostgreSQL (seen in
    pg_stat_activity by the statement itself), except where psycopg would prepare it."""
    code = '''
import json, os, psycopg, psycopg2
dsn = os.environ["PG_DSN"]
q = "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()"
seen = {}
# autocommit: pg_stat_activity is read once per transaction
with psycopg.connect(dsn, prepare_threshold=None, autocommit=True) as conn:
    seen["unprepared"] = conn.execute(q).fetchone()[0]
with psycopg.connect(dsn, autocommit=True) as conn:
    seen["preparable"] = conn.execute(q).fetchone()[0]
    seen["prepare_false"] = conn.execute(q, prepare=False).fetchone()[0]
    with psycopg.ClientCursor(conn) as cur:
        seen["client_cursor"] = cur.execute(q).fetchone()[0]
with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
    cur.execute(q)
    seen["psycopg2"] = cur.fetchone()[0]
print(json.dumps(seen))
'''
    env = agent_env(receiver, service_name, PG_DSN=postgres.dsn(), OTEL_PYTHON_DB_SQLCOMMENTER="true")
    result = run(otel_run(PYTHON, "-c", code), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    spans = receiver.wait_for_spans(count=5, service=service_name)
    span_ids = {s.span_id for s in spans}
    for key in ("unprepared", "prepare_false", "client_cursor", "psycopg2"):
        head, _, comment = seen[key].partition(" /*traceparent='00-")
        assert head == "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()", seen[key]
        assert comment, (key, seen)
        trace_id, span_id, flags = comment.rstrip("'*/").split("-")
        assert span_id in span_ids and flags == "01"
    assert "traceparent" not in seen["preparable"]  # psycopg would prepare it by its text
    assert all("traceparent" not in s.attributes["db.query.text"] for s in spans)


def test_one_span_per_statement_under_the_django_orm(postgres, receiver, service_name):
    """Django on PostgreSQL (psycopg 3): the ORM's statements are Django's spans only."""
    code = '''
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from otel_autoinstrument import get_tracer
from shop.models import Item
call_command("migrate", "shop", verbosity=0)
connection.close()
with get_tracer("django-script").start_as_current_span("orm"):
    Item.objects.create(name="param-secret-thing")
    print(Item.objects.filter(name__startswith="param").count())
'''
    env = agent_env(receiver, service_name, APP_PG_DSN=postgres.dsn(), DJANGO_SETTINGS_MODULE="mysite.settings",
                    PYTHONPATH=str(TESTS_DIR / "apps" / "django_project"))
    result = run(otel_run(PYTHON, "-c", code), env=env, timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] != "0"
    spans = receiver.wait_for_spans(service=service_name, predicate=lambda s: any(x.name == "orm" for x in s))
    children = _children(spans, "orm")
    orm = [s for s in children if s.attributes.get("db.collection.name") == "shop_item"]
    assert [s.attributes["db.operation.name"] for s in orm] == ["INSERT", "SELECT"]
    assert all(s.scope_name == "otel_autoinstrument.django" for s in orm)
    # The connection's set-up statements (Django runs them on the raw connection) are psycopg's.
    assert all(s.scope_name == "otel_autoinstrument.psycopg" for s in children if s not in orm)
    texts = [s.attributes["db.query.text"] for s in children]
    assert len(texts) == len(set(texts)), texts

"""SQLAlchemy under otel-run: one CLIENT span per statement, on SQLAlchemy 1.4, 2.0 and 2.1.

The venv has the newest SQLAlchemy (2.1); 1.4 and 2.0 are installed once from the
package registry into ``tests/.cache/sqlalchemy-<series>`` and put on PYTHONPATH,
which otel-run keeps after its bootstrap, so each series is really the one imported.
"""

import json
import os
import subprocess
import sys

import pytest

from support.agent import PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, TESTS_DIR, Server, free_port, http_get, run

SCRIPTS = TESTS_DIR / "scripts"
CACHE = TESTS_DIR / ".cache"
SERIES = ("1.4", "2.0", "2.1")
INSTALLED_SERIES = "2.1"  # the venv's own


@pytest.fixture(scope="session")
def sqlalchemy_paths():
    """series -> directory to put on PYTHONPATH ("" for the venv's own SQLAlchemy)."""
    import sqlalchemy

    assert sqlalchemy.__version__.startswith(INSTALLED_SERIES + ".")
    paths = {INSTALLED_SERIES: ""}
    for series in SERIES:
        if series == INSTALLED_SERIES:
            continue
        target = CACHE / ("sqlalchemy-" + series)
        if not (target / "sqlalchemy").is_dir():
            partial = CACHE / ("sqlalchemy-%s.partial-%d" % (series, os.getpid()))
            # --no-deps: greenlet and typing_extensions come from the venv.
            result = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-deps", "--target", str(partial), "sqlalchemy==%s.*" % series],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
            assert result.returncode == 0, result.stderr
            try:
                os.replace(str(partial), str(target))
            except OSError:  # another run got there first
                assert (target / "sqlalchemy").is_dir()
        paths[series] = str(target)
    return paths


def _env(receiver, service, path, db, **overrides):
    env = agent_env(receiver, service, SQLALCHEMY_TEST_DB=db, **overrides)
    if path:
        env["PYTHONPATH"] = path
    return env


def _by_step(spans):
    steps = {s.name: s for s in spans if s.kind == "INTERNAL"}
    children = {name: [s for s in spans if s.parent_span_id == step.span_id] for name, step in steps.items()}
    return steps, children


@pytest.mark.parametrize("series", SERIES)
def test_core_orm_errors_and_async(series, sqlalchemy_paths, receiver, service_name, tmp_path):
    db = str(tmp_path / "app.db")
    env = _env(receiver, service_name, sqlalchemy_paths[series], db)
    result = run(otel_run(PYTHON, SCRIPTS / "sqlalchemy_app.py"), env=env, cwd=SCRIPTS, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "STRICT" not in result.stderr, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["version"].startswith(series + "."), seen
    # The application saw SQLAlchemy's own exception, wrapping the DBAPI's.
    assert seen["failing"] == "sqlalchemy.exc.OperationalError"
    assert seen["failing_orig"] == "OperationalError"
    assert seen["core_rows"] == 1 and seen["orm_id"] == 1 and seen["async_count"] == 2

    spans = receiver.wait_for_spans(service=service_name, predicate=lambda s: any(x.name == "async" for x in s))
    steps, children = _by_step(spans)
    assert set(steps) == {"core", "orm", "failing", "long", "async"}
    clients = [s for s in spans if s.kind == "CLIENT"]
    # Every statement is a child of the span current when it ran, in its trace.
    assert sum(len(c) for c in children.values()) == len(clients)
    for name, step in steps.items():
        for child in children[name]:
            assert child.kind == "CLIENT" and child.trace_id == step.trace_id
            assert child.scope_name == "otel_autoinstrument.sqlalchemy"
            assert child.attributes["db.system.name"] == "sqlite"
            assert child.attributes["db.namespace"] == db
            assert "server.address" not in child.attributes  # not a networked database

    # Core: engine made at import time of a module, before this script's own code.
    core = {s.name for s in children["core"]}
    assert {"CREATE users", "INSERT users", "UPDATE users", "SELECT users"} <= core
    select = next(s for s in children["core"] if s.name == "SELECT users")
    assert select.attributes["db.query.text"] == "SELECT id, name FROM users WHERE name = ? OR id = ?"
    assert select.attributes["db.operation.name"] == "SELECT"
    assert select.attributes["db.collection.name"] == "users"
    update = next(s for s in children["core"] if s.name == "UPDATE users")
    assert update.attributes["db.query.text"] == "UPDATE users SET name=? WHERE users.id = ?"

    # ORM session on an engine made after every import.
    orm = [s.name for s in children["orm"]]
    assert {"CREATE items", "INSERT items", "SELECT items", "UPDATE items"} <= set(orm)
    assert orm.index("INSERT items") < orm.index("UPDATE items")

    (failed,) = children["failing"]
    assert failed.name == "SELECT missing_table"
    assert failed.status_code == "ERROR"
    assert failed.attributes["error.type"] == "sqlite3.OperationalError"
    (event,) = failed.events
    assert event.name == "exception"
    assert "no such table: missing_table" in event.attributes["exception.message"]

    (long,) = children["long"]
    assert long.attributes["db.query.text"] == "SELECT id FROM users WHERE name IN (?)"

    (async_select,) = children["async"]
    assert async_select.name == "SELECT users"

    # Bound parameters and literals never reach a span.
    for span in spans:
        texts = [repr(v) for v in span.attributes.values()] + [span.status_message]
        texts += [repr(v) for e in span.events for v in e.attributes.values()]
        assert not any("param-secret" in t or "literal-secret" in t for t in texts), str(span)


def test_raw_statements_when_sanitizing_is_off(sqlalchemy_paths, receiver, service_name, tmp_path):
    db = str(tmp_path / "app.db")
    env = _env(receiver, service_name, "", db, OTEL_PYTHON_DB_QUERY_SANITIZE="false",
               OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT=len(db) + 100)
    result = run(otel_run(PYTHON, SCRIPTS / "sqlalchemy_app.py"), env=env, cwd=SCRIPTS, timeout=60)
    assert result.returncode == 0, result.stderr
    spans = receiver.wait_for_spans(service=service_name, predicate=lambda s: any(x.name == "async" for x in s))
    steps, children = _by_step(spans)
    select = next(s for s in children["core"] if s.name == "SELECT users")
    assert select.attributes["db.query.text"] == (
        "SELECT id, name FROM users WHERE name = 'literal-secret-carol' OR id = 2")
    (long,) = children["long"]
    text = long.attributes["db.query.text"]
    assert len(text) == len(db) + 100
    assert text.startswith("SELECT id FROM users WHERE name IN ('literal-secret-000', ")
    # Bound parameters stay out even then.
    assert not any("param-secret" in repr(v) for s in spans for v in s.attributes.values())


@pytest.mark.parametrize("series", SERIES)
def test_engine_and_connection_made_before_the_agent_started(series, sqlalchemy_paths, receiver,
                                                             service_name, tmp_path):
    env = _env(receiver, service_name, sqlalchemy_paths[series], str(tmp_path / "late.db"))
    result = run([PYTHON, SCRIPTS / "sqlalchemy_late_agent.py"], env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["version"].startswith(series + ".")
    assert seen["open_connection"] == "open-connection" and seen["new_connection"] == "new-connection"
    # Nothing from before start(); both statements after it, on the connection that was
    # already open and on a new one.
    spans = receiver.wait_for_spans(count=2, service=service_name)
    assert sorted(s.attributes["db.query.text"] for s in spans) == ["SELECT ?", "SELECT ?, ?"]
    assert all(s.name == "SELECT" and s.kind == "CLIENT" for s in spans)


def test_flask_route_query_is_a_child_of_the_request(receiver, service_name):
    port = free_port()
    command = otel_run("gunicorn", "--no-control-socket", "-w", "1", "-b", "127.0.0.1:%d" % port, "app:app")
    with Server(command, env=agent_env(receiver, service_name), cwd=APPS_DIR / "flask_app", port=port):
        status, _, body = http_get("http://127.0.0.1:%d/db" % port)
        assert (status, body) == (200, b"1")
        spans = receiver.wait_for_spans(count=2, service=service_name)
    server = next(s for s in spans if s.kind == "SERVER")
    (query,) = [s for s in spans if s.kind == "CLIENT"]
    assert server.name == "GET /db"
    assert query.name == "SELECT"
    assert query.attributes["db.query.text"] == "SELECT ?"
    assert query.attributes["db.system.name"] == "sqlite"
    assert "db.namespace" not in query.attributes  # in-memory database
    assert query.parent_span_id == server.span_id and query.trace_id == server.trace_id

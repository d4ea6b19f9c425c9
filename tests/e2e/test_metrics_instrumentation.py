"""The built-in instrumentations' metrics, end to end: a Flask app (a route with an id,
an error, a 404, SQLAlchemy, requests to an upstream) under gunicorn with 2 workers,
with half of the traces sampled. Every request, statement and call is in the duration
histograms exactly once, sampled or not, with the semantic conventions' attributes,
never a raw path; exemplars name spans that were exported. And a Django app's ORM
statements in db.client.operation.duration.
"""

import os
from collections import Counter

import pytest

from support.agent import BIN, agent_env, otel_run
from support.processes import APPS_DIR, PYTHON, Server, free_port, http_get, run

FLASK_APP = APPS_DIR / "flask_app"


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server.url


def counts(points, *keys):
    found = Counter()
    for point in points:
        found[tuple(point.attributes.get(k) for k in keys)] += point.count
    return dict(found)


def test_flask_requests_statements_and_calls_are_counted_sampled_or_not(receiver, service_name, upstream):
    port = free_port()
    env = agent_env(receiver, service_name, UPSTREAM_URL=upstream, OTEL_TRACES_SAMPLER="traceidratio",
                    OTEL_TRACES_SAMPLER_ARG="0.5")
    command = otel_run(os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "2", "-b",
                       "127.0.0.1:%d" % port, "app:app")
    plan = [("/users/%d" % i, 200) for i in range(20)] + [("/error", 500)] * 4 + [("/nope", 404)] * 3 + \
        [("/db", 200)] * 5 + [("/upstream", 200)] * 4 + [("/upstream?path=/status/503", 200)] * 2
    with Server(command, env=env, cwd=FLASK_APP, port=port) as server:
        for path, status in plan:
            assert http_get(server.url + path)[0] == status
    assert server.returncode == 0

    server_points = receiver.final_metric_points(service_name, "http.server.request.duration")
    assert counts(server_points, "http.route", "http.response.status_code") == {
        ("/users/<int:user_id>", 200): 20, ("/error", 500): 4, (None, 404): 3, ("/db", 200): 5,
        ("/upstream", 200): 6}
    assert {p.attributes.get("error.type") for p in server_points if p.attributes.get("http.route") == "/error"} == {
        "RuntimeError"}
    for point in server_points:
        assert set(point.attributes) <= {"http.request.method", "url.scheme", "network.protocol.version", "http.route",
                                         "http.response.status_code", "error.type"}
        assert point.attributes["http.request.method"] == "GET" and point.attributes["url.scheme"] == "http"
        assert point.unit == "s" and point.bounds[0] == 0.005
    active = receiver.final_metric_points(service_name, "http.server.active_requests")
    assert active and sum(p.value for p in active) == 0

    client_points = receiver.final_metric_points(service_name, "http.client.request.duration")
    assert counts(client_points, "http.response.status_code", "error.type") == {(200, None): 4, (503, "503"): 2}
    assert {(p.attributes["server.address"], p.attributes["http.request.method"]) for p in client_points} == {
        ("127.0.0.1", "GET")}

    db_points = receiver.final_metric_points(service_name, "db.client.operation.duration")
    assert counts(db_points, "db.system.name", "db.operation.name") == {("sqlite", "SELECT"): 5}

    # Half the traces were sampled: fewer server spans than requests, every request counted.
    spans = receiver.wait_for_spans(service=service_name)
    server_spans = [s for s in spans if s.kind == "SERVER"]
    assert 0 < len(server_spans) < len(plan)
    exported = {(s.trace_id, s.span_id) for s in spans}
    exemplars = [e for p in receiver.metric_points(service=service_name) for e in p.exemplars]
    assert exemplars and all((e.trace_id, e.span_id) in exported for e in exemplars)


def test_django_orm_statements(receiver, service_name, tmp_path):
    project = APPS_DIR / "django_project"
    env = agent_env(receiver, service_name, APP_DB_PATH=str(tmp_path / "db.sqlite3"),
                    OTEL_METRIC_EXPORT_INTERVAL="60000")
    result = run(otel_run("python", "manage.py", "migrate", "--noinput"), env=env, cwd=project, timeout=120)
    assert result.returncode == 0, result.stderr
    points = receiver.final_metric_points(service_name, "db.client.operation.duration")
    assert points and {p.attributes["db.system.name"] for p in points} == {"sqlite"}
    # The migrations' statements, each one once: as many measurements as database spans
    # (every trace is sampled here), per operation.
    db_spans = [s for s in receiver.wait_for_spans(service=service_name) if "db.system.name" in s.attributes]
    assert len(db_spans) >= 10
    measured = {}
    for point in points:
        operation = point.attributes.get("db.operation.name")
        measured[operation] = measured.get(operation, 0) + point.count
    spanned = {}
    for span in db_spans:
        operation = span.attributes.get("db.operation.name")
        spanned[operation] = spanned.get(operation, 0) + 1
    assert measured == spanned
    assert {"db.operation.name", "db.system.name"} <= set().union(*(p.attributes for p in points))

"""The Quick start's demo (examples/demo_app.py), a Flask app with SQLAlchemy, requests
and a log line and no telemetry code, run under otel-run: zero-code server, database and
client spans in one trace per request (begun by the demo's own urllib.request call),
and the warning correlated with its request."""

from support.agent import agent_env, otel_run
from support.processes import TESTS_DIR, run

DEMO = TESTS_DIR.parent / "examples" / "demo_app.py"


def test_the_demo_app_gets_server_database_and_client_spans_and_correlated_logs(receiver, service_name):
    result = run(otel_run("python", DEMO), env=agent_env(receiver, service_name), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["demo: GET /users/1 -> 200", "demo: GET /users/2 -> 502",
                                          "demo: GET /users/9 -> 404"]
    spans = receiver.wait_for_spans(count=11, service=service_name)
    servers = sorted((s for s in spans if s.kind == "SERVER"), key=lambda s: s.start_ns)
    assert [s.attributes["http.response.status_code"] for s in servers] == [200, 502, 404]
    assert {s.name for s in servers} == {"GET /users/<int:user_id>"}
    by_id = {s.span_id: s for s in spans}
    for server in servers:
        # The demo calls itself with urllib.request: that client span is the trace's root.
        caller = by_id[server.parent_span_id]
        assert caller.kind == "CLIENT" and caller.parent_span_id == "" and caller.trace_id == server.trace_id
        assert caller.attributes["url.full"].endswith(server.attributes["url.path"])
        children = {s.name: s for s in spans if s.parent_span_id == server.span_id}
        assert children["SELECT users"].attributes["db.query.text"] == "SELECT name FROM users WHERE id = ?"
        if server.attributes["http.response.status_code"] != 404:
            assert children["GET"].kind == "CLIENT" and "/stock/" in children["GET"].attributes["url.full"]
        else:
            assert "GET" not in children  # an unknown user: no stock call
    assert len(spans) == 11                                  # nothing from the set-up, nothing twice
    (warning,) = [r for r in receiver.wait_for_logs(count=1, service=service_name)
                  if "inventory unavailable" in str(r.body)]
    assert warning.trace_id == servers[1].trace_id and warning.severity_text == "WARNING"

from support.agent import agent_env, otel_run, PYTHON
from support.processes import run


def test_manual_spans_arrive(receiver, service_name):
    result = run(otel_run("python", "tests/scripts/manual_spans.py"), env=agent_env(receiver, service_name))
    assert result.returncode == 0, result.stderr
    spans = receiver.wait_for_spans(count=4, service=service_name)
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"parent", "child", "failing", "decorated"}
    parent = by_name["parent"]
    assert by_name["child"].parent_span_id == parent.span_id
    assert by_name["child"].trace_id == parent.trace_id
    assert by_name["failing"].status_code == "ERROR"
    assert parent.kind == "SERVER"

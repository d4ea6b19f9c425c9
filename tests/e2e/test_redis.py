"""redis-py under otel-run on a real Redis server: one CLIENT span per command, one per
pipeline and transaction, sync and asyncio; keys and values never exported; errors
(a rejected command, a refused connection) recorded.
"""

import json
import uuid
from collections import Counter

import pytest

from support.agent import PYTHON, agent_env, otel_run
from support.processes import TESTS_DIR, base_env, free_port, run

SCRIPT = TESTS_DIR / "scripts" / "redis_app.py"


def _run(redis_server, env, db):
    env = dict(env, REDIS_URL=redis_server.url(db), REDIS_DEAD_URL="redis://127.0.0.1:%d/0" % free_port())
    result = run(otel_run(PYTHON, SCRIPT) if "OTEL_SERVICE_NAME" in env else [PYTHON, SCRIPT], env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def traced(redis_server, receiver):
    service = "redis-" + uuid.uuid4().hex[:6]
    seen = _run(redis_server, agent_env(receiver, service), 3)
    spans = receiver.wait_for_spans(service=service, predicate=lambda s: any(x.name == "async" for x in s))
    return seen, spans


def _children(spans, step_name):
    (step,) = [s for s in spans if s.name == step_name and s.kind == "INTERNAL"]
    return [s for s in spans if s.parent_span_id == step.span_id and s.trace_id == step.trace_id]


def test_results_identical_to_an_uninstrumented_run(traced, redis_server):
    plain = _run(redis_server, base_env(), 4)
    assert traced[0] == plain


def test_commands(traced, redis_server):
    _, spans = traced
    commands = _children(spans, "commands")
    assert [(s.name, s.attributes["db.query.text"]) for s in commands] == [
        ("SET", "SET ? ? ? ?"), ("GET", "GET ?"), ("HSET", "HSET ? ? ? ? ?"), ("MGET", "MGET ? ?")]
    for s in commands:
        assert s.kind == "CLIENT" and s.scope_name == "otel_autoinstrument.redis"
        assert s.attributes["db.system.name"] == "redis"
        assert s.attributes["db.operation.name"] == s.name
        assert s.attributes["db.namespace"] == "3"
        assert s.attributes["server.address"] == "127.0.0.1"
        assert s.attributes["server.port"] == redis_server.port
    assert "secret" not in json.dumps([s.attributes for s in spans])


def test_pipeline_and_transaction_are_one_span_each(traced):
    _, spans = traced
    (pipeline,) = _children(spans, "pipeline")
    assert pipeline.name == "PIPELINE"
    assert pipeline.attributes["db.operation.batch.size"] == 3
    assert pipeline.attributes["db.query.text"] == "INCRBY ? ?\nINCRBY ? ?\nEXPIRE ? ?"
    (transaction,) = _children(spans, "transaction")
    assert transaction.name == "BATCH SET" and transaction.attributes["db.operation.batch.size"] == 2
    (async_set, async_get, async_tx) = _children(spans, "async")
    assert (async_set.name, async_get.name) == ("SET", "GET")
    assert async_tx.name == "MULTI" and async_tx.attributes["db.operation.batch.size"] == 2
    assert async_tx.attributes["db.query.text"] == "GET ?\nDEL ?"


def test_errors(traced):
    _, spans = traced
    (failing,) = _children(spans, "failing")
    assert failing.status_code == "ERROR"
    assert failing.attributes["error.type"] == "redis.exceptions.ResponseError"
    assert failing.events[0].attributes["exception.message"].startswith("WRONGTYPE")
    (refused,) = _children(spans, "refused")
    assert refused.name == "PING" and refused.status_code == "ERROR"
    assert refused.attributes["error.type"] == "redis.exceptions.ConnectionError"
    assert refused.attributes["db.namespace"] == "0"


def test_arguments_recorded_when_sanitizing_is_off(redis_server, receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_PYTHON_DB_QUERY_SANITIZE="false")
    _run(redis_server, env, 5)
    spans = receiver.wait_for_spans(service=service_name, predicate=lambda s: any(x.name == "async" for x in s))
    (get,) = [s for s in _children(spans, "commands") if s.name == "GET"]
    assert get.attributes["db.query.text"] == "GET user:secret-key-1"


def test_every_command_is_in_the_duration_metric_sampled_or_not(traced, redis_server, receiver, service_name):
    """The same commands unsampled: no span, each command measured once, failures with
    the error.type their spans had."""
    _, spans = traced
    keys = ("db.system.name", "db.operation.name", "error.type", "server.address")
    expected = Counter(tuple(s.attributes.get(k) for k in keys) for s in spans if s.kind == "CLIENT")
    _run(redis_server, agent_env(receiver, service_name, OTEL_TRACES_SAMPLER="always_off"), 5)
    measured = Counter()
    for point in receiver.final_metric_points(service_name, "db.client.operation.duration"):
        measured[tuple(point.attributes.get(k) for k in keys)] += point.count
    assert measured == expected
    assert any(error for _, _, error, _ in measured) and not receiver.spans(service=service_name)

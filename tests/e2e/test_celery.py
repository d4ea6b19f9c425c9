"""Celery under otel-run with a real Redis broker: the trace crosses the queue.

``otel-run celery -A tasks worker`` with the prefork pool (concurrency 2) and
``--max-tasks-per-child 1``, so every task runs in a fresh pool process that leaves
through ``os._exit``; the client enqueues a task, a chain, a group, a failing task and
a retried one. Every task's CONSUMER span arrives exactly once, as a child of its
PRODUCER span; the worker then gets SIGTERM and exits on its own. Beat-scheduled tasks
start traces of their own.
"""

import json
from collections import Counter
import os
import signal
import uuid

import pytest

from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, TESTS_DIR, Server, run

APP = APPS_DIR / "celery_app"
CLIENT = TESTS_DIR / "scripts" / "celery_client.py"
# What the client prints without the agent (the tasks are pure functions of their arguments).
EXPECTED = {"add": 5, "chain": 4, "fail": "task failed", "group": [0, 2, 4], "retry": "ok after 1"}


def worker(env, *options):
    command = [os.path.join(BIN, "celery"), "-A", "tasks", "worker", "-l", "warning", "--without-mingle",
               "--without-gossip", "--without-heartbeat"] + list(options)
    return Server(otel_run(*command), env=env, cwd=APP, stop_timeout=20)


@pytest.fixture(scope="module")
def celery_run(redis_server, receiver):
    """One worker and one instrumented client run: (client results, the client's spans, the
    worker's spans in the client's traces, worker exit code, worker stderr)."""
    broker = redis_server.url(7)
    worker_service, client_service = "celery-worker-" + uuid.uuid4().hex[:6], "celery-client-" + uuid.uuid4().hex[:6]
    env = agent_env(receiver, worker_service, CELERY_BROKER=broker, PYTHONPATH=APP)
    with worker(env, "--concurrency", "2", "--max-tasks-per-child", "1") as server:
        client_env = agent_env(receiver, client_service, CELERY_BROKER=broker, PYTHONPATH=APP)
        result = run(otel_run(PYTHON, CLIENT), env=client_env, timeout=120)
        assert result.returncode == 0, result.stderr + server.output()[1]
        # Warm shutdown on SIGTERM: the pool processes finish and flush, the worker exits 0.
        code = server.stop(signal.SIGTERM)
        stderr = server.output()[1]
    producers = receiver.wait_for_spans(service=client_service, predicate=lambda s: any(x.name == "retry" for x in s))
    ids = {s.attributes["messaging.message.id"] for s in producers if s.kind == "PRODUCER"}
    # Producers the worker sent (chain continuation, retry) belong to the client's traces too.
    traces = {s.trace_id for s in producers}

    def all_consumed(spans):
        consumers = [s for s in spans if s.kind == "CONSUMER" and s.trace_id in traces]
        return {s.attributes["messaging.message.id"] for s in consumers} >= ids and len(consumers) >= 8

    worker_spans = receiver.wait_for_spans(service=worker_service, predicate=all_consumed)

    return (json.loads(result.stdout.strip().splitlines()[-1]), producers,
            [s for s in worker_spans if s.trace_id in traces], code, stderr)


def _step(spans, name):
    (step,) = [s for s in spans if s.name == name and s.kind == "INTERNAL"]
    return step


def _children_of(span, spans, kind=None):
    return [s for s in spans if s.parent_span_id == span.span_id and (kind is None or s.kind == kind)]


def _consumers_of(producer, spans):
    return [s for s in spans if s.parent_span_id == producer.span_id and s.kind == "CONSUMER"]


def test_results_identical_to_an_uninstrumented_run(celery_run):
    seen = celery_run[0]
    assert seen == EXPECTED


def test_worker_exits_on_sigterm_by_itself(celery_run):
    _, _, _, code, stderr = celery_run
    assert code == 0, stderr
    assert "STRICT" not in stderr and "otel-autoinstrument ERROR" not in stderr, stderr


def test_task_consumer_is_child_of_its_producer_exactly_once(celery_run):
    _, producers, consumers_all, _, _ = celery_run
    enqueue = _step(producers, "enqueue")
    (producer,) = _children_of(enqueue, producers, "PRODUCER")
    assert producer.name == "send tasks.add"
    assert producer.attributes["messaging.system"] == "celery"
    assert producer.attributes["messaging.operation.type"] == "send"
    assert producer.attributes["messaging.destination.name"] == "celery"
    assert producer.attributes["celery.task_name"] == "tasks.add"
    (consumer,) = _consumers_of(producer, consumers_all)
    assert consumer.kind == "CONSUMER" and consumer.trace_id == enqueue.trace_id
    assert consumer.name == "process tasks.add"
    assert consumer.attributes["messaging.operation.name"] == "process"
    assert consumer.attributes["messaging.operation.type"] == "process"
    assert consumer.attributes["messaging.message.id"] == producer.attributes["messaging.message.id"]
    assert consumer.attributes["messaging.destination.name"] == "celery"
    assert consumer.attributes["celery.retries"] == 0
    # The task's result-backend writes (Redis) are the consumer's children.
    assert any(s.kind == "CLIENT" and s.attributes["db.system.name"] == "redis"
               for s in _children_of(consumer, consumers_all))
    # Each message processed (and exported) exactly once, whichever pool process ran it.
    ids = [s.attributes["messaging.message.id"] for s in consumers_all if s.kind == "CONSUMER"]
    retried = [s for s in consumers_all if s.kind == "CONSUMER" and s.attributes["celery.task_name"] == "tasks.flaky"]
    # Only the retries reuse a task id: the flaky task's, once per attempt (its retry
    # numbers each once: a span exported twice would repeat one).
    flaky = {s.attributes["messaging.message.id"] for s in retried}
    assert len(flaky) == 1 and len(retried) >= 2
    assert sorted(s.attributes["celery.retries"] for s in retried) == list(range(len(retried)))
    assert Counter(ids) == Counter({i: (len(retried) if i in flaky else 1) for i in ids})


def test_chain_and_group_keep_the_parent(celery_run):
    _, producers, consumers, _, _ = celery_run
    chain = _step(producers, "chain")
    (first,) = _children_of(chain, producers, "PRODUCER")
    (add,) = _consumers_of(first, consumers)
    (next_send,) = _children_of(add, consumers, "PRODUCER")  # sent by the worker, inside the task's span
    assert next_send.name == "send tasks.double"
    (double,) = _consumers_of(next_send, consumers)
    assert double.trace_id == chain.trace_id

    group = _step(producers, "group")
    sends = _children_of(group, producers, "PRODUCER")
    assert len(sends) == 3
    for send in sends:
        (done,) = _consumers_of(send, consumers)
        assert done.trace_id == group.trace_id and done.name == "process tasks.double"


def test_failure_and_retry_recorded(celery_run):
    _, producers, consumers, _, _ = celery_run
    (send_fail,) = _children_of(_step(producers, "failing"), producers, "PRODUCER")
    (failed,) = _consumers_of(send_fail, consumers)
    assert failed.status_code == "ERROR"
    assert failed.attributes["error.type"] == "ValueError"
    assert failed.events[0].attributes["exception.message"] == "task failed"
    assert "task-secret-arg" not in json.dumps([s.attributes for s in producers + consumers])

    (send_flaky,) = _children_of(_step(producers, "retry"), producers, "PRODUCER")
    (first,) = _consumers_of(send_flaky, consumers)
    assert first.attributes["celery.retries"] == 0
    assert [e.name for e in first.events] == ["retry"]
    (resend,) = _children_of(first, consumers, "PRODUCER")
    (second,) = _consumers_of(resend, consumers)
    assert second.attributes["celery.retries"] == 1 and second.status_code != "ERROR"
    assert second.trace_id == first.trace_id


def _two_ticks_sent_and_run(spans):
    sent = {s.span_id for s in spans if s.name == "send tasks.tick"}
    return len([s for s in spans if s.name == "process tasks.tick" and s.parent_span_id in sent]) >= 2


def test_beat_scheduled_tasks_start_their_own_traces(redis_server, receiver, service_name):
    env = agent_env(receiver, service_name, CELERY_BROKER=redis_server.url(8), PYTHONPATH=APP, CELERY_BEAT="1")
    beat_dir = APP / (".beat-%s" % uuid.uuid4().hex[:6])
    try:
        with worker(env, "--concurrency", "1", "-B", "-s", str(beat_dir)):
            spans = receiver.wait_for_spans(service=service_name, timeout=30, predicate=_two_ticks_sent_and_run)
    finally:
        for suffix in ("", ".db", ".dat", ".dir", ".bak"):
            try:
                os.unlink(str(beat_dir) + suffix)
            except OSError:
                pass
    sends = {s.span_id: s for s in spans if s.name == "send tasks.tick"}
    ticks = [s for s in spans if s.name == "process tasks.tick" and s.parent_span_id in sends]
    for tick in ticks[:2]:
        send = sends[tick.parent_span_id]
        assert send.parent_span_id == "" and send.trace_id == tick.trace_id
    assert ticks[0].trace_id != ticks[1].trace_id

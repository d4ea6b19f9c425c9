"""The issue's whole picture: a Flask service under gunicorn uses PostgreSQL (psycopg
directly and through SQLAlchemy), caches in Redis and enqueues a Celery task that a
prefork worker runs (and which queries PostgreSQL). One trace from the HTTP request
through the queue into the worker, as the real OTLP receiver decoded it; responses
identical to an uninstrumented gunicorn's.
"""

import json
import os
import uuid

from support.agent import BIN, agent_env, otel_run
from support.processes import APPS_DIR, Server, base_env, free_port, http_get

STACK = APPS_DIR / "stack_app"
CELERY_APP = APPS_DIR / "celery_app"


def _gunicorn(port):
    return [os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "1", "-b", "127.0.0.1:%d" % port, "app:app"]


def _get_orders(server):
    bodies = []
    for number in (7, 7):  # the second is served from the cache
        status, _, body = http_get(server.url + "/order/%d" % number, timeout=40)
        assert status == 200, body
        bodies.append(json.loads(body))
    return bodies


def test_one_trace_from_request_through_queue_into_worker(postgres, redis_server, receiver, service_name):
    settings = dict(PG_DSN=postgres.dsn(), PG_URL=postgres.url(), REDIS_URL=redis_server.url(9),
                    CELERY_BROKER=redis_server.url(10), PYTHONPATH=os.pathsep.join([str(STACK), str(CELERY_APP)]))
    worker_service = service_name + "-worker"
    worker_env = agent_env(receiver, worker_service, **settings)
    worker = [os.path.join(BIN, "celery"), "-A", "tasks", "worker", "-l", "warning", "--concurrency", "2",
              "--without-mingle", "--without-gossip", "--without-heartbeat"]
    with Server(otel_run(*worker), env=worker_env, cwd=CELERY_APP, stop_timeout=20):
        port = free_port()
        with Server(otel_run(*_gunicorn(port)), env=agent_env(receiver, service_name, **settings), cwd=STACK,
                    port=port) as server:
            traced = _get_orders(server)
        plain_env = base_env(PATH=BIN + os.pathsep + os.environ["PATH"], **dict(settings, REDIS_URL=redis_server.url(11)))
        port = free_port()
        with Server(_gunicorn(port), env=plain_env, cwd=STACK, port=port) as server:
            plain = _get_orders(server)
    assert traced == plain
    assert traced[0]["cached"] is None and traced[1]["cached"] == "order-7" and traced[0]["total"] == 8

    def complete(spans):
        return len([s for s in spans if s.name == "process tasks.add"]) >= 2

    worker_spans = receiver.wait_for_spans(service=worker_service, predicate=complete)
    web_spans = receiver.wait_for_spans(service=service_name, predicate=lambda s: len([
        x for x in s if x.kind == "SERVER"]) >= 2)
    servers = [s for s in web_spans if s.kind == "SERVER"]
    assert len({s.trace_id for s in servers}) == 2
    for server_span in servers:
        trace = [s for s in web_spans + worker_spans if s.trace_id == server_span.trace_id]
        by_id = {s.span_id: s for s in trace}
        for s in trace:  # one tree: every span reaches the request's span
            node = s
            while node.parent_span_id:
                node = by_id[node.parent_span_id]
            assert node is server_span, s
        scopes = {(s.scope_name, s.kind) for s in trace}
        assert ("otel_autoinstrument.psycopg", "CLIENT") in scopes
        assert ("otel_autoinstrument.sqlalchemy", "CLIENT") in scopes
        assert ("otel_autoinstrument.redis", "CLIENT") in scopes
        (producer,) = [s for s in trace if s.kind == "PRODUCER"]
        (consumer,) = [s for s in trace if s.kind == "CONSUMER"]
        assert producer.parent_span_id == server_span.span_id and consumer.parent_span_id == producer.span_id
        assert consumer.resource["service.name"] == worker_service
        # The task's own database span, in the worker, inside the consumer span.
        assert any(s.parent_span_id == consumer.span_id and s.attributes.get("db.system.name") == "postgresql"
                   for s in trace)
        # No statement traced twice: SQLAlchemy's statement has no psycopg twin.
        texts = [s.attributes["db.query.text"] for s in trace if s.attributes.get("db.system.name") == "postgresql"]
        assert len(texts) == len(set(texts)), texts

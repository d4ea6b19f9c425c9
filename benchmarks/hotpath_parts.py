"""What each piece of the per-request work costs, in CPU instructions under callgrind.

  python benchmarks/hotpath_parts.py [PART...] [--n 5000]

Each part runs N and N/5 times in its own process under ``valgrind --tool=callgrind``
(one hash seed): the difference of the counts over the difference of the calls, less
an empty part's (the loop itself), is the instructions per call, start-up excluded,
repeatable whatever the machine's load. No
export thread runs (the queue is emptied by the loop), so the figures are the
application thread's alone; the export thread's share per row is in ``hotpath.py
--mode callgrind``. ``--worker PART N`` runs one part without valgrind.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

PARTS = ("span-manual", "span-child", "enqueue", "context-switch", "patch-layer", "server-attributes",
         "client-attributes", "redact-url", "inject", "sql-describe", "db-span", "sqlalchemy-events",
         "log-record")


class _Null:
    def export(self, batch, deadline):
        return None

    def shutdown(self):
        pass

    def after_fork(self):
        pass


def _provider():
    from otel_autoinstrument.export.batch import BatchProcessor
    from otel_autoinstrument.trace.sampling import AlwaysOn, ParentBased
    from otel_autoinstrument.trace.tracer import TracerProvider

    # The export thread never wakes (huge batch and delay): the loop empties the queue.
    batch = BatchProcessor(_Null(), "traces", max_queue_size=10 ** 7, max_batch_size=10 ** 7,
                           schedule_delay_ms=10 ** 9)
    return TracerProvider(None, ParentBased(AlwaysOn()), None, [batch]), batch


def _drain(batch):
    batch._queue.clear()
    batch.__dict__["_bytes"] = 0


def _instrumentor():
    from otel_autoinstrument.agent.startup import Agent
    from otel_autoinstrument.config import load
    from otel_autoinstrument.instrumentation import Instrumentor

    provider, batch = _provider()
    agent = Agent(load({"OTEL_SERVICE_NAME": "parts"}, set()), span_processors=[])
    agent._provider = provider
    instrumentor = Instrumentor()
    instrumentor.agent, instrumentor.settings = agent, agent.settings
    return instrumentor, batch


def part(name):
    """``(setup-free callable of one iteration, drain or None)``."""
    if name == "empty":
        return (lambda: None), None
    if name in ("span-manual", "span-child", "enqueue"):
        provider, batch = _provider()
        tracer = provider.get_tracer("parts")
        if name == "span-manual":
            start = tracer.start_as_current_span

            def once():
                with start("op") as span:
                    span.set_attribute("bench.i", 1)
                    span.set_attribute("bench.kind", "loop")
                    span.set_attribute("bench.ratio", 0.5)
            return once, batch
        if name == "span-child":
            attributes = {"db.system.name": "sqlite", "db.query.text": "SELECT 1", "db.operation.name": "SELECT"}
            return (lambda: tracer.start_span("SELECT item", 3, attributes).end()), batch
        span = tracer.start_span("op", 3, {"a": "b", "c": 1})
        span.end()
        on_end = batch.on_end
        return (lambda: on_end(span)), batch
    if name == "context-switch":
        from otel_autoinstrument.trace.context import _span

        span = object()
        return (lambda: _span.reset(_span.set(span))), None
    if name == "patch-layer":
        from otel_autoinstrument.instrumentation import wrap

        class Target:
            def method(self, x):
                return x

        wrap(Target, "method", lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs), "parts")
        target = Target()
        return (lambda: target.method(1)), None
    if name == "server-attributes":
        from otel_autoinstrument.instrumentation.http import HttpServer

        server = HttpServer(_instrumentor()[0])
        return (lambda: server.request_attributes("GET", "http", "/items/7", None, "127.0.0.1:8000", "127.0.0.1",
                                                  "8000", "127.0.0.1", None, "HTTP/1.1", "bench/1.0")), None
    if name == "client-attributes":
        from otel_autoinstrument.instrumentation.http import HttpClient

        client = HttpClient(_instrumentor()[0])
        return (lambda: client._described("GET", "http://127.0.0.1:8080/items?page=2")), None
    if name == "redact-url":
        from otel_autoinstrument.redaction.urls import redact_url

        return (lambda: redact_url("http://127.0.0.1:8080/items?page=2&token=abc")), None
    if name == "inject":
        from otel_autoinstrument.propagation import Propagator

        provider, batch = _provider()
        span = provider.get_tracer("parts").start_span("op")
        propagator, headers = Propagator(["tracecontext", "baggage"]), {}
        return (lambda: propagator.inject(headers.__setitem__, span)), None
    if name == "sql-describe":
        from otel_autoinstrument.redaction import sql

        # Uncached: what a statement's first sight costs (DbSpans, and sql's own LRU
        # caches, make it once per text).
        statement = "SELECT item.id, item.name, item.value FROM item WHERE item.id = 7 AND item.name = 'x'"
        family = sql.dialect_family("sqlite")
        return (lambda: sql.summarize_sanitized(sql._sanitize(statement, family))), None
    if name == "db-span":
        from otel_autoinstrument.instrumentation.db import DbSpans

        instrumentor, batch = _instrumentor()
        spans = DbSpans(instrumentor.tracer, instrumentor.settings)
        target = spans.target("sqlite", "bench.sqlite")
        return (lambda: spans.finish(spans.start(target, "SELECT id, name, value FROM item WHERE id = ?"))), batch
    if name == "sqlalchemy-events":
        from sqlalchemy import create_engine, event, text

        engine = create_engine("sqlite://")
        if os.environ.get("PARTS_SIDE") == "listened":
            event.listen(engine, "before_cursor_execute", lambda c, cu, s, p, x, m: (s, p), retval=True)
            event.listen(engine, "after_cursor_execute", lambda *a: None)
            event.listen(engine, "handle_error", lambda *a: None)
        conn = engine.connect()
        conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
        query = text("SELECT id, name FROM item WHERE id = :id")
        return (lambda: conn.execute(query, {"id": 7}).fetchall()), None
    if name == "log-record":
        import logging

        logger = logging.getLogger("parts")
        logger.propagate = False
        logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.INFO)
        if os.environ.get("PARTS_SIDE") == "listened":
            from otel_autoinstrument.instrumentors.logging import LoggingInstrumentor
            from otel_autoinstrument.testing import InMemoryAgent

            agent = InMemoryAgent(strict=False).__enter__()
            agent.instrument(LoggingInstrumentor())
            memory = agent._log_memory.items

            def once():
                logger.info("served item %s", 7)
                if len(memory) > 500:
                    del memory[:]
            return once, None
        return (lambda: logger.info("served item %s", 7)), None
    raise SystemExit("unknown part %r" % name)


def worker(name, n):
    once, batch = part(name)
    for i in range(n):
        once()
        if batch is not None and not i & 511:
            _drain(batch)


def _count(name, n, side=""):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        env = dict(os.environ, PYTHONHASHSEED="0", PARTS_SIDE=side)
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, sys.executable,
                               os.path.abspath(__file__), "--worker", name, str(n)],
                              env=env, capture_output=True, text=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if not match:
        raise SystemExit("callgrind failed for %s: %s" % (name, done.stderr[-1500:]))
    return int(match.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="*", metavar="PART", help="default: all of %s" % ", ".join(PARTS))
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--worker", nargs=2, metavar=("PART", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    n1, n2 = args.n // 5, args.n
    # The loop and the call of an empty part: taken off every part's figure.
    empty = (_count("empty", n2) - _count("empty", n1)) / (n2 - n1)
    for name in args.parts or PARTS:
        sides = ("", "listened") if name in ("sqlalchemy-events", "log-record") else ("",)
        per = {side: (_count(name, n2, side) - _count(name, n1, side)) / (n2 - n1) for side in sides}
        result = {"part": name, "instructions": round(per[sides[-1]] - (per[""] if len(sides) > 1 else empty))}
        if len(sides) > 1:
            result["baseline_instructions"] = round(per[""])
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

"""The redaction processor's cost per exported item, in the export thread.

    python benchmarks/redaction_cost.py [--rounds 15] [--items 20000]

Builds real spans and log records with the agent's own tracer (no export), then times
``Redactor.span`` / ``Redactor.log`` over batches of them, in µs per item: the best of
the rounds (the machine's other load only ever adds time). Each typical item has some
values unique per request (a path with an id, a client address, a message) so the
per-string cache does not hide the scanning cost.
"""

import argparse
import time

from otel_autoinstrument.logs.record import LogRecord
from otel_autoinstrument.redaction.processor import Redactor
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.tracer import TracerProvider


class Keep:
    def __init__(self):
        self.items = []

    def on_end(self, item):
        self.items.append(item)


def server_span(tracer, i):
    span = tracer.start_span("GET /users/<int:user_id>", attributes={
        "http.request.method": "GET", "url.scheme": "http", "url.path": "/users/%d" % i,
        "url.query": "page=%d&sort=name" % (i % 7), "server.address": "shop.example.com", "server.port": 8000,
        "client.address": "10.0.%d.%d" % (i % 256, i % 199), "network.protocol.version": "1.1",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                               "Chrome/120.0.0.0 Safari/537.36",
        "http.route": "/users/<int:user_id>"})
    span.set_attribute("http.response.status_code", 200)
    span.end()


def db_span(tracer, i):
    span = tracer.start_span("SELECT users", attributes={
        "db.system.name": "sqlite", "db.query.text": "SELECT users.id, users.name FROM users WHERE users.id = ?",
        "db.operation.name": "SELECT", "db.collection.name": "users"})
    span.end()


def error_span(tracer, i):
    span = tracer.start_span("GET /fail")
    try:
        raise ValueError("order %d failed for customer %d" % (i, i * 7))
    except ValueError as exc:
        from otel_autoinstrument.trace.span import record_error

        record_error(span, exc)
    span.end()


def log_record(i):
    return LogRecord("user %d logged in from 10.0.0.%d" % (i, i % 255), 9, "INFO", {
        "code.file.path": "/srv/app/views.py", "code.function.name": "login", "code.line.number": 42,
        "thread.id": 140000000 + i % 4, "thread.name": "MainThread"})


def measure(redact, items, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            redact(item)
        times.append((time.perf_counter() - start) / len(items) * 1e6)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--items", type=int, default=20000)
    options = parser.parse_args()
    keep = Keep()
    tracer = TracerProvider(None, AlwaysOn(), processors=[keep]).get_tracer("bench")
    kinds = {"server span": server_span, "database span": db_span, "span with exception": error_span}
    for name, make in kinds.items():
        keep.items = []
        for i in range(options.items):
            make(tracer, i)
        redactor = Redactor()
        print("%-22s %6.2f us" % (name, measure(redactor.span, keep.items, options.rounds)))
    logs = [log_record(i) for i in range(options.items)]
    print("%-22s %6.2f us" % ("log record", measure(Redactor().log, logs, options.rounds)))


if __name__ == "__main__":
    main()

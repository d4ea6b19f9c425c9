"""What the export path costs the application's thread: ``on_end`` per span, with the
size estimate, measured against a processor that does nothing. Prints JSON (ns).

Usage: python tests/scripts/reliability_hot_path.py [N]   (no agent needed)
"""

import json
import sys
import time

from otel_autoinstrument.export.batch import BatchProcessor, estimate_span
from otel_autoinstrument.export.outcome import Outcome
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.tracer import TracerProvider

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
ATTRIBUTES = {"http.request.method": "GET", "url.path": "/users/7", "url.scheme": "http",
              "server.address": "127.0.0.1", "server.port": 8000, "network.protocol.version": "1.1",
              "http.route": "/users/<int:user_id>", "http.response.status_code": 200,
              "user_agent.original": "python-requests/2.31", "client.address": "127.0.0.1"}


class Discard:
    def export(self, items, deadline):
        return Outcome(len(items))

    def after_fork(self):
        pass

    def shutdown(self):
        pass


class Nothing:
    def on_end(self, span):
        pass


def per_call_ns(function, n):
    best = None
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(n):
            function()
        elapsed = (time.perf_counter_ns() - started) / n
        best = elapsed if best is None else min(best, elapsed)
    return round(best)


spans = []
collector = TracerProvider(None, AlwaysOn(), processors=[type("Keep", (), {"on_end": lambda self, s: spans.append(s)})()])
for i in range(N):
    collector.get_tracer("bench").start_span("GET /users/<int:user_id>", attributes=ATTRIBUTES).end()

processor = BatchProcessor(Discard(), "traces", max_queue_size=N + 1, max_batch_size=N + 1,
                           schedule_delay_ms=3600000)
items = iter(spans * 5)
on_end = per_call_ns(lambda: processor.on_end(next(items)), N)
estimate = per_call_ns(lambda: estimate_span(spans[0]), N)
tracer_plain = TracerProvider(None, AlwaysOn(), processors=[Nothing()]).get_tracer("bench")
tracer_batch = TracerProvider(None, AlwaysOn(), processors=[
    BatchProcessor(Discard(), "traces", schedule_delay_ms=50)]).get_tracer("bench")
span_plain = per_call_ns(lambda: tracer_plain.start_span("GET", attributes=ATTRIBUTES).end(), N // 5)
span_batch = per_call_ns(lambda: tracer_batch.start_span("GET", attributes=ATTRIBUTES).end(), N // 5)
print(json.dumps({"on_end_ns": on_end, "of_which_size_estimate_ns": estimate,
                  "span_with_10_attributes_no_export_ns": span_plain,
                  "span_with_10_attributes_batch_processor_ns": span_batch}))

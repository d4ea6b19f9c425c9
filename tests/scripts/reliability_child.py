"""A child process for the reliability tests: one root span named after argv[1], then
print what it was handed (the carrier variables, the baggage it sees) as JSON."""

import json
import os
import sys

from otel_autoinstrument import get_tracer
from otel_autoinstrument.instrumentation import get_baggage

name = sys.argv[1] if len(sys.argv) > 1 else "child"
with get_tracer("reliability.child").start_as_current_span(name):
    pass
print(json.dumps({"name": name, "pid": os.getpid(), "traceparent": os.environ.get("TRACEPARENT"),
                  "tracestate": os.environ.get("TRACESTATE"), "baggage": get_baggage()}), flush=True)

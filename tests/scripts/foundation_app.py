"""A small script for the foundation's end-to-end tests: a two-span trace through the
public API, then a line of JSON about this process, then the exit the test asked for.

argv[1]: an exit status (default 0), or "wait" to print "ready" and sleep until a
signal arrives (at most a minute).
"""

import json
import os
import sys
import time

from otel_autoinstrument import SpanKind, get_tracer
from otel_autoinstrument.agent.startup import get_agent

tracer = get_tracer("foundation.app", "0.1")
with tracer.start_as_current_span("request", kind=SpanKind.SERVER, attributes={"app.step": "outer"}) as root:
    with tracer.start_as_current_span("query", kind=SpanKind.CLIENT) as query:
        query.set_attribute("db.rows", 3)

print(json.dumps({"pid": os.getpid(), "agent": get_agent() is not None,
                  "trace_id": "%032x" % root.get_span_context().trace_id}), flush=True)

mode = sys.argv[1] if len(sys.argv) > 1 else "0"
if mode == "wait":
    print("ready", flush=True)
    time.sleep(60)
    sys.exit(0)
sys.exit(int(mode))

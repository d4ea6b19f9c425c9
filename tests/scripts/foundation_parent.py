"""Start a child Python process inside a span, handing it the trace context through the
environment (as a job queue or a CLI wrapper might); both processes export spans."""

import json
import os
import subprocess
import sys

from otel_autoinstrument import SpanKind, get_tracer
from otel_autoinstrument.agent.startup import get_agent

tracer = get_tracer("foundation.parent")
with tracer.start_as_current_span("parent-work", kind=SpanKind.PRODUCER):
    headers = {}
    get_agent().propagator.inject(headers.__setitem__)
    child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "foundation_child.py")
    env = dict(os.environ, FOUNDATION_CONTEXT=json.dumps(headers))
    done = subprocess.run([sys.executable, child], env=env, stdout=subprocess.PIPE, timeout=60)
print(json.dumps({"parent_pid": os.getpid(), "child": json.loads(done.stdout), "status": done.returncode}),
      flush=True)

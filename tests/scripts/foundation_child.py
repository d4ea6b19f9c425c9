"""The child of foundation_parent.py: continue the trace it was handed."""

import json
import os

from otel_autoinstrument import SpanKind, get_tracer
from otel_autoinstrument.agent.startup import get_agent

headers = json.loads(os.environ.get("FOUNDATION_CONTEXT", "{}"))
agent = get_agent()
carried = agent.propagator.extract(headers.get)
tracer = get_tracer("foundation.child")
span = tracer.start_span("child-work", kind=SpanKind.CONSUMER, parent=carried.span_context)
span.end()
print(json.dumps({"pid": os.getpid(), "agent": agent is not None}), flush=True)

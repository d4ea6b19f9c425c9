"""Spans and log records for the interoperability test with rotel: a small trace and a
few log records (some inside a span, carrying its ids), through the agent's core API.
Prints what it made as JSON so the test can find every one in rotel's output."""

import json
import sys

from otel_autoinstrument import SpanKind, get_tracer
from otel_autoinstrument.instrumentation import Scope, log_pipeline_record
from otel_autoinstrument.agent.startup import get_agent

LogRecord = log_pipeline_record()
tag = sys.argv[1]
logs = get_agent().logs
scope = Scope("foundation.rotel.logs")
tracer = get_tracer("foundation.rotel", "1.0")
made = {"spans": [], "logs": []}


def emit(body, span=None, severity=(9, "INFO")):
    ctx = span.get_span_context() if span is not None else None
    record = LogRecord(body, severity_number=severity[0], severity_text=severity[1],
                       attributes={"test.tag": tag}, scope=scope,
                       trace_id=ctx.trace_id if ctx else 0, span_id=ctx.span_id if ctx else 0,
                       trace_flags=ctx.trace_flags if ctx else 0)
    logs.emit(record)
    made["logs"].append({"body": body, "trace_id": "%032x" % ctx.trace_id if ctx else "",
                         "span_id": "%016x" % ctx.span_id if ctx else ""})


def record(span):
    ctx = span.get_span_context()
    made["spans"].append({"name": span.name, "span_id": "%016x" % ctx.span_id,
                          "parent_span_id": "%016x" % span.parent.span_id if span.parent else ""})


with tracer.start_as_current_span("rotel-request-" + tag, kind=SpanKind.SERVER,
                                  attributes={"test.tag": tag, "http.response.status_code": 200}) as root:
    emit("request started " + tag, root)
    for i in range(3):
        with tracer.start_as_current_span("rotel-step-%d-%s" % (i, tag), kind=SpanKind.INTERNAL) as step:
            step.add_event("step-event", {"i": i})
            emit("step %d of %s" % (i, tag), step)
        record(step)
    try:
        with tracer.start_as_current_span("rotel-failing-" + tag) as failing:
            raise ValueError("expected failure")
    except ValueError:
        record(failing)
record(root)
emit("outside any span " + tag, severity=(13, "WARN"))
made["trace_id"] = "%032x" % root.get_span_context().trace_id
print(json.dumps(made), flush=True)

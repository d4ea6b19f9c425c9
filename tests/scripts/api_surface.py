"""The OpenTelemetry tracing API surface, run under otel-run on whichever opentelemetry-api
is on PYTHONPATH. Prints one JSON line of what the process saw; the spans go to the
receiver. Written for the oldest API the agent supports too (no newer-only calls
without a check)."""

import asyncio
import json
import sys

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind, Status, StatusCode

from otel_autoinstrument import get_tracer as native_tracer
from otel_autoinstrument.trace.context import get_baggage, get_current_span, is_suppressed

seen = {"api_version": None}
try:
    from importlib.metadata import version

    seen["api_version"] = version("opentelemetry-api")
except Exception:
    pass

try:
    tracer = trace.get_tracer("surface", "3.1", schema_url="https://opentelemetry.io/schemas/1.21.0",
                              attributes={"scope.attr": "yes"})
except TypeError:  # the attributes parameter is newer than the oldest API
    tracer = trace.get_tracer("surface", "3.1", schema_url="https://opentelemetry.io/schemas/1.21.0")

# Manual spans: context manager, kinds, attributes, events, links, status, update_name.
linked = tracer.start_span("linked-target")
linked.end()
with tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes={"a.int": 1},
                                  links=[Link(linked.get_span_context(), {"link.attr": "x"})]) as root:
    seen["current_is_root"] = trace.get_current_span() is root
    root.set_attributes({"a.str": "s", "a.list": [1, 2]})
    root.add_event("checkpoint", {"e": 1})
    root.update_name("root-renamed")
    root.set_status(Status(StatusCode.OK))
    seen["recording"] = root.is_recording()
    # A native span inside an API span is its child; the API sees it as current.
    with native_tracer("native").start_as_current_span("native-child") as native:
        seen["api_sees_native"] = (trace.get_current_span().get_span_context().span_id == native.context.span_id)
        trace.get_current_span().set_attribute("set.through.api", True)
    # start_span + use_span, with a client kind, and end_on_exit.
    client = tracer.start_span("client", kind=SpanKind.CLIENT)
    with trace.use_span(client, end_on_exit=True):
        seen["native_sees_client"] = get_current_span().context.span_id == client.get_span_context().span_id
        headers = {}
        propagate.inject(headers)
        seen["injected"] = headers.get("traceparent", "")

# Exceptions: recorded by default; not recorded, no status, when asked.
try:
    with tracer.start_as_current_span("raises"):
        raise ValueError("boom")
except ValueError:
    pass
try:
    with tracer.start_as_current_span("raises-quietly", record_exception=False, set_status_on_exception=False):
        raise KeyError("quiet")
except KeyError:
    pass
span = tracer.start_span("manual-record")
span.record_exception(RuntimeError("recorded"))
span.set_status(StatusCode.ERROR, "by hand")
span.end()


# Decorators, plain and async.
@tracer.start_as_current_span("decorated")
def decorated():
    return trace.get_current_span().get_span_context().is_valid


@tracer.start_as_current_span("decorated-async")
async def decorated_async():
    await asyncio.sleep(0)
    return trace.get_current_span().is_recording()


seen["decorated"] = [decorated(), decorated(), asyncio.run(decorated_async())]

# Context tokens both ways, baggage both ways.
token = context.attach(baggage.set_baggage("tenant", "acme"))
seen["native_baggage"] = dict(get_baggage() or {})
with native_tracer("native").start_as_current_span("with-baggage"):
    headers = {}
    propagate.inject(headers)
    seen["baggage_header"] = headers.get("baggage", "")
context.detach(token)
seen["baggage_after_detach"] = dict(baggage.get_all())

# Extract: a remote parent continues its trace.
remote = propagate.extract({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "baggage": "region=eu"})
seen["extracted_baggage"] = dict(baggage.get_all(remote))
token = context.attach(remote)
with tracer.start_as_current_span("child-of-remote"):
    pass
context.detach(token)

# A hand-made NonRecordingSpan as parent (the way apps continue a custom carrier).
parent = NonRecordingSpan(trace.SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=trace.TraceFlags(1)))
with tracer.start_as_current_span("child-of-handmade", context=trace.set_span_in_context(parent)):
    with native_tracer("native").start_as_current_span("native-grandchild"):
        pass
with trace.use_span(parent):
    seen["foreign_span_kept"] = trace.get_current_span() is parent

# The API's suppression key is the agent's.
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY  # noqa: E402

token = context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
seen["suppressed_native"] = is_suppressed()
context.detach(token)
seen["suppressed_after"] = is_suppressed()

seen["outside"] = trace.get_current_span() is trace.INVALID_SPAN
print(json.dumps(seen), flush=True)
sys.exit(0)

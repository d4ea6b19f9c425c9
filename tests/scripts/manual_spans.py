"""A short script that makes a small trace through the public API, then exits."""

import sys

from otel_autoinstrument import SpanKind, get_tracer

tracer = get_tracer("manual.script", "1.2")
with tracer.start_as_current_span("parent", kind=SpanKind.SERVER, attributes={"step": "outer"}) as parent:
    parent.set_attribute("items", [1, 2, 3])
    with tracer.start_as_current_span("child") as child:
        child.add_event("checkpoint", {"n": 1})
    try:
        with tracer.start_as_current_span("failing"):
            raise ValueError("bad input")
    except ValueError:
        pass


@tracer.start_as_current_span("decorated")
def work():
    return 42


work()
print("script done")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)

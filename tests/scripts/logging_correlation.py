"""No logging configuration at first (so OTEL_PYTHON_LOG_CORRELATION's default format
applies), then the application's own basicConfig(), which must win."""

import logging
import sys

from otel_autoinstrument import get_tracer

log = logging.getLogger("corr")
log.warning("outside a span")
with get_tracer("logging.correlation").start_as_current_span("step") as span:
    print("SPAN %032x %016x" % (span.context.trace_id, span.context.span_id), flush=True)
    log.warning("inside a span")
sys.stderr.flush()
print("--- basicConfig ---", file=sys.stderr, flush=True)
logging.basicConfig(format="app: %(levelname)s %(message)s")
log.warning("configured by the app")

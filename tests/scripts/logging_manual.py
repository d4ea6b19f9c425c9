"""Logs around a manual span, then reconfigures logging with dictConfig and logs again.

stdout carries the span's ids ("SPAN <trace> <span>") and every record of the
"script" logger formatted with the correlation fields.
"""

import logging
import logging.config
import sys

from otel_autoinstrument import get_tracer

logging.addLevelName(25, "NOTICE")
log = logging.getLogger("script")
log.setLevel(logging.DEBUG)
text = logging.StreamHandler(sys.stdout)
text.setFormatter(logging.Formatter(
    "%(levelname)s trace=%(otelTraceID)s span=%(otelSpanID)s sampled=%(otelTraceSampled)s "
    "service=%(otelServiceName)s %(message)s"))
log.addHandler(text)


class Auditing(logging.Handler):
    """A handler that logs from inside emit (to a logger that does not reach it)."""

    def emit(self, record):
        logging.getLogger("audit").warning("audited: %s", record.getMessage())


log.addHandler(Auditing())
logging.getLogger("audit").addHandler(logging.NullHandler())


class Customer:
    def __str__(self):
        return "customer #7"


log.info("outside any span")
tracer = get_tracer("logging.script")
with tracer.start_as_current_span("work") as span:
    print("SPAN %032x %016x" % (span.context.trace_id, span.context.span_id), flush=True)
    log.warning("inside %s", "work", extra={"order_id": 42, "customer": Customer(), "paid": True})
    log.log(25, "custom notice")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("division failed")
log.debug("debug is below the export level")

logging.config.dictConfig({
    "version": 1,
    "disable_existing_loggers": True,
    "formatters": {"plain": {"format": "after: %(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}},
    "root": {"handlers": ["out"], "level": "INFO"},
})
logging.getLogger("after.config").info("logged after dictConfig")
log.error("script logger was disabled by dictConfig")

"""One span and one log record, then a fixed line and the exit status asked for (argv[1]).

Used by the transport security tests: whatever happens to the export, the program's
output and exit status must be those of an uninstrumented run.
"""

import logging
import sys

from otel_autoinstrument import get_tracer

tracer = get_tracer("security.export")
with tracer.start_as_current_span("checkout") as span:
    span.set_attribute("cart.items", 3)
    logging.getLogger("shop").warning("checkout done")

print("done", flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)

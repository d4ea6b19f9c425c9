"""Use the library the test plugins instrument; the output must not depend on them."""

import sys

from otel_autoinstrument import get_tracer

tracer = get_tracer("foundation.plugins")
with tracer.start_as_current_span("plugins-main"):
    import good_target

    print(good_target.work(21), flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)

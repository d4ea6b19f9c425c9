"""Make N spans as fast as possible, each with a string attribute of SIZE characters
(a fresh string each time, held only by the span), then report the peak memory.

Usage: reliability_burst.py N SIZE [HUGE [SECONDS]]
  HUGE: also make one span with an attribute of HUGE characters (0: none).
  SECONDS: spread the N spans evenly over that many seconds (default: no pause).
Prints JSON: {"made": N (+1), "rss_kb_before": ..., "hwm_kb": ...} (from /proc/self/status).
"""

import json
import sys
import time

from otel_autoinstrument import get_tracer
from proc_status import status

n, size = int(sys.argv[1]), int(sys.argv[2])
huge = int(sys.argv[3]) if len(sys.argv) > 3 else 0
pause = float(sys.argv[4]) / n if len(sys.argv) > 4 else 0
tracer = get_tracer("reliability.burst")
with tracer.start_as_current_span("warm-up"):
    pass
before = status("VmRSS")
made = 1
if huge:
    with tracer.start_as_current_span("huge", attributes={"payload": "h" * huge}):
        pass
    made += 1
for i in range(n):
    span = tracer.start_span("burst", attributes={"i": i, "payload": ("%08d" % i) * (size // 8)})
    span.end()
    if pause:
        time.sleep(pause)
made += n
print(json.dumps({"made": made, "rss_kb_before": before, "hwm_kb": status("VmHWM")}), flush=True)

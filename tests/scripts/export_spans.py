"""Make spans (optionally with large list-valued attributes, as header capture makes),
then flush or just exit, and report what happened to this process's memory.

Usage: export_spans.py N [HEADERS HEADER_SIZE [FLUSH [SECONDS]]]
  HEADERS, HEADER_SIZE: each span gets a list attribute of HEADERS strings of
      HEADER_SIZE characters (fresh strings each time), like captured request headers.
  FLUSH: 1 to call force_flush() before exiting (and report memory after it).
  SECONDS: spread the spans over that many seconds (default: as fast as possible).
Prints JSON: {"made": N, "rss_kb_before": ..., "hwm_kb": ...} (from /proc/self/status).
"""

import json
import logging
import sys
import time

import otel_autoinstrument
from otel_autoinstrument import get_tracer
from proc_status import status

n = int(sys.argv[1])
headers = int(sys.argv[2]) if len(sys.argv) > 2 else 0
size = int(sys.argv[3]) if len(sys.argv) > 3 else 0
flush = len(sys.argv) > 4 and sys.argv[4] == "1"
pause = float(sys.argv[5]) / n if len(sys.argv) > 5 and n else 0
tracer = get_tracer("export.spans")
before = status("VmRSS")
for i in range(n):
    span = tracer.start_span("request %d" % (i % 10))
    if headers:
        span.set_attribute("http.request.header.x-forwarded-for",
                           [("%08d" % (i * headers + h)) * (size // 8) for h in range(headers)])
    span.set_attribute("i", i)
    span.end()
    if pause:
        time.sleep(pause)
logging.getLogger("export.spans").warning("made %d spans", n)
if flush:
    otel_autoinstrument.force_flush(10)
print(json.dumps({"made": n, "rss_kb_before": before, "hwm_kb": status("VmHWM")}), flush=True)

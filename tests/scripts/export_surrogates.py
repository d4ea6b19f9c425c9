"""Requests of a web app whose client sent a lone surrogate (JSON "\\udcff" decodes to
one): logged, put in an exception message, set as an attribute. Each of N requests makes
a span and a log record; request K carries the surrogate everywhere.

Usage: export_surrogates.py N K
"""

import json
import logging
import sys

from otel_autoinstrument import get_tracer

n, bad_one = int(sys.argv[1]), int(sys.argv[2])
payload = json.loads('{"name": "caf\\udcff"}')["name"]
tracer = get_tracer("export.surrogates")
logger = logging.getLogger("export.surrogates")
for i in range(n):
    name = payload if i == bad_one else "cafe"
    with tracer.start_as_current_span("order " + name, attributes={"customer": name, "tags": ("a", name)}) as span:
        logger.warning("order for %s", name)
        try:
            raise ValueError("unknown customer " + name)
        except ValueError as exc:
            span.record_exception(exc)
print("made %d" % n, flush=True)

"""Run under otel-run with contrib instrumentations installed: prints which OpenTelemetry
modules were imported at start (none may be) and which contrib packages importing
sqlite3 loaded (only the sqlite3 one), then runs one traced query inside a span."""

import json
import sys

CONTRIB_MODULES = ["opentelemetry.instrumentation." + name for name in (
    "sqlite3", "aiohttp_client", "flask", "requests")]


def loaded(prefixes):
    return sorted(m for m in sys.modules if m.startswith(prefixes) and not m.startswith("opentelemetry.proto"))


at_start = loaded(("opentelemetry", "otel_autoinstrument.bridge", "importlib.metadata", "importlib_metadata"))

import sqlite3  # noqa: E402

after_sqlite3 = [m for m in CONTRIB_MODULES if m in sys.modules]

from otel_autoinstrument import get_tracer  # noqa: E402

with get_tracer("lazy").start_as_current_span("step"):
    connection = sqlite3.connect(":memory:")
    cursor = connection.cursor()
    cursor.execute("SELECT 1")
    cursor.fetchall()
    connection.close()
print(json.dumps({"at_start": at_start, "after_sqlite3": after_sqlite3}))

"""Django ORM: one CLIENT span per statement, through Django's own cursor wrapper.

Every backend's cursor is wrapped by ``django.db.backends.utils.CursorWrapper``, so
patching its ``execute`` and ``executemany`` covers all databases with the same spans
as SQLAlchemy (``instrumentation.db.DbSpans``). ``CursorDebugWrapper`` (DEBUG=True) defines its own
``execute`` / ``executemany`` too, but they only add query logging around
``super().execute(...)``: that call lands in the patched ``CursorWrapper`` method, so
patching the subclass as well would record every statement twice. ``callproc`` is not
traced.

Statements traced here are claimed (``claim_statement``) for the duration of the
cursor call, so the driver's own instrumentor (psycopg, psycopg2) adds no second span:
the ORM layer owns the statement.

The Django instrumentor calls ``patches(self)`` from its own ``patches()``; the base
class has set ``tracer`` and ``settings`` by then.
"""

from otel_autoinstrument.instrumentation import internal_error
from otel_autoinstrument.instrumentation.db import DbSpans, claim_statement, release_statement

_MODULE = "django.db.backends.utils"


def patches(instrumentor):
    """``[(module, "Class.method", wrapper)]`` for Django's database cursor."""
    spans = DbSpans(instrumentor.tracer, instrumentor.settings, instrumentor.meter)

    def traced(wrapped, instance, args, kwargs):
        # try/except rather than ``with capture_internal_errors(...)``: the same safety
        # net without three calls per use, on a path that runs for every statement.
        span = claim = None
        try:
            sql = args[0] if args else kwargs["sql"]
            span = spans.start(_target(spans, instance.db), sql)
            claim = claim_statement(span)
        except Exception:
            internal_error("django: starting a database span")
        error = None
        try:
            return wrapped(*args, **kwargs)
        except Exception as exc:
            error = exc
            raise
        finally:
            if span is not None:
                try:
                    if claim is not None:
                        release_statement(claim)
                    spans.finish(span, error)
                except Exception:
                    internal_error("django: finishing a database span")

    return [
        (_MODULE, "CursorWrapper.execute", traced),
        (_MODULE, "CursorWrapper.executemany", traced),
    ]


def _target(spans, db):
    """Connection attributes of a Django ``DatabaseWrapper`` (cached by ``DbSpans``)."""
    settings_dict = db.settings_dict
    return spans.target(db.vendor, settings_dict.get("NAME") or None,
                        settings_dict.get("HOST") or None, settings_dict.get("PORT") or None)

"""SQLAlchemy: one CLIENT span per statement sent to the database.

Listens to SQLAlchemy's own events on the ``Engine`` class rather than wrapping
``create_engine``: class-level listeners fire for every engine, created before or
after the agent started (also through a ``from sqlalchemy import create_engine``
bound early), for Core and ORM alike, and for the sync engine behind an
``AsyncEngine``. Since SQLAlchemy 2.0 ``handle_error`` is a dialect event; listening
on the ``Engine`` class still registers it for every dialect.

The span lives on SQLAlchemy's execution context from ``before_cursor_execute`` to
``after_cursor_execute`` (or ``handle_error``). One context may run several cursor
executions (2.0's "insertmanyvalues" batches), always one after the other, so one
slot per context is enough. Statements run without an execution context
(SQLAlchemy's internal ``_cursor_execute``, e.g. pre-executing a sequence on 1.4)
are not traced.
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors, is_suppressed

_SLOT = "_otel_autoinstrument_span"
_TARGET = "_otel_autoinstrument_db"


class SQLAlchemyInstrumentor(Instrumentor):
    name = "sqlalchemy"
    requires = ("sqlalchemy >= 1.4",)
    modules = ("sqlalchemy",)

    def __init__(self):
        super().__init__()
        self._spans = None
        self._listening = []

    def _instrument(self):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        from otel_autoinstrument.instrumentation.db import DbSpans  # loaded when SQLAlchemy is

        self._spans = DbSpans(self.tracer, self.settings)
        for identifier, listener in (
            ("before_cursor_execute", self._on_before_cursor_execute),
            ("after_cursor_execute", self._on_after_cursor_execute),
            ("handle_error", self._on_handle_error),
        ):
            event.listen(Engine, identifier, listener)
            self._listening.append((Engine, identifier, listener))

    def _uninstrument(self):
        from sqlalchemy import event

        while self._listening:
            target, identifier, listener = self._listening.pop()
            if event.contains(target, identifier, listener):
                event.remove(target, identifier, listener)

    def _on_before_cursor_execute(self, conn, cursor, statement, parameters, context, executemany):
        if context is None or is_suppressed():
            return
        with capture_internal_errors("sqlalchemy: starting a database span"):
            engine = conn.engine
            target = engine.__dict__.get(_TARGET)
            if target is None:
                target = self._target(engine)
            setattr(context, _SLOT, self._spans.start(target, statement))

    def _on_after_cursor_execute(self, conn, cursor, statement, parameters, context, executemany):
        span = getattr(context, _SLOT, None)
        if span is not None:
            with capture_internal_errors("sqlalchemy: finishing a database span"):
                setattr(context, _SLOT, None)
                span.end()

    def _on_handle_error(self, exception_context):
        context = exception_context.execution_context
        span = getattr(context, _SLOT, None)
        if span is not None:
            with capture_internal_errors("sqlalchemy: finishing a failed database span"):
                setattr(context, _SLOT, None)
                # The DBAPI's own exception: SQLAlchemy's wrapper repeats the bound
                # parameters in its message, which must never be recorded.
                self._spans.finish(span, exception_context.original_exception)

    def _target(self, engine):
        url = engine.url
        database = url.database
        if database == ":memory:":
            database = None
        target = self._spans.target(engine.dialect.name, database, url.host, url.port)
        engine.__dict__[_TARGET] = target
        return target

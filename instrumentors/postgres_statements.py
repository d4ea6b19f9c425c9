"""What psycopg (3) and psycopg2 share: one CLIENT span per statement a cursor sends.

A statement that an ORM above the driver already traces (SQLAlchemy, the Django ORM:
``statement_owner()`` is set) gets no second span; the SQL commenter then names the
ORM's span. Statements are ``str``, ``bytes`` or composed SQL (``psycopg.sql`` /
``psycopg2.sql`` objects, rendered with ``as_string`` for the span only); the commenter
changes ``str`` statements alone, since the others are the application's own objects.
"""

from otel_autoinstrument.instrumentation import capture_internal_errors, is_suppressed, semconv
from otel_autoinstrument.instrumentation.db import DbSpans, statement_owner, with_comment

SYSTEM = "postgresql"
_TARGET = "_otel_autoinstrument_db"


class StatementSpans:
    """Spans of one PostgreSQL driver instrumentor (``label`` names it in internal errors)."""

    def __init__(self, instrumentor, label):
        self.spans = DbSpans(instrumentor.tracer, instrumentor.settings, instrumentor.meter)
        self.commenter = self.spans.commenter
        self.label = label

    def target(self, connection, info):
        """The connection's attributes, kept on the connection (``info``: its ConnectionInfo)."""
        target = connection.__dict__.get(_TARGET)
        if target is None:
            target = self.spans.target(SYSTEM, info.dbname, info.host, info.port)
            connection.__dict__[_TARGET] = target
        return target

    def start(self, connection, info, statement, context, commentable=True, batch=None):
        """(span or None, statement to send) for ``statement`` on ``connection``.

        ``context`` renders composed SQL (a cursor or connection); ``commentable``: the
        driver would not cache this statement by its text; ``batch``: executemany's
        parameter sequence (its length, when it has one, is the batch size).
        """
        owner = statement_owner()
        if owner is not None:
            if self.commenter and commentable:
                statement = with_comment(statement, owner)
            return None, statement
        text = statement
        if text.__class__ is not str and hasattr(text, "as_string"):
            text = text.as_string(context)
        span = self.spans.start(self.target(connection, info), text)
        if batch is not None and hasattr(batch, "__len__") and len(batch) > 1:
            span.set_attribute(semconv.DB_OPERATION_BATCH_SIZE, len(batch))
        if self.commenter and commentable:
            statement = with_comment(statement, span)
        return span, statement

    def finish(self, span, error):
        with capture_internal_errors("%s: finishing a database span" % self.label):
            self.spans.finish(span, error)

    def call(self, start, wrapped, args, kwargs):
        """Run ``wrapped`` (a cursor method whose first argument is the statement) in a
        span; ``start(statement)`` gives (span, statement to send)."""
        span, args, kwargs = self._started(start, args, kwargs)
        return self.spans.run(span, wrapped, args, kwargs, self.label)

    async def call_async(self, start, wrapped, args, kwargs):
        span, args, kwargs = self._started(start, args, kwargs)  # when awaited, as the call itself
        return await self.spans.run_async(span, wrapped, args, kwargs, self.label)

    def _started(self, start, args, kwargs):
        """(the statement's span or None, the arguments to call with)"""
        if not is_suppressed():
            with capture_internal_errors("%s: starting a database span" % self.label):
                return _replaced(start, args, kwargs)
        return None, args, kwargs


def _replaced(start, args, kwargs):
    """(span, args, kwargs) with the statement (first argument) as ``start`` returns it."""
    if args:
        span, statement = start(args[0])
        if statement is not args[0]:
            args = (statement,) + tuple(args[1:])
        return span, args, kwargs
    key = next((k for k in ("query", "statement", "sql") if k in kwargs), None)
    if key is None:
        return None, args, kwargs  # no statement: the driver raises its own TypeError
    span, statement = start(kwargs[key])
    if statement is not kwargs[key]:
        kwargs = dict(kwargs)
        kwargs[key] = statement
    return span, args, kwargs

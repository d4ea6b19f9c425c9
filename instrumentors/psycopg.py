"""psycopg (3): one CLIENT span per statement, for sync and async connections.

Patched where psycopg defines them: ``Cursor.execute`` / ``executemany`` / ``copy`` and
their ``AsyncCursor`` twins, which every cursor class (client-side, raw, row factories)
inherits and which ``Connection.execute`` calls; server-side (named) cursors define
their own ``execute`` (a ``DECLARE ... CURSOR FOR`` of the statement, traced as the
statement; the FETCHes that follow are not separate spans). Connections from
``psycopg_pool`` are plain connections: a statement's parent is whatever span is
current where it runs, whichever request borrowed the connection. ``Cursor.stream``
is not traced.

``copy()`` returns a context manager whose ``__enter__`` sends the COPY: the span runs
from entering it to leaving it (the data transfer included).

SQL commenter: psycopg prepares a statement on the server once it has run
``prepare_threshold`` times, keyed by its text, and ``executemany`` always prepares; a
traceparent comment makes every text unique, so preparing would never pay off and its
cache would churn. The comment is therefore added only where psycopg never prepares:
client-side and server-side cursors, ``prepare=False``, COPY, or a connection whose
``prepare_threshold`` is None (the setting PgBouncer users need anyway).
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors, is_suppressed



class PsycopgInstrumentor(Instrumentor):
    name = "psycopg"
    requires = ("psycopg >= 3.1",)
    modules = ("psycopg",)

    def patches(self):
        import psycopg

        from .postgres_statements import StatementSpans  # the SQL helpers load with psycopg, not at start-up

        self._statements = StatementSpans(self, "psycopg")
        self._never_prepared = (psycopg.ClientCursor, psycopg.AsyncClientCursor,
                                psycopg.ServerCursor, psycopg.AsyncServerCursor)
        return [
            ("psycopg", "Cursor.execute", self._execute),
            ("psycopg", "Cursor.executemany", self._executemany),
            ("psycopg", "Cursor.copy", self._copy),
            ("psycopg", "ServerCursor.execute", self._execute),
            ("psycopg", "AsyncCursor.execute", self._execute_async),
            ("psycopg", "AsyncCursor.executemany", self._executemany_async),
            ("psycopg", "AsyncCursor.copy", self._copy),
            ("psycopg", "AsyncServerCursor.execute", self._execute_async),
        ]

    def _starter(self, cursor, kwargs, many=None):
        connection = cursor.connection

        def start(statement):
            commentable = self._statements.commenter and self._commentable(cursor, connection, kwargs)
            return self._statements.start(connection, connection.info, statement, cursor, commentable, many)

        return start

    def _commentable(self, cursor, connection, kwargs):
        if isinstance(cursor, self._never_prepared):
            return True
        prepare = kwargs.get("prepare")
        return prepare is False or (prepare is None and connection.prepare_threshold is None)

    def _execute(self, wrapped, instance, args, kwargs):
        return self._statements.call(self._starter(instance, kwargs), wrapped, args, kwargs)

    def _executemany(self, wrapped, instance, args, kwargs):
        params = args[1] if len(args) > 1 else kwargs.get("params_seq")
        return self._statements.call(self._starter(instance, kwargs, params), wrapped, args, kwargs)

    def _execute_async(self, wrapped, instance, args, kwargs):
        return self._statements.call_async(self._starter(instance, kwargs), wrapped, args, kwargs)

    def _executemany_async(self, wrapped, instance, args, kwargs):
        params = args[1] if len(args) > 1 else kwargs.get("params_seq")
        return self._statements.call_async(self._starter(instance, kwargs, params), wrapped, args, kwargs)

    def _copy(self, wrapped, instance, args, kwargs):
        return _TracedCopy(self, instance, wrapped, args, kwargs)


class _TracedCopy:
    """The context manager ``copy()`` returns, with the span from enter to exit.

    psycopg builds its own manager only when the statement is known: the original
    ``copy`` is called on enter, with the statement the commenter may have changed.
    """

    def __init__(self, instrumentor, cursor, wrapped, args, kwargs):
        self._instrumentor = instrumentor
        self._cursor = cursor
        self._wrapped = wrapped
        self._args = args
        self._kwargs = kwargs
        self._manager = None
        self._span = None

    def _start(self):
        args, kwargs = self._args, self._kwargs
        if not is_suppressed():
            with capture_internal_errors("psycopg: starting a COPY span"):
                statements = self._instrumentor._statements
                connection = self._cursor.connection
                statement = args[0] if args else kwargs["statement"]
                span, sent = statements.start(connection, connection.info, statement, self._cursor, True)
                self._span = span
                if sent is not statement:
                    if args:
                        args = (sent,) + tuple(args[1:])
                    else:
                        kwargs = dict(kwargs, statement=sent)
        self._manager = self._wrapped(*args, **kwargs)

    def _end(self, error):
        span, self._span = self._span, None
        if span is not None:
            self._instrumentor._statements.finish(span, error)

    def __enter__(self):
        self._start()
        try:
            return self._manager.__enter__()
        except Exception as exc:
            self._end(exc)
            raise

    def __exit__(self, exc_type, exc, tb):
        try:
            suppressed = self._manager.__exit__(exc_type, exc, tb)
        except Exception as error:
            self._end(error)
            raise
        self._end(None if suppressed else exc if isinstance(exc, Exception) else None)
        return suppressed

    async def __aenter__(self):
        self._start()
        try:
            return await self._manager.__aenter__()
        except Exception as exc:
            self._end(exc)
            raise

    async def __aexit__(self, exc_type, exc, tb):
        try:
            suppressed = await self._manager.__aexit__(exc_type, exc, tb)
        except Exception as error:
            self._end(error)
            raise
        self._end(None if suppressed else exc if isinstance(exc, Exception) else None)
        return suppressed

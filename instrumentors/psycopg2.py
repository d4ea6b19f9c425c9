"""psycopg2: one CLIENT span per statement.

psycopg2's connection and cursor are C types whose methods cannot be replaced, so
``psycopg2.connect`` (which the pool module, SQLAlchemy and Django call) is patched to
pass a ``connection_factory``: a subclass of the one the application chose (the plain
``connection`` by default) whose ``cursor()`` hands out a subclass of the cursor class
asked for (``cursor_factory`` argument, else the connection's, else the plain cursor;
``extras.DictCursor`` and friends included, and the class an ``extras.DictConnection``
and friends pick in their own ``cursor()``: the tracing one runs after theirs). The subclasses only add spans around
``execute``, ``executemany``, ``copy_expert``, ``copy_from`` and ``copy_to``;
``isinstance`` checks and ``register_type`` see the application's classes. A factory
that is a function rather than a cursor class is used as it is, untraced; so are
connections built without ``psycopg2.connect``. ``callproc`` is not traced.

psycopg2 keeps no statement cache: the SQL commenter, when enabled, applies to every
``str`` statement (COPY statements that psycopg2 builds itself excepted).
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors


_TRACED = "_otel_autoinstrument_traced"


class Psycopg2Instrumentor(Instrumentor):
    name = "psycopg2"
    # Either distribution provides the psycopg2 module.
    requires = ("psycopg2 >= 2.8", "psycopg2-binary >= 2.8")
    modules = ("psycopg2",)

    def __init__(self):
        super().__init__()
        self._connections = {}  # application's connection class -> traced subclass
        self._cursors = {}  # application's cursor class -> traced subclass

    def patches(self):
        from .postgres_statements import StatementSpans  # the SQL helpers load with psycopg2, not at start-up

        self._statements = StatementSpans(self, "psycopg2")
        return [("psycopg2", "connect", self._connect)]

    def _connect(self, wrapped, instance, args, kwargs):
        with capture_internal_errors("psycopg2: tracing a new connection"):
            args, kwargs = self._with_factory(args, kwargs)
        return wrapped(*args, **kwargs)

    def _with_factory(self, args, kwargs):
        if len(args) > 1:
            traced = self._connection_class(args[1])
            return (args[0], traced) + tuple(args[2:]), kwargs
        traced = self._connection_class(kwargs.get("connection_factory"))
        return args, dict(kwargs, connection_factory=traced)

    def _connection_class(self, base):
        from psycopg2.extensions import connection

        if base is None:
            base = connection
        if not isinstance(base, type) or not issubclass(base, connection) or base.__dict__.get(_TRACED):
            return base
        traced = self._connections.get(base)
        if traced is None:
            traced = self._connections[base] = _traced_connection(self, base)
        return traced

    def connection_mixin(self):
        mixin = self.__dict__.get("_mixin")
        if mixin is None:
            mixin = self._mixin = _connection_mixin(self)
        return mixin

    def cursor_class(self, base):
        """The traced subclass of cursor class ``base`` (``base`` itself if it cannot be)."""
        from psycopg2.extensions import cursor

        if not isinstance(base, type) or not issubclass(base, cursor) or base.__dict__.get(_TRACED):
            return base
        traced = self._cursors.get(base)
        if traced is None:
            traced = self._cursors[base] = _traced_cursor(self._statements, base)
        return traced


def _traced_connection(instrumentor, base):
    """A subclass of ``base`` whose cursors are traced. The tracing ``cursor()`` sits
    below the application's class in the method order (``base``, then the mixin, then
    ``connection``), so a ``cursor()`` of its own (``extras.DictConnection`` and friends
    choose their cursor class there) runs first and its choice is the one traced."""
    from psycopg2.extensions import connection

    mixin = instrumentor.connection_mixin()
    bases = (mixin,) if base is connection else (base, mixin)
    return type(base.__name__, bases, _same_names(base))


def _connection_mixin(instrumentor):
    from psycopg2.extensions import connection, cursor as plain_cursor

    class TracedCursors(connection):
        def cursor(self, *args, **kwargs):
            with capture_internal_errors("psycopg2: tracing a new cursor"):
                # cursor(name=None, cursor_factory=None, withhold=False, scrollable=None)
                if len(args) > 1:
                    factory = args[1] or self.cursor_factory or plain_cursor
                    args = (args[0], instrumentor.cursor_class(factory)) + args[2:]
                else:
                    factory = kwargs.get("cursor_factory") or self.cursor_factory or plain_cursor
                    kwargs = dict(kwargs, cursor_factory=instrumentor.cursor_class(factory))
            return connection.cursor(self, *args, **kwargs)

    return TracedCursors


def _traced_cursor(statements, base):
    def starter(cursor, batch=None, commentable=True):
        connection = cursor.connection

        def start(statement):
            return statements.start(connection, connection.info, statement, cursor,
                                    statements.commenter and commentable, batch)

        return start

    def execute(self, *args, **kwargs):
        return statements.call(starter(self), _bound(base.execute, self), args, kwargs)

    def executemany(self, *args, **kwargs):
        params = args[1] if len(args) > 1 else kwargs.get("vars_list")
        return statements.call(starter(self, params), _bound(base.executemany, self), args, kwargs)

    def copy_expert(self, *args, **kwargs):
        return statements.call(starter(self), _bound(base.copy_expert, self), args, kwargs)

    def copy_from(self, file, table, *args, **kwargs):
        def run(statement):
            return base.copy_from(self, file, table, *args, **kwargs)

        return statements.call(starter(self, commentable=False), run, ("COPY %s FROM STDIN" % (table,),), {})

    def copy_to(self, file, table, *args, **kwargs):
        def run(statement):
            return base.copy_to(self, file, table, *args, **kwargs)

        return statements.call(starter(self, commentable=False), run, ("COPY %s TO STDOUT" % (table,),), {})

    return type(base.__name__, (base,), dict(_same_names(base), execute=execute, executemany=executemany,
                                             copy_expert=copy_expert, copy_from=copy_from, copy_to=copy_to))


def _same_names(base):
    """The subclass shows the application's class names (in reprs, tracebacks, logs)."""
    return {_TRACED: True, "__module__": base.__module__, "__qualname__": base.__qualname__, "__doc__": base.__doc__}


def _bound(method, instance):
    def call(*args, **kwargs):
        return method(instance, *args, **kwargs)

    return call

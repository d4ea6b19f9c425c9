"""SQLAlchemy: one CLIENT span per statement sent to the database.

Listens to SQLAlchemy's own events on each ``Engine`` instance, never on the ``Engine``
class: a class-level listener sets ``Engine._has_events`` for good (removing it does not
reset the flag), so every engine, traced or not, would report events and dispatch
them, which SQLAlchemy's own tests (``test_add_event_after_connect``) notice.

When: at the engine's first ``Engine.connect()`` (patched where it is defined), just
before the connection is made, not when the engine is created. Every statement runs on
a ``Connection`` and every ``Connection`` an application makes comes from
``Engine.connect()`` (``engine.begin()``, the ORM's ``Session``, the sync engine behind an
``AsyncEngine``, 1.4's ``engine.execute()``), so nothing is missed; and an engine
nobody has connected yet is as SQLAlchemy made it (``_has_events`` False), which
SQLAlchemy's own tests check on every new engine. ``create_engine`` itself is not
wrapped: a name bound before the agent started would miss it. ``Engine.execution_options()``
copies (``OptionEngine``) share their parent's listeners through SQLAlchemy's dispatch
join, so the agent listens on the root engine (``_proxied``), once, under a lock (two
threads connecting first at once must not add the listeners twice).

Connections opened before the agent started (SQLAlchemy imported before a late
``start()``) never call ``connect()`` again: their engines are found once, at
instrumentation, by walking the garbage collector's objects, and listened to at once.
That walk costs a few milliseconds on a large heap, so it runs only when SQLAlchemy was
imported before the agent (``imported_before_start``). SQLAlchemy joins a connection's
dispatch to its engine's, so listeners added later reach those connections.

A connection made with ``_has_events=False`` keeps its promise: it dispatches no
engine event, so its statements are not traced.

The span lives on SQLAlchemy's execution context from ``before_cursor_execute`` to
``after_cursor_execute`` (or ``handle_error``, a dialect event since 2.0, reached
through the engine). One context may run several cursor executions (2.0's
"insertmanyvalues" batches), always one after the other, so one slot per context is
enough. Statements run without an execution context (SQLAlchemy's internal
``_cursor_execute``, e.g. pre-executing a sequence on 1.4) are not traced.

Statements traced here are claimed (``claim_statement``) from before to after the
cursor execution, so the driver's own instrumentor (psycopg, psycopg2) adds no second
span: this layer owns the statement, for every driver, instrumented or not.
"""

import functools

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors, internal_error, is_suppressed

_SLOT = "_otel_autoinstrument_span"
_CLAIM = "_otel_autoinstrument_claim"


class SQLAlchemyInstrumentor(Instrumentor):
    name = "sqlalchemy"
    requires = ("sqlalchemy >= 1.4",)
    modules = ("sqlalchemy",)

    def __init__(self):
        super().__init__()
        self._spans = None
        self._engines = None  # engine -> its listeners, for uninstrument()
        self._lock = None

    def patches(self):
        return [("sqlalchemy.engine.base", "Engine.connect", self._engine_connect)]

    def _instrument(self):
        import threading
        import weakref

        from otel_autoinstrument.instrumentation.db import DbSpans, claim_statement, release_statement

        self._spans = DbSpans(self.tracer, self.settings, self.meter)  # loaded when SQLAlchemy is
        self._claim, self._release = claim_statement, release_statement
        self._engines = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        if self.imported_before_start:
            for engine in _existing_engines():
                with capture_internal_errors("sqlalchemy: listening to an engine"):
                    self.listen(engine)

    def _uninstrument(self):
        from sqlalchemy import event

        with self._lock:  # not while a first connect is adding listeners
            engines, self._engines = self._engines, None
        for engine, listeners in list((engines or {}).items()):
            for identifier, listener in listeners:
                if event.contains(engine, identifier, listener):
                    event.remove(engine, identifier, listener)

    def _engine_connect(self, wrapped, instance, args, kwargs):
        engines = self._engines
        if engines is not None:
            try:
                engine = instance
                while "_proxied" in engine.__dict__:  # an execution_options() copy
                    engine = engine._proxied
                if engine not in engines:
                    self.listen(engine)
            except Exception:
                internal_error("sqlalchemy: listening to an engine")
        return wrapped(*args, **kwargs)

    def listen(self, engine):
        """Trace the statements of ``engine`` (and of its ``execution_options()`` copies)."""
        with self._lock:
            self._listen(engine)

    def _listen(self, engine):
        from sqlalchemy import event

        engines = self._engines
        if engines is None or engine in engines:
            return
        engines[engine] = ()  # tried once: an engine that cannot be listened to is reported once
        url = engine.url
        database = url.database
        target = self._spans.target(engine.dialect.name, None if database == ":memory:" else database,
                                    url.host, url.port)
        # The span's start last: another thread may run a statement on this engine as
        # soon as it is added (it sees the engine as listened to), and what ends the span
        # must be in place by then.
        listeners = (
            ("handle_error", self._on_handle_error),
            ("after_cursor_execute", self._on_after_cursor_execute),
            ("before_cursor_execute", functools.partial(self._on_before_cursor_execute, target)),
        )
        added = []
        try:
            for identifier, listener in listeners:
                # retval=True: the listener hands back the statement and parameters itself,
                # which spares SQLAlchemy's own wrapper (one call per statement).
                event.listen(engine, identifier, listener, retval=identifier == "before_cursor_execute")
                added.append((identifier, listener))
            _first_error_listener(engine, self._on_handle_error)
        except BaseException:
            # All or nothing (e.g. a test's mock dialect refuses handle_error): half the
            # listeners would start spans that nothing ends on an error.
            for identifier, listener in added:
                event.remove(engine, identifier, listener)
            raise
        engines[engine] = listeners

    # The per-statement listeners guard with try/except rather than ``with
    # capture_internal_errors(...)``: the same safety net without three calls per use.
    def _on_before_cursor_execute(self, target, conn, cursor, statement, parameters, context, executemany):
        """Start the statement's span and claim the statement; returns ``statement`` and
        ``parameters`` as they came (a ``retval=True`` listener)."""
        # skip_user_error_events (the MySQL dialect's table probes): no handle_error would
        # end the span of a statement that fails.
        if context is not None and not is_suppressed() and \
                not context.execution_options.get("skip_user_error_events"):
            try:
                span = self._spans.start(target, statement)
                setattr(context, _SLOT, span)
                setattr(context, _CLAIM, self._claim(span))
            except Exception:
                internal_error("sqlalchemy: starting a database span")
        return statement, parameters

    def _on_after_cursor_execute(self, conn, cursor, statement, parameters, context, executemany):
        span = getattr(context, _SLOT, None)
        if span is not None:
            try:
                setattr(context, _SLOT, None)
                self._release(getattr(context, _CLAIM))
                self._spans.finish(span)
            except Exception:
                internal_error("sqlalchemy: finishing a database span")

    def _on_handle_error(self, exception_context):
        context = exception_context.execution_context
        span = getattr(context, _SLOT, None)
        if span is not None:
            with capture_internal_errors("sqlalchemy: finishing a failed database span"):
                setattr(context, _SLOT, None)
                self._release(getattr(context, _CLAIM))
                # The DBAPI's own exception: SQLAlchemy's wrapper repeats the bound
                # parameters in its message, which must never be recorded.
                self._spans.finish(span, exception_context.original_exception)


def _first_error_listener(engine, listener):
    """Put ``listener`` first among ``engine``'s own handle_error listeners. SQLAlchemy
    stops at the first one that raises (the documented way to replace an error), and
    ours ends the span and releases the statement's claim. ``insert=True`` would say
    this, but SQLAlchemy drops it for this event (1.4 and 2.x): the listeners' deque is
    reordered instead, where it is one (else the order stays, which only matters when
    an application listener raises)."""
    import collections

    for dispatch in (getattr(engine.dialect, "dispatch", None), engine.dispatch):  # 2.x: the dialect's
        listeners = getattr(getattr(dispatch, "handle_error", None), "listeners", None)
        if isinstance(listeners, collections.deque) and listener in listeners:
            listeners.remove(listener)
            listeners.appendleft(listener)
            return


def _existing_engines():
    """The engines alive now, except ``execution_options()`` copies (their parent's
    listeners reach them)."""
    import gc

    from sqlalchemy.engine.base import Engine, OptionEngineMixin

    types = set()
    pending = [Engine]
    while pending:
        cls = pending.pop()
        if cls not in types:
            types.add(cls)
            pending.extend(cls.__subclasses__())
    types = {cls for cls in types if not issubclass(cls, OptionEngineMixin)}
    # An instance refers to its class (a heap type): one walk finds them all.
    return [obj for obj in gc.get_referrers(*types) if type(obj) in types]

"""Database helpers of the plugin API: CLIENT spans for SQL statements, as the built-in
SQLAlchemy and Django ORM instrumentations make them (a stable part of the API).

Stable database conventions: the span is named ``{db.operation.name} {db.collection.name}``
(``SELECT users``), else the operation or the system name, and carries
``db.system.name``, ``db.namespace``, ``db.query.text`` (literals replaced by ``?``
unless OTEL_PYTHON_DB_QUERY_SANITIZE=false; cut to the attribute length limit),
``db.operation.name``, ``db.collection.name`` and, for networked databases,
``server.address`` / ``server.port``. Bound parameters are never recorded.

The text and the name are computed by the rules of the database's dialect (the system
given to ``target``: MySQL's backslash escapes and ``#`` comments are not SQLite's, see
``redaction.sql``). A failed statement's error message goes through the same scrubber
(``scrub_db_error``): drivers quote the offending literal in it (``unrecognized token:
"'secret"``), so the exception event's message and stack trace and the status
description get ``?`` instead.

One span per statement: a layer above the driver (an ORM) that traces a statement claims
it (``claim_statement``) while the driver runs it, and driver instrumentors stay quiet
while a claim is current (``statement_owner``): the outermost layer owns the span. It
started first, so it alone can decide before the inner one runs, and it covers every
driver, instrumented or not. The SQL commenter (``with_comment``) names the owner's span.

Applications run the same few statements over and over, so everything derived from
the statement text is computed once per (database system, text) and cached; the cost
of a traced statement is then two dict lookups, one dict copy and the span itself.

With a ``meter`` (the instrumentor's ``self.meter``), ``finish`` also records
``db.client.operation.duration`` for every statement, sampled or not, with
``db.system.name``, ``db.namespace``, ``db.operation.name``, ``db.collection.name``,
``server.address``, ``server.port`` and ``error.type``: end a statement's span with
``finish``, not ``span.end()``.
"""

from contextvars import ContextVar
from time import time_ns

from .. import semconv
from .._log import capture_internal_errors
from ..redaction.sql import db_system_name, sanitize_sql, span_name_for, summarize_sql, truncate
from ..redaction.sql_errors import scrub_error_message, scrub_traceback
from ..trace.span import SpanKind, qualified_type, record_error
from .metrics import DbClientMetrics, UnsampledOperation, measured, started

__all__ = ["DbSpans", "claim_statement", "db_system_name", "record_db_error", "release_statement", "sanitize_sql",
           "scrub_db_error", "span_name_for", "statement_owner", "summarize_sql", "traceparent_comment", "with_comment"]

# Statements longer than this are described on every call rather than cached, so a
# stream of distinct bulk statements cannot pin megabytes of text.
_CACHE_MAX_LEN = 4096
_CACHE_MAX_ENTRIES = 1024

_CLIENT = SpanKind.CLIENT


class DbSpans:
    """Start and finish database CLIENT spans for one instrumentor (its tracer and settings)."""

    def __init__(self, tracer, settings, meter=None):
        self.tracer = tracer
        self.metrics = DbClientMetrics(meter) if meter is not None and meter.enabled else None
        self.sanitize = settings.python_db_query_sanitize
        self.length_limit = settings.span_attribute_value_length_limit
        self.commenter = settings.python_db_sqlcommenter
        self._statements = {}  # db.system.name -> {statement text -> (span name or None, attributes)}
        self._targets = {}  # (system, namespace, address, port) -> connection attributes

    def target(self, system, namespace=None, address=None, port=None):
        """The attributes describing where statements run, built once per database.

        ``system`` is a SQLAlchemy dialect or Django vendor name (``postgresql``,
        ``sqlite``, ...); ``namespace`` the database name; ``address`` and ``port``
        the server's, for networked databases (port only when the address is known).
        """
        key = (system, namespace, address, port)
        found = self._targets.get(key)
        if found is None:
            attributes = {semconv.DB_SYSTEM_NAME: db_system_name(system)}
            if namespace:
                attributes[semconv.DB_NAMESPACE] = str(namespace)
            if address:
                attributes[semconv.SERVER_ADDRESS] = str(address)
                if port:
                    try:
                        attributes[semconv.SERVER_PORT] = int(port)
                    except (TypeError, ValueError):
                        pass
            if len(self._targets) >= 64:
                self._targets.clear()
            found = self._targets[key] = attributes
        return found

    def start(self, target, statement):
        """Start (not make current) the CLIENT span of ``statement`` run on ``target``."""
        if statement.__class__ is not str:
            statement = _as_text(statement)
        system = target[semconv.DB_SYSTEM_NAME]
        statements = self._statements.get(system)
        described = statements.get(statement) if statements is not None else None
        if described is None:
            described = self._describe(statement, system)
        name, statement_attributes = described
        attributes = target.copy()
        attributes.update(statement_attributes)
        if name is None:
            name = target[semconv.DB_SYSTEM_NAME]
        return self.start_span(name, attributes)

    def start_span(self, name, attributes):
        """Start (not make current) a CLIENT span ``name`` with ``attributes`` made by the
        caller (a client that describes its operations itself, such as Redis's); end it
        with ``finish``, which records its duration, sampled or not."""
        span = self.tracer.start_span(name, _CLIENT, attributes)
        if self.metrics is not None and not span.is_recording():
            span = measured(span, _metric_values(attributes))  # not sampled: the duration still counts
        return span

    def _describe(self, statement, system):
        operation, collection = summarize_sql(statement, system)
        text = sanitize_sql(statement, system) if self.sanitize else statement
        attributes = {semconv.DB_QUERY_TEXT: truncate(text, self.length_limit)}
        if operation:
            attributes[semconv.DB_OPERATION_NAME] = operation
            if collection:
                attributes[semconv.DB_COLLECTION_NAME] = collection
        # Without an operation the name is the system's, known only per target.
        described = (span_name_for(operation, collection, None) if operation else None, attributes)
        if len(statement) <= _CACHE_MAX_LEN:
            cache = self._statements.get(system)
            if cache is None:
                cache = self._statements[system] = {}
            if len(cache) >= _CACHE_MAX_ENTRIES:
                cache.clear()  # safe while other threads read it; refills with what is in use
            cache[statement] = described
        return described

    def run(self, span, call, args, kwargs, label="a database client"):
        """``call(*args, **kwargs)`` as the operation of ``span`` (None: untraced): its
        result, or its exception, as they are; the span finished either way, an error of
        the agent's own in doing so logged (``label``: whose), never raised."""
        if span is None:
            return call(*args, **kwargs)
        error = None
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            error = exc
            raise
        finally:
            with capture_internal_errors("%s: finishing a database span" % label):
                self.finish(span, error)

    async def run_async(self, span, call, args, kwargs, label="a database client"):
        """``run`` for a coroutine function."""
        if span is None:
            return await call(*args, **kwargs)
        error = None
        try:
            return await call(*args, **kwargs)
        except Exception as exc:
            error = exc
            raise
        finally:
            with capture_internal_errors("%s: finishing a database span" % label):
                self.finish(span, error)

    def finish(self, span, error=None):
        """End ``span``; with ``error``: status ERROR, ``error.type`` and an exception event
        whose message (and its copies in the stack trace and status) is scrubbed of
        literals, unless OTEL_PYTHON_DB_QUERY_SANITIZE=false. Records the statement's
        duration when metrics are on."""
        if error is not None:
            record_db_error(span, error, self.sanitize)
        span.end()
        if self.metrics is not None:
            start = started(span)
            if start is None:
                return  # a span this helper did not start
            seconds = max(0.0, ((span.end_ns or time_ns()) - start) / 1e9)
            if type(span) is UnsampledOperation:
                values = span.data  # made at start, for an operation without error
                if error is not None:
                    values = values[:-1] + (qualified_type(error),)
            else:
                values = _metric_values(span.attributes, qualified_type(error) if error is not None else None)
            self.metrics.ended(seconds, values, span)


def record_db_error(span, error, scrub=True):
    """``record_error`` for a database exception (the exception event, status ERROR,
    ``error.type``) with the message scrubbed of literals (``scrub``) wherever it appears.
    For plugins that end their database spans themselves."""
    if scrub and span.is_recording():
        system = span.attributes.get(semconv.DB_SYSTEM_NAME)
        record_error(span, error, scrub=lambda text: scrub_error_message(text, system),
                     scrub_stacktrace=lambda text: scrub_traceback(text, system))
    else:
        record_error(span, error)


def scrub_db_error(message, system=None):
    """A database error message with the literals it quotes replaced by ``?``, by the
    rules of ``system`` (``db.system.name``, a dialect or vendor name; None: default)."""
    return scrub_error_message(message, system)


def _metric_values(attributes, error_type=None):
    """The duration metric's attribute values, from a statement span's attributes."""
    get = attributes.get
    return (get(semconv.DB_SYSTEM_NAME), get(semconv.DB_NAMESPACE), get(semconv.DB_OPERATION_NAME),
            get(semconv.DB_COLLECTION_NAME), get(semconv.SERVER_ADDRESS), get(semconv.SERVER_PORT), error_type)


def _as_text(statement):
    if isinstance(statement, (bytes, bytearray)):
        return bytes(statement).decode("utf-8", "replace")
    return str(statement)


# --- one span per statement: the outermost database layer owns it ---------------------

_statement_owner = ContextVar("otel_autoinstrument.db.statement_owner", default=None)


def claim_statement(span):
    """Mark the statement about to be sent as traced by ``span``: a layer above the
    driver (an ORM: SQLAlchemy, the Django ORM) calls it just before the driver runs the
    statement, and driver instrumentors underneath make no span of their own (their SQL
    commenter still names ``span``). Returns a token for ``release_statement``."""
    return _statement_owner.set(span)


def release_statement(token):
    try:
        _statement_owner.reset(token)
    except (ValueError, RuntimeError):  # a token from another context, or already used
        _statement_owner.set(None)


def statement_owner():
    """The span of the outer layer that traces the statement being sent, or None."""
    return _statement_owner.get()


# --- SQL commenter ---------------------------------------------------------------------

def traceparent_comment(span):
    """``/*traceparent='00-<trace>-<span>-<flags>'*/`` for ``span`` (the sqlcommenter
    format), or "" for an invalid span context."""
    context = span.get_span_context()
    if not context.is_valid:
        return ""
    return "/*traceparent='00-%032x-%016x-%02x'*/" % (context.trace_id, context.span_id, context.trace_flags & 0xFF)


def with_comment(statement, span):
    """``statement`` with ``span``'s traceparent comment appended (str statements only;
    anything else is returned as it is)."""
    if statement.__class__ is not str:
        return statement
    comment = traceparent_comment(span)
    return statement + " " + comment if comment else statement

"""The standard library's ``logging``: records exported over OTLP, trace ids in text logs.

Export. The agent adds no handler to the root logger: a root handler changes what the
application does (``logging.basicConfig()`` becomes a no-op, ``lastResort`` stops
printing, Werkzeug's and Flask's "add my console handler if the root has none" checks
change their answer). Instead ``Logger.callHandlers`` is replaced: the application's
handler walk runs untouched, then the record goes to the log pipeline. ``Logger.handle``
calls ``callHandlers`` for a record that passed the logger's level, ``disabled`` flag
and filters, so the agent exports what the application's logging lets through, and
nothing ``basicConfig``/``dictConfig`` do (replacing handlers, ``disable_existing_loggers``,
closing every handler) can detach or close it: there is no handler object.

Which records: every record some logger handles, whether or not it propagates to the
root. Loggers with ``propagate = False`` belong to the servers (``gunicorn.error``,
``uvicorn.access``) and their records are part of what the application emits; a root
handler would miss them. Not exported: records below OTEL_PYTHON_LOG_LEVEL and the
agent's own ``otel_autoinstrument`` logger. Records that exist only because of the agent
-- logged in its export thread (``is_suppressed()``: urllib3, requests) or while it
converts a record (an ``extra=`` value whose ``__str__`` logs) -- are dropped before any
handler sees them, as an uninstrumented run never makes them. A custom ``Logger``
subclass that overrides ``callHandlers`` without calling the base method is not seen.

Plain functions, not wrapt: ``callHandlers`` runs for every record (a wrapt wrapper call
costs several times a plain function's) and ``import logging`` happens in nearly every
process, which should not have to import wrapt (figures in docs/architecture.md). The ids are the span current where the
record is handled (the thread and context that logged it); encoding happens in the
export thread.

Correlation. The record factory is wrapped so every ``LogRecord`` carries
``otelTraceID``, ``otelSpanID`` (zeros outside a span), ``otelTraceSampled`` and
``otelServiceName``; ``logging.setLogRecordFactory`` is replaced too, so a factory the
application installs later is wrapped in turn. With OTEL_PYTHON_LOG_CORRELATION=true,
``logging.lastResort`` (what prints a record no handler took) becomes a stderr handler
with a format showing those fields and no level threshold -- what ``basicConfig`` would
give -- while any configuration of the application's own (a later ``basicConfig()``
included) takes over, since ``lastResort`` is used only when no handler exists.
"""

from _thread import _local

from otel_autoinstrument.instrumentation import (
    Instrumentor, Scope, get_current_span, internal_error, is_suppressed, log_pipeline_record, semconv)

AGENT_LOGGER = "otel_autoinstrument"
_AGENT_PREFIX = AGENT_LOGGER + "."

DEFAULT_FORMAT = ("%(asctime)s %(levelname)s [%(name)s] [%(filename)s:%(lineno)d] "
                  "[trace_id=%(otelTraceID)s span_id=%(otelSpanID)s "
                  "resource.service.name=%(otelServiceName)s trace_sampled=%(otelTraceSampled)s] "
                  "- %(message)s")
CORRELATION_FIELDS = ("otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName")
ZERO_TRACE_ID = "0" * 32
ZERO_SPAN_ID = "0" * 16

_PRIMITIVES = frozenset((str, int, float, bool))
_converting = _local()  # .active: this thread is converting a record (no await happens meanwhile)


def severity_number(levelno):
    """OTLP severity of a logging level: DEBUG 5, INFO 9, WARNING 13, ERROR 17, CRITICAL 21.

    A custom level falls in the band of the nearest standard level at or below it, one
    step up per level above it, capped at the band's top (25 -> INFO4 = 12,
    5 -> TRACE4 = 4, 55 -> FATAL4 = 24): the OpenTelemetry SDK's mapping.
    """
    if levelno <= 0:
        return 1
    band = min(levelno // 10, 5)  # 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 fatal
    return 1 + band * 4 + min(levelno - band * 10, 3)


_SEVERITY = {level: severity_number(level) for level in range(0, 61)}


class LoggingInstrumentor(Instrumentor):
    name = "logging"
    modules = ("logging",)
    _restore = ()
    _saved_last_resort = None

    def _instrument(self):
        import logging

        self._restore = []
        self._saved_last_resort = None
        service_name = self.agent.resource.service_name
        self._replace(logging, "setLogRecordFactory", _factory_setter(logging.setLogRecordFactory, service_name))
        logging.setLogRecordFactory(logging.getLogRecordFactory())  # now wrapped
        export = None
        pipeline = self.agent.logs
        if pipeline is not None:
            # What every LogRecord has; anything else came through extra= (or a custom
            # record factory) and is exported as an attribute.
            standard = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
                "message", "asctime"} | frozenset(CORRELATION_FIELDS)
            export = _exporter(pipeline, standard)
        level = logging.getLevelName(self.settings.python_log_level.upper())
        self._replace(logging.Logger, "callHandlers",
                      _capturing(logging.Logger.__dict__["callHandlers"], export, level))
        if self.settings.python_log_correlation and not _is_ours(logging.lastResort):
            self._saved_last_resort = logging.lastResort
            logging.lastResort = _correlation_stderr_handler()

    def _uninstrument(self):
        import logging

        if not self._restore:
            return  # another instance did the work (and undoes it)
        for owner, attribute, original in reversed(list(self._restore)):
            setattr(owner, attribute, original)
        self._restore = []
        inner = getattr(logging.getLogRecordFactory(), "otel_wrapped_factory", None)
        if inner is not None:
            logging.setLogRecordFactory(inner)
        if self._saved_last_resort is not None and _is_ours(logging.lastResort):
            logging.lastResort = self._saved_last_resort
            self._saved_last_resort = None

    def _replace(self, owner, attribute, replacement):
        original = getattr(owner, attribute)
        if getattr(original, "otel_original", None) is not None:
            return  # already ours (another agent instance in this process)
        replacement.otel_original = original
        setattr(owner, attribute, replacement)
        self._restore.append((owner, attribute, original))


def _is_ours(handler):
    return getattr(handler, "otel_correlation_handler", False)


def _is_agent_logger(name):
    return name == AGENT_LOGGER or name.startswith(_AGENT_PREFIX)


# --- export -----------------------------------------------------------------------


def _capturing(original, export, level):
    """``Logger.callHandlers`` that also hands the record to ``export`` (if any)."""
    converting = _converting

    def callHandlers(self, record):
        if (getattr(converting, "active", False) or is_suppressed()) and not _is_agent_logger(self.name):
            return None  # made by the agent's own work: an uninstrumented run has no such record
        result = original(self, record)
        if export is not None:
            try:
                if record.levelno >= level:
                    export(record)
            except Exception:
                internal_error("exporting a log record")
        return result

    callHandlers.__doc__ = original.__doc__
    callHandlers.__wrapped__ = original
    return callHandlers


def _exporter(pipeline, standard):
    """``export(record)``: convert a ``logging.LogRecord`` and hand it to the pipeline."""
    make = log_pipeline_record()
    emit = pipeline.emit
    count_limit, length_limit = pipeline.attribute_count, pipeline.attribute_length
    converting = _converting
    scopes = {}
    file_path, function_name, line_number = (
        semconv.CODE_FILE_PATH, semconv.CODE_FUNCTION_NAME, semconv.CODE_LINE_NUMBER)
    thread_id, thread_name = semconv.THREAD_ID, semconv.THREAD_NAME

    def convert(record):
        context = get_current_span().context  # outside a span: the invalid context, all zeros
        trace_id, span_id, flags = context.trace_id, context.span_id, context.trace_flags
        attributes = {file_path: record.pathname, function_name: record.funcName,
                      line_number: record.lineno, thread_id: record.thread, thread_name: record.threadName}
        if record.funcName is None or record.thread is None:  # makeLogRecord(), logThreads off
            attributes = {k: v for k, v in attributes.items() if v is not None}
        exc_info = record.exc_info
        if exc_info and exc_info[0] is not None:
            attributes.update(_exception_attributes(record, exc_info))
        fields = record.__dict__
        if not fields.keys() <= standard:
            for key, value in fields.items():
                if key not in standard and value is not None:
                    attributes[key] = value if type(value) in _PRIMITIVES else _text(value)
        dropped = 0
        if len(attributes) > count_limit:
            dropped = len(attributes) - count_limit
            attributes = dict(list(attributes.items())[:count_limit])
        if length_limit is not None:
            for key, value in attributes.items():
                if type(value) is str and len(value) > length_limit:
                    attributes[key] = value[:length_limit]
        name = record.name
        scope = scopes.get(name)
        if scope is None:
            scope = scopes[name] = Scope(name)
        levelno = record.levelno
        severity = _SEVERITY.get(levelno) or severity_number(levelno)
        message = fields.get("message")  # set when a handler's Formatter ran: reused
        return make(message if type(message) is str else _message(record), severity, record.levelname, attributes,
                    int(record.created * 1e9), trace_id, span_id, flags, scope, dropped)

    def export(record):
        name = record.name
        if name == AGENT_LOGGER or name.startswith(_AGENT_PREFIX):
            return
        converting.active = True
        try:
            emit(convert(record))
        finally:
            converting.active = False

    return export


def _message(record):
    message = record.__dict__.get("message")  # set when a handler's Formatter ran: reuse it
    if type(message) is str:
        return message
    try:
        return record.getMessage()
    except Exception:
        # The application's handlers report this through handleError(); the record is
        # still worth exporting, with its unformatted message.
        return "%s %r" % (record.msg, record.args)


def _text(value):
    try:
        return str(value)
    except Exception:
        return "<unprintable %s>" % type(value).__qualname__


def _exception_attributes(record, exc_info):
    exc_type, exc = exc_info[0], exc_info[1]
    module = getattr(exc_type, "__module__", None)
    type_name = getattr(exc_type, "__qualname__", str(exc_type))
    if module not in ("builtins", "__main__", None):
        type_name = module + "." + type_name
    stacktrace = record.exc_text  # a handler's Formatter has usually formatted it already
    if not stacktrace:
        import traceback

        stacktrace = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    return {semconv.EXCEPTION_TYPE: type_name, semconv.EXCEPTION_MESSAGE: _text(exc),
            semconv.EXCEPTION_STACKTRACE: stacktrace}


# --- correlation fields --------------------------------------------------------------


def _factory_setter(original, service_name):
    """``logging.setLogRecordFactory`` that wraps the factory it is given."""

    def setLogRecordFactory(factory):
        try:
            if callable(factory) and getattr(factory, "otel_wrapped_factory", None) is None:
                factory = _correlating(factory, service_name)
        except Exception:
            internal_error("wrapping the log record factory")
        return original(factory)

    setLogRecordFactory.__doc__ = original.__doc__
    setLogRecordFactory.__wrapped__ = original
    return setLogRecordFactory


# Hex ids of the last span seen: a request logs several records from the same span.
_last_ids = (None, ZERO_TRACE_ID, ZERO_SPAN_ID)


def _correlating(factory, service_name):
    """``factory`` wrapped so each record it makes carries the correlation fields."""

    def make_record(*args, **kwargs):
        global _last_ids
        record = factory(*args, **kwargs)
        try:
            context = get_current_span().context  # outside a span: the invalid context, all zeros
            ids = _last_ids
            if ids[0] is not context:
                ids = _last_ids = (context, "%032x" % context.trace_id, "%016x" % context.span_id)
            record.otelTraceID = ids[1]
            record.otelSpanID = ids[2]
            record.otelTraceSampled = bool(context.trace_flags & 1)
            record.otelServiceName = service_name
        except Exception:
            internal_error("adding trace ids to a log record")
        return record

    make_record.otel_wrapped_factory = factory
    return make_record


def _correlation_stderr_handler():
    """A handler like ``logging.lastResort`` (writes to the current ``sys.stderr``) with
    no level threshold and the correlation format."""
    import logging
    import sys

    class CorrelationStderrHandler(logging.StreamHandler):
        otel_correlation_handler = True

        def __init__(self):
            logging.Handler.__init__(self)

        @property
        def stream(self):
            return sys.stderr

    handler = CorrelationStderrHandler()
    handler.setFormatter(logging.Formatter(DEFAULT_FORMAT))
    return handler

"""The OpenTelemetry logs API (``opentelemetry._logs``) into the agent's log pipeline.

Installed with ``_logs.set_logger_provider`` right after the module is imported: a
record emitted through ``get_logger(...).emit(...)`` becomes a core log record (the
logger's name, version, schema URL and attributes as its scope; the trace and span ids
of its context, by default the current one) and is batched, redacted and exported with
the records of the ``logging`` module. With ``OTEL_LOGS_EXPORTER=none`` the loggers
are disabled (``enabled()`` is False) and records are dropped before any work.

Both forms of ``emit`` are accepted: an API ``LogRecord`` (every API version) and the
keyword form of newer versions (``emit(body=..., severity_number=...)``).
"""

from opentelemetry import _logs as api

from ..logs.record import LogRecord
from ..trace.context import _span, is_suppressed
from ..trace.span import Scope, limited_dict, qualified_type
from .context import keys
from .spans import native_span


class LoggerProvider(api.LoggerProvider):
    def __init__(self, agent):
        self._agent = agent
        self._loggers = {}

    def get_logger(self, name, version=None, schema_url=None, attributes=None, *args, **kwargs):
        scope = Scope(name or "", version or "", schema_url or "", attributes)
        logger = self._loggers.get(scope.key)
        if logger is None:
            logger = self._loggers[scope.key] = Logger(self._agent, scope)
        return logger

    def force_flush(self, timeout_millis=30000):
        self._agent.force_flush(timeout_millis / 1000.0)
        return True

    def shutdown(self):
        self._agent.force_flush()


class Logger(api.Logger):
    def __init__(self, agent, scope):
        try:
            api.Logger.__init__(self, scope.name, scope.version or None, scope.schema_url or None,
                                scope.attributes or None)
        except TypeError:  # APIs before scope attributes
            api.Logger.__init__(self, scope.name, scope.version or None, scope.schema_url or None)
        self._agent = agent
        self._scope = scope

    def enabled(self, *args, **kwargs):
        return self._agent.logs is not None

    def emit(self, record=None, **fields):
        pipeline = self._agent.logs
        if pipeline is None or is_suppressed():
            return  # no log export, or emitted by the agent's own export work
        if record is not None:
            fields = {name: getattr(record, name, None) for name in (
                "timestamp", "observed_timestamp", "context", "trace_id", "span_id", "trace_flags",
                "severity_text", "severity_number", "body", "attributes", "exception")}
        trace_id, span_id, flags = _ids(fields)
        attributes = dict(fields.get("attributes") or {})
        exception = fields.get("exception")
        if isinstance(exception, BaseException):
            attributes.setdefault("exception.type", qualified_type(exception))
            attributes.setdefault("exception.message", str(exception))
            import traceback

            attributes.setdefault("exception.stacktrace", "".join(
                traceback.format_exception(type(exception), exception, exception.__traceback__)))
        attributes, dropped = limited_dict(attributes, pipeline.attribute_count, pipeline.attribute_length)
        severity = fields.get("severity_number")
        severity = getattr(severity, "value", severity) or 0
        made = LogRecord(fields.get("body"), severity, fields.get("severity_text") or "", attributes,
                         fields.get("timestamp"), trace_id, span_id, flags, self._scope, dropped)
        observed = fields.get("observed_timestamp")
        if observed:
            made.observed_ns = observed
        pipeline.emit(made)


def _ids(fields):
    """(trace id, span id, flags): the record's own, else those of its context's span."""
    if fields.get("trace_id") and fields.get("span_id"):
        return fields["trace_id"], fields["span_id"], int(fields.get("trace_flags") or 0)
    context = fields.get("context")
    if context is not None:
        span = context.get(keys().span)
        span = native_span(span) if span is not None else None
    else:
        span = _span.get()
    if span is None:
        return 0, 0, 0
    ids = span.context
    return ids.trace_id, ids.span_id, ids.trace_flags


def install(agent, module):
    """``opentelemetry._logs`` was imported: the agent's log pipeline serves it."""
    module.set_logger_provider(LoggerProvider(agent))

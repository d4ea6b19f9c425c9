"""The plugin API: what an instrumentor is, and everything an instrumentor may import.

Built-in instrumentors and third-party plugins use exactly this package (this module
and its ``http``, ``wsgi`` and ``db`` helpers); the guide is ``docs/plugins.md``. An
instrumentor is mostly data::

    class FlaskInstrumentor(Instrumentor):
        name = "flask"
        requires = ("flask >= 2.2",)        # PEP 508 requirements, checked per PEP 440
        modules = ("flask",)                # importing one of these triggers instrument()

        def patches(self):                  # (module, "Class.attribute", wrapper)
            return [("flask.app", "Flask.wsgi_app", self._wsgi_app)]

registered in the plugin's ``pyproject.toml`` under the entry point group
``otel_autoinstrument.instrumentors``. ``instrument(agent)`` applies the patches with
wrapt; they call straight through where instrumentation is suppressed, stack with
other instrumentors' patches of the same method, and ``uninstrument()`` removes them.

``imported_before_start`` is True when a module in ``modules`` was imported before the
agent started (a late ``start()``, a ``.pth`` file): objects the library made before then
may exist, and an instrumentor that keeps state on them (SQLAlchemy's engines) can look
for them; otherwise nothing can exist yet and the search is skipped.

``agent`` gives the instrumentor what it needs from the core: ``agent.tracer(name)``,
``agent.settings`` (the one config object: instrumentors never read os.environ;
``settings.lookup``/``list_value``/``bool_value``/... read a plugin's own variables),
``agent.propagator``, ``agent.logs`` (the log pipeline, or None), and
``agent.shutdown()`` (flush and stop within the exit bound, for a server that is about
to end its process without exit handlers).
``emit_event(agent, name, attributes)`` sends an OTLP log event (a log record with an
event name) that trace sampling cannot hide, for signals such as ``auth.failure``.

Metrics: ``self.meter`` is the instrumentor's meter (scope ``otel_autoinstrument.<name>``);
``self.meter.enabled`` is False when metrics are off, and its instruments then record
nothing. Bind the attribute sets a hot path records with once and keep the series::

    duration = self.meter.histogram("redis.client.duration", unit="s", boundaries=(0.001, 0.01, 0.1, 1))
    series = duration.bind({"db.system.name": "redis", "db.operation.name": "GET"})
    series.record(elapsed_s, span)      # span (optional): the exemplar's trace and span ids

The HTTP and database helpers (``http``, ``wsgi``, ``db``) record the stable semantic
conventions' duration histograms themselves.

Wrappers follow one shape: a guarded start that may give up (``capture_internal_errors``),
exactly one unguarded call of the original so the application's exceptions pass
through untouched, and a guarded finish.

Importing this module is cheap (it is loaded at start-up, with the instrumentors): the
tracer, the HTTP/DB helpers and the version checks load on first use.
"""

from .. import _log, semconv  # noqa: F401  (re-exported for plugins)
from .._log import capture_internal_errors, internal_error
from ..propagation import Carried
from ..trace.context import (
    attach, detach, get_baggage, get_current_span, is_suppressed, reset_baggage, set_baggage, suppressed)
from ..trace.span import (
    INVALID_SPAN, NonRecordingSpan, Scope, Span, SpanContext, SpanKind, StatusCode, limited_dict, qualified_type,
    record_error)
from .instrumentor import Instrumentor, unwrap, wrap

current_span = get_current_span  # deprecated alias of get_current_span (same behaviour)

__all__ = [
    # the instrumentor
    "Instrumentor", "wrap", "unwrap",
    # spans and context
    "Span", "NonRecordingSpan", "SpanContext", "SpanKind", "StatusCode", "Scope", "INVALID_SPAN",
    "get_current_span", "use_span", "attach", "detach", "get_baggage", "set_baggage", "reset_baggage",
    "is_suppressed", "suppressed", "Carried",
    # errors: the agent's own, and the application's recorded on a span
    "capture_internal_errors", "internal_error", "record_error", "qualified_type",
    # version checks, logs and log events, attribute names
    "satisfies", "parse_requirement", "log_pipeline_record", "emit_event", "SEVERITY_WARN", "semconv",
    # where the WSGI layer keeps a request's state (``wsgi.ENVIRON_KEY``)
    "WSGI_ENVIRON_KEY",
]

# Here as well as in ``wsgi``: framework instrumentors read it in their hooks without
# loading the WSGI layer when the agent starts (it loads with the framework).
WSGI_ENVIRON_KEY = "otel_autoinstrument.request"

# Loaded on first use: the tracer module (and the ``random`` and ``functools`` it
# imports) with the first span, the version checks when a library is first imported.
_LAZY = {
    "use_span": "trace.tracer",
    "ExcludedUrls": "instrumentation.http",
    "satisfies": "instrumentation.versions", "parse_requirement": "instrumentation.requirements",
}


def __getattr__(name):  # type: ignore[no-untyped-def]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module("otel_autoinstrument." + module), name)


def log_pipeline_record():  # type: ignore[no-untyped-def]
    """The log record class that ``agent.logs.emit()`` takes."""
    from ..logs.record import LogRecord

    return LogRecord


SEVERITY_WARN = 13
_AGENT_SCOPE = Scope("otel_autoinstrument")


def emit_event(agent: "AgentAPI", name: str, attributes: "Optional[Mapping[str, Any]]" = None, body: "Any" = None,
               span: "Optional[Union[Span, NonRecordingSpan]]" = None, scope: "Optional[Scope]" = None,
               severity_number: int = SEVERITY_WARN, severity_text: str = "WARN") -> bool:
    """Send the log event ``name`` (OTLP ``LogRecord.event_name``) with ``attributes``
    through the agent's log pipeline, carrying the trace and span ids of ``span`` (default:
    the current span), sampled or not: a log event is exported whatever the sampler
    decided. Returns False when there is no log pipeline (OTEL_LOGS_EXPORTER=none).
    ``scope`` is a ``Scope`` (default: ``otel_autoinstrument``). Call it from a guarded
    part of a wrapper, like any other agent work."""
    logs = agent.logs
    if logs is None:
        return False
    context = (span if span is not None else get_current_span()).context
    trace_id = span_id = flags = 0
    if context.trace_id:
        trace_id, span_id, flags = context.trace_id, context.span_id, context.trace_flags
    attributes, dropped = limited_dict(attributes or {}, logs.attribute_count, logs.attribute_length)
    logs.emit(log_pipeline_record()(body, severity_number, severity_text, attributes, None, trace_id, span_id,
                                    flags, scope or _AGENT_SCOPE, dropped, name))
    return True


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, Union

    from ..trace.tracer import use_span  # noqa: F401
    from .protocols import AgentAPI
    from .http import ExcludedUrls  # noqa: F401
    from .requirements import parse_requirement  # noqa: F401
    from .versions import satisfies  # noqa: F401

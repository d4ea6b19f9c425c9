"""The OpenTelemetry API's tracer provider, served by the agent's core.

Installed with the API's own ``trace.set_tracer_provider`` right after
``opentelemetry.trace`` is imported, so every ``trace.get_tracer(...)`` (the
application's, and each contrib instrumentation's) makes core spans: the agent's
sampler, limits, processors (redaction) and exporters apply, and the tracer's name,
version, schema URL and attributes are the instrumentation scope on the wire.

An application that sets up the SDK itself (``trace.set_tracer_provider(TracerProvider())``
then ``add_span_processor(...)``) gets what the official agent gives it: the API refuses
to replace a provider once set (its warning, "Overriding of current TracerProvider is not
allowed"), so the agent's stays; the span processors the application adds to it are not
run (the agent exports spans itself; running SDK processors would need SDK span objects)
and the agent logs that once. Nothing raises.
"""

from weakref import ref as _weak

from opentelemetry import trace as api

from .. import _log
from ..trace.context import _span
from ..trace.span import Link, NonRecordingSpan
from ..trace.tracer import _CURRENT
from .context import keys
from .spans import SpanView, api_span, ended_with_error, native_context, native_span

# The API numbers kinds from 0, OTLP (and the core) from 1.
_KINDS = {kind: kind.value + 1 for kind in api.SpanKind}


class TracerProvider(api.TracerProvider):
    def __init__(self, agent):
        self._agent = agent
        self._tracers = {}
        self._ignored = set()

    def get_tracer(self, instrumenting_module_name, instrumenting_library_version=None, schema_url=None,
                   attributes=None):
        native = self._agent.provider.get_tracer(instrumenting_module_name or "", instrumenting_library_version or "",
                                                 schema_url or "", attributes)
        tracer = self._tracers.get(native)
        if tracer is None:
            tracer = self._tracers[native] = Tracer(native)
        return tracer

    def add_span_processor(self, span_processor):
        """The application's own processor: not run (see the module docstring), said once."""
        name = type(span_processor).__name__
        exporter = getattr(span_processor, "span_exporter", None)
        if exporter is not None:
            name += "(%s)" % type(exporter).__name__
        if name not in self._ignored:
            self._ignored.add(name)
            _log.info("the application added %s to the global tracer provider; the agent exports spans "
                      "itself (OTEL_TRACES_EXPORTER), so it is not used", name)

    def force_flush(self, timeout_millis=30000):
        self._agent.force_flush(timeout_millis / 1000.0)
        return True

    def shutdown(self):
        # The agent flushes and stops at exit; an early shutdown must not stop its export.
        self._agent.force_flush()


def _parent(context):
    """The core parent in an API Context: a core span, or None for a new trace."""
    span = context.get(keys().span)
    return native_span(span) if span is not None else None


def _links(links):
    return [Link(native_context(link.context), link.attributes) for link in links]


class Tracer(api.Tracer):
    __slots__ = ("_native",)

    def __init__(self, native):
        self._native = native

    def start_span(self, name, context=None, kind=api.SpanKind.INTERNAL, attributes=None, links=None,
                   start_time=None, record_exception=True, set_status_on_exception=True):
        span = self._native.start_span(name, _KINDS.get(kind, 1), attributes, _links(links) if links else None,
                                       start_time, _CURRENT if context is None else _parent(context))
        if type(span) is NonRecordingSpan:
            return api_span(span)
        view = SpanView(span, record_exception, set_status_on_exception)
        span.view = _weak(view)
        return view

    def start_as_current_span(self, name, context=None, kind=api.SpanKind.INTERNAL, attributes=None, links=None,
                              start_time=None, record_exception=True, set_status_on_exception=True,
                              end_on_exit=True):
        """A context manager, and a decorator (of plain and ``async`` functions)."""
        return _CurrentSpan(self, (name, context, kind, attributes, links, start_time, record_exception,
                                   set_status_on_exception), end_on_exit)


class _CurrentSpan:
    __slots__ = ("tracer", "args", "end_on_exit", "view", "token")

    def __init__(self, tracer, args, end_on_exit):
        self.tracer = tracer
        self.args = args
        self.end_on_exit = end_on_exit

    def __enter__(self):
        view = self.view = self.tracer.start_span(*self.args)
        self.token = _span.set(native_span(view))
        return view

    def __exit__(self, exc_type, exc, tb):
        try:
            _span.reset(self.token)
        except ValueError:
            pass  # entered in another context (a generator resumed elsewhere)
        span = native_span(self.view)
        ended_with_error(span, exc, self.args[6], self.args[7])
        if self.end_on_exit:
            span.end()
        return False

    def __call__(self, func):
        import functools
        import inspect

        tracer, args, end_on_exit = self.tracer, self.args, self.end_on_exit
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def traced_async(*a, **kw):
                with _CurrentSpan(tracer, args, end_on_exit):
                    return await func(*a, **kw)

            return traced_async

        @functools.wraps(func)
        def traced(*a, **kw):
            with _CurrentSpan(tracer, args, end_on_exit):
                return func(*a, **kw)

        return traced


def install(agent, module):
    """``opentelemetry.trace`` was imported: make the agent its tracer provider."""
    module.set_tracer_provider(TracerProvider(agent))

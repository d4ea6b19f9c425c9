"""Jinja2: an INTERNAL span for each template rendered, loaded and compiled.

* ``Template.render``: ``jinja2.render``, around the whole rendering (a template's own
  includes and macros run inside it); ``Template.generate`` (streamed rendering) is not
  traced.
* ``BaseLoader.load``: ``jinja2.load``, when the environment's cache misses and a
  template is read through a loader that keeps the standard ``load`` (the file system,
  package, dict and function loaders; not Prefix/Choice/Module loaders).
* ``Environment.compile``: ``jinja2.compile``, the source turned into Python.

Each span carries ``jinja2.template_name`` when the template has one.
``OTEL_PYTHON_JINJA2_TRACE_LOADING=false`` keeps only the render spans.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from otel_autoinstrument.instrumentation import Instrumentor, SpanKind, capture_internal_errors, record_error

Wrapped = Callable[..., Any]
Args = Tuple[Any, ...]
Kwargs = Dict[str, Any]

TEMPLATE_NAME = "jinja2.template_name"


class Jinja2Instrumentor(Instrumentor):
    name = "jinja2"
    requires = ("jinja2 >= 3.0",)
    modules = ("jinja2",)

    def patches(self) -> List[Tuple[str, str, Callable[..., Any]]]:
        patches: List[Tuple[str, str, Callable[..., Any]]] = [("jinja2.environment", "Template.render", self._render)]
        if self.settings.bool_value("OTEL_PYTHON_JINJA2_TRACE_LOADING", True):
            patches += [("jinja2.loaders", "BaseLoader.load", self._load),
                        ("jinja2.environment", "Environment.compile", self._compile)]
        return patches

    def _render(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        return self._traced("jinja2.render", getattr(instance, "name", None), wrapped, args, kwargs)

    def _load(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        name = args[1] if len(args) > 1 else kwargs.get("name")
        return self._traced("jinja2.load", name, wrapped, args, kwargs)

    def _compile(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        name = args[1] if len(args) > 1 else kwargs.get("name")
        return self._traced("jinja2.compile", name, wrapped, args, kwargs)

    def _traced(self, span_name: str, template: Optional[str], wrapped: Wrapped, args: Args, kwargs: Kwargs) -> Any:
        span = None
        with capture_internal_errors("jinja2: starting a span"):       # guarded start
            attributes = {TEMPLATE_NAME: template} if isinstance(template, str) else None
            span = self.tracer.start_span(span_name, SpanKind.INTERNAL, attributes)
        if span is None:
            return wrapped(*args, **kwargs)
        from otel_autoinstrument.instrumentation import use_span

        error: Optional[BaseException] = None
        try:
            with use_span(span):                 # current: spans made while rendering are children
                return wrapped(*args, **kwargs)  # the one unguarded call
        except Exception as exc:
            error = exc
            raise
        finally:
            with capture_internal_errors("jinja2: finishing a span"):  # guarded finish
                if error is not None:
                    record_error(span, error)
                span.end()

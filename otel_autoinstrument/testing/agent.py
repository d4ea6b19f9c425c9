"""``InMemoryAgent``: the real agent (settings, tracer provider, sampler, limits,
propagator, log pipeline, metrics) with its exporters replaced by lists, for
in-process tests of an instrumentor. Nothing leaves the process and no thread is
started: metrics are read where they are aggregated (``metric_points``)."""

from __future__ import annotations

from .. import _log, config
from ..agent.startup import Agent
from .spans import find_span, find_spans

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Union

    from ..instrumentation import Instrumentor
    from ..instrumentation.protocols import AgentAPI
    from ..logs.record import LogRecord
    from ..metrics.data import HistogramPoint, NumberPoint
    from ..trace.span import Span
    from ..trace.tracer import Tracer

__all__ = ["InMemoryAgent", "MemoryProcessor", "UnsupportedVersion"]


class MemoryProcessor:
    """A span (or log record) processor that keeps every item it is handed, in order."""

    def __init__(self) -> None:
        self.items: List[Any] = []
        self.shutdowns = 0

    def on_end(self, item: Any) -> None:
        self.items.append(item)

    def force_flush(self, timeout_s: Optional[float] = None) -> bool:
        return True

    def shutdown(self, timeout_s: Optional[float] = None) -> None:
        self.shutdowns += 1


class UnsupportedVersion(AssertionError):
    """The installed library is outside the instrumentor's ``requires``."""


class InMemoryAgent:
    """The agent an instrumentor sees, made from ``environ`` (OTEL_* variables, read by
    the real config, bad values warned about and defaulted as in production). Spans and
    log records are kept in memory; ``OTEL_TRACES_EXPORTER=none`` or
    ``OTEL_LOGS_EXPORTER=none`` switches that signal off, as in production.

    ::

        with InMemoryAgent({"OTEL_PYTHON_JINJA2_CAPTURE_NAME": "true"}) as agent:
            agent.instrument(Jinja2Instrumentor())
            render()
            span = agent.span(name="render page.html")

    ``strict`` (the default) makes the agent's safety net re-raise: an exception in a
    wrapper's guarded start or finish fails the test instead of being logged. On exit
    every instrumentor is uninstrumented, in reverse order.
    """

    def __init__(self, environ: Optional[Mapping[str, str]] = None, strict: bool = True) -> None:
        variables: Dict[str, str] = {"OTEL_SERVICE_NAME": "test"}
        variables.update(environ or {})
        # Spans and log records go to memory instead of the configured exporters, unless
        # a signal is switched off (=none): then it is off, as in production.
        keep = {signal: variables.get("OTEL_%s_EXPORTER" % signal.upper(), "").strip().lower() != "none"
                for signal in ("traces", "logs", "metrics")}
        variables["OTEL_TRACES_EXPORTER"] = variables["OTEL_LOGS_EXPORTER"] = "none"
        variables["OTEL_METRICS_EXPORTER"] = "otlp" if keep["metrics"] else "none"  # read in place, never sent
        self.settings = config.load(variables, set())
        from ..metrics.series import process

        # The process-wide hooks the metrics pipeline registers (at-fork resets, the first
        # measurement's thread start) are this agent's: given back at close.
        self._process_hooks = (list(process.on_fork), process.on_first_use)
        self._span_memory = MemoryProcessor()
        self._log_memory = MemoryProcessor()
        self.agent: AgentAPI = Agent(self.settings, span_processors=[self._span_memory] if keep["traces"] else [],
                                     log_processors=[self._log_memory] if keep["logs"] else None,
                                     metric_exporters=[])
        self.instrumentors: List[Instrumentor] = []
        self._strict = strict
        self._saved_strict = _log.STRICT
        if strict:
            _log.STRICT = True

    # -- lifecycle -------------------------------------------------------------------

    def instrument(self, instrumentor: Instrumentor, check_requires: bool = True) -> Instrumentor:
        """Check the instrumentor's ``requires`` against what is installed (as the agent
        does when the library is imported), then ``instrument`` it. Returns it."""
        if check_requires:
            from ..agent.discovery import Installed
            from ..instrumentation.requirements import requirement_problem

            installed = Installed()
            for requirement in instrumentor.requires:
                problem = requirement_problem(requirement, installed.version, instrumentor.name or "it")
                if problem:
                    raise UnsupportedVersion(problem)
        instrumentor.instrument(self.agent)
        self.instrumentors.append(instrumentor)
        return instrumentor

    def uninstrument(self, instrumentor: Instrumentor) -> None:
        instrumentor.uninstrument()
        if instrumentor in self.instrumentors:
            self.instrumentors.remove(instrumentor)

    def close(self) -> None:
        """Uninstrument everything (newest first), give back the process-wide hooks the
        agent registered, and restore strict mode."""
        try:
            while self.instrumentors:
                self.instrumentors.pop().uninstrument()
        finally:
            from ..metrics.series import process

            process.on_fork[:], process.on_first_use = self._process_hooks
            if self._strict:
                _log.STRICT = self._saved_strict

    def __enter__(self) -> InMemoryAgent:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- what was recorded -----------------------------------------------------------

    def tracer(self, name: str = "test") -> Tracer:
        """A tracer of this agent, for the test's own spans (parents, siblings)."""
        return self.agent.tracer(name)

    @property
    def spans(self) -> List[Span]:
        """Every span ended so far, in the order they ended."""
        return list(self._span_memory.items)

    @property
    def logs(self) -> List[LogRecord]:
        """Every log record emitted to the agent's log pipeline so far."""
        return list(self._log_memory.items)

    def metric_points(self, name: str) -> List[Union[HistogramPoint, NumberPoint]]:
        """The points of the metric ``name`` as they are now (cumulative): ``NumberPoint``
        (``value``) or ``HistogramPoint`` (``count``, ``sum``, ``bucket_counts``), each with
        its ``attributes``. Empty when metrics are off (OTEL_METRICS_EXPORTER=none)."""
        from ..metrics.collector import Collector

        pipeline = self.agent.metrics  # type: ignore[attr-defined]
        if pipeline is None:
            return []
        instruments = [i for i in pipeline.provider.instruments() if i.name == name]
        return [p for m in Collector(pipeline.provider).collect(instruments) for p in m.points]

    def clear(self) -> None:
        del self._span_memory.items[:]
        del self._log_memory.items[:]

    def find_spans(self, name: Optional[str] = None, kind: Optional[int] = None,
                   attributes: Optional[Mapping[str, Any]] = None) -> List[Span]:
        """The ended spans with this name, kind and these attributes (a subset)."""
        return find_spans(self._span_memory.items, name, kind, attributes)

    def span(self, name: Optional[str] = None, kind: Optional[int] = None,
             attributes: Optional[Mapping[str, Any]] = None) -> Span:
        """The one ended span that matches; AssertionError listing the spans otherwise."""
        return find_span(self._span_memory.items, name, kind, attributes)

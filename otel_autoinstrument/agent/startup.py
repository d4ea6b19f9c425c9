"""Start the agent in this process: config -> pipeline -> instrumentors; exit and fork hooks.

``start()`` is what the bootstrap calls, once per process. It reads the config, finds
the instrumentor plugins and registers an import hook per library; everything costly
(the tracer provider, the exporters, threads, wrapt, the libraries' patches) is built
on first use, so a process that never imports an instrumented library, nor makes a
span, pays almost nothing.
"""

import atexit
import os
import sys

from .. import _log, config
from ..processors import within
from .importhooks import when_imported

_agent = None


class Agent:
    """The core as instrumentors see it: settings, tracers, propagator, log pipeline."""

    def __init__(self, settings, span_processors=None, log_processors=None, metric_exporters=None):
        """``span_processors``/``log_processors``/``metric_exporters``, when given, replace
        the exporters the settings configure (``otel_autoinstrument.testing`` keeps spans
        and log records in memory and reads metrics in place)."""
        self.settings = settings
        self.started_pid = os.getpid()
        self.instrumentors = {}  # name -> InstrumentorState
        self._span_processors = span_processors
        self._log_processors = log_processors
        self._metric_exporters = metric_exporters
        self._provider = None
        self._propagator = None
        self._logs = None
        self._logs_built = False
        self._metrics = None
        self._metrics_built = False
        self.run_directory = None  # Prometheus: the directory this process tree shares
        self._resource = None
        self.api = None  # apibridge.ApiState when opentelemetry-api is installed
        self.contrib = {}  # name -> contrib.ContribState

    # Built on first use: a process that makes no span never loads the export layer.
    @property
    def resource(self):
        if self._resource is None:
            from .. import resource

            self._resource = resource.from_settings(self.settings)
        return self._resource

    @property
    def provider(self):
        if self._provider is None:
            from .pipeline import build_tracer_provider

            self._provider = build_tracer_provider(self.settings, self.resource, self._span_processors)
            self._on_first_export(self._provider.processors)
        return self._provider

    @property
    def propagator(self):
        if self._propagator is None:
            from ..propagation import Propagator

            self._propagator = Propagator(self.settings.propagators)
        return self._propagator

    @property
    def logs(self):
        """The log pipeline, or None when OTEL_LOGS_EXPORTER is none."""
        if not self._logs_built:
            from .pipeline import build_log_pipeline

            self._logs = build_log_pipeline(self.settings, self.resource, self._log_processors)
            self._logs_built = True
            if self._logs is not None:
                self._on_first_export(self._logs.processors)
        return self._logs

    @property
    def metrics(self):
        """The metrics pipeline, or None when OTEL_METRICS_EXPORTER is none."""
        if not self._metrics_built:
            self._metrics_built = True
            from .pipeline import build_metrics_pipeline

            self._metrics = build_metrics_pipeline(self.settings, self.resource, self._metric_exporters)
        return self._metrics

    def meter(self, name, version="", schema_url="", attributes=None):
        """A meter of the scope ``name`` (one that records nothing when metrics are off)."""
        metrics = self.metrics
        if metrics is None:
            from ..metrics.instruments import NOOP_METER

            return NOOP_METER
        return metrics.meter(name, version, schema_url, attributes)

    def _on_first_export(self, processors):
        """A process that exports spans or log records runs the metrics thread as well
        (its runtime metrics are then exported once it has lived an export interval)."""
        if self.settings.metrics_exporter == ["none"]:
            return
        for processor in processors:
            if hasattr(processor, "on_first_item"):
                processor.on_first_item = self._wake_metrics

    def _wake_metrics(self):
        metrics = self.metrics
        if metrics is not None:
            metrics.wake_up()

    def tracer(self, name, version=""):
        return self.provider.get_tracer(name, version)

    def processors(self):
        found = []
        if self._provider is not None:
            found += self._provider.processors
        if self._logs is not None:
            found += self._logs.processors
        return found

    def shutdown(self, timeout_s=None):
        """Flush and stop every signal within the exit bound."""
        if timeout_s is None:
            timeout_s = self.settings.python_exit_timeout / 1000.0
        within((self._provider, self._logs, self._metrics), "shutdown", timeout_s,
               guard=lambda what: _log.internal_error("shutting down"))
        if self._metrics is None and self.run_directory is not None:
            try:  # a Prometheus run directory made for a process that never recorded a thing
                self.run_directory.remove_if_last()
            except Exception:
                _log.internal_error("removing the prometheus run directory")

    def force_flush(self, timeout_s=5.0):
        within((self._provider, self._logs, self._metrics), "force_flush", timeout_s)


class InstrumentorState:
    """What happened to one discovered instrumentor (shown by ``otel-run --info``)."""

    __slots__ = ("name", "entry_point", "instrumentor", "status", "detail")

    def __init__(self, name, entry_point, instrumentor=None, status="", detail=""):
        self.name = name
        self.entry_point = entry_point
        self.instrumentor = instrumentor
        self.status = status
        self.detail = detail


def get_agent():
    """The agent of this process, or None when it was not started (or is disabled)."""
    return _agent


def start(environ=None):
    """Start the agent once in this process. Never raises."""
    global _agent
    if _agent is not None:
        return _agent
    try:
        settings = config.load(environ)
        _log.set_level(_log.parse_level(settings.log_level))
        if settings.sdk_disabled:
            return None
        agent = _agent = Agent(settings)
        when_imported("logging", _on_logging_imported)
        _load_instrumentors(agent)
        atexit.register(_at_exit)
        _install_process_hooks(agent)
        if "prometheus" in settings.metrics_exporter:
            _start_prometheus(agent)
        _announce(agent)
        return agent
    except Exception:
        _log.internal_error("starting the agent")
        return None


def _on_logging_imported(module):
    _log.attach_logger()


def _install_process_hooks(agent):
    """Trace continuity across processes and threads, and the flush at a
    multiprocessing child's exit (see processes.py and threads.py)."""
    try:
        from . import processes, threads

        processes.install(agent)
        threads.install()
    except Exception:
        _log.internal_error("installing the process and thread hooks")


def _start_prometheus(agent):
    """Prometheus: the run directory this process tree shares, now, so that it is made
    (and inherited) before any child starts. The first process of the tree then listens
    for scrapes early (a target must answer before any traffic): once ``logging`` is
    imported, which servers do while they start, and by when a uWSGI master (which must
    run no thread) can be told apart. The others join with their first measurement."""
    try:
        from ..metrics.prometheus.rundir import RunDirectory

        agent.run_directory = directory = RunDirectory.for_this_tree()
    except Exception as exc:  # the sink says so once, when the pipeline is built
        _log.debug("prometheus: no shared run directory yet (%s)", exc)
        return
    if directory.created_here:
        when_imported("logging", lambda module: _wake_prometheus(agent))


def _wake_prometheus(agent):
    try:
        metrics = agent.metrics
        if metrics is not None and metrics.prometheus is not None:
            metrics.wake_up()
    except Exception:
        _log.internal_error("starting the prometheus endpoint")


def _at_exit():
    agent = _agent
    if agent is not None:
        from .processes import flush_at_exit

        flush_at_exit()  # agent.shutdown(), with the signals a uWSGI worker needs held


def _load_instrumentors(agent):
    from .discovery import Installed

    installed = Installed()
    agent.installed = installed
    disabled = set(agent.settings.python_disabled_instrumentations)
    early = []
    for entry_point in installed.entry_points:
        name = entry_point.name
        state = InstrumentorState(name, entry_point)
        agent.instrumentors[name] = state
        if "*" in disabled or name.lower() in disabled:
            state.status, state.detail = "disabled", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
            continue
        try:
            instrumentor = entry_point.load()()
        except Exception as exc:
            state.status, state.detail = "failed", "could not load %s: %s" % (entry_point.value, exc)
            _log.error("instrumentor %s disabled: could not load %s (%s: %s)", name, entry_point.value,
                       type(exc).__name__, exc)
            continue
        state.instrumentor = instrumentor
        state.status = "waiting"
        state.detail = "patches on import of " + ", ".join(instrumentor.modules)
        imported = [m for m in instrumentor.modules if m in sys.modules]
        if imported:
            instrumentor.imported_before_start = True
            early += imported
        for module in instrumentor.modules:
            when_imported(module, _activator(agent, state))
    _hook_opentelemetry(agent, installed, disabled)
    if early:
        # Imported before the agent started (a .pth file, another sitecustomize): the
        # classes are still patched now, but names the application bound from them
        # earlier keep the originals. Say so rather than miss anything silently.
        _log.warning("imported before the agent started: %s; patched now, but references taken "
                     "from them before this point are not traced", ", ".join(sorted(set(early))))


def _hook_opentelemetry(agent, installed, disabled):
    """The OpenTelemetry API bridge and contrib instrumentors (hooks only; see apibridge)."""
    from .discovery import CONTRIB_GROUP

    if not installed.groups[CONTRIB_GROUP] and installed.version("opentelemetry-api") is None:
        return  # the common case costs no import
    try:
        from . import apibridge

        ours = [(s.name, s.instrumentor.requires, s.instrumentor.modules)
                for s in agent.instrumentors.values() if s.status == "waiting"]
        apibridge.install(agent, installed, disabled, ours)
    except Exception:
        _log.internal_error("setting up the OpenTelemetry API bridge")


def _activator(agent, state):
    def activate(module):
        if state.status != "waiting":
            return
        try:
            problem = _version_problem(agent, state.instrumentor)
        except Exception as exc:  # e.g. a malformed ``requires`` clause in a plugin
            problem = "cannot check its requires %r (%s: %s)" % (
                tuple(getattr(state.instrumentor, "requires", ())), type(exc).__name__, exc)
        if problem:
            state.status, state.detail = "unsupported", problem
            _log.warning("instrumentor %s disabled: %s", state.name, problem)
            return
        try:
            state.instrumentor.instrument(agent)
        except Exception as exc:
            state.status, state.detail = "failed", "%s: %s" % (type(exc).__name__, exc)
            _log.error("instrumentor %s disabled: instrumenting failed (%s: %s); the application "
                       "runs on without it", state.name, type(exc).__name__, exc)
            if _log.STRICT:
                raise
            return
        state.status, state.detail = "active", "patched"
        _log.debug("instrumentor %s active", state.name)

    return activate


def _version_problem(agent, instrumentor):
    """Why the installed versions rule ``instrumentor`` out, or None (see versions.py)."""
    from ..instrumentation.requirements import requirement_problem

    for requirement in instrumentor.requires:
        problem = requirement_problem(requirement, agent.installed.version, instrumentor.name or "it")
        if problem:
            return problem
    return None


def _will_patch(agent, instrumentor):
    """Will ``instrumentor`` patch when its library is imported: one of the requirements
    that apply here names an installed distribution (they are alternatives, as for
    psycopg2 and psycopg2-binary: a missing one is no problem, as at import), and no
    installed one has an unsupported version? (An instrumentor without requirements
    instruments the standard library or trusts the import.)"""
    from ..instrumentation.requirements import parse_requirement

    try:
        applying = [parsed for parsed in map(parse_requirement, instrumentor.requires) if parsed.applies()]
        if applying and all(agent.installed.version(parsed.name) is None for parsed in applying):
            return False
        return _version_problem(agent, instrumentor) is None
    except ValueError:
        return False  # a malformed requires: reported when its library is imported


def _announce(agent):
    settings = agent.settings
    if _log._level > 20:
        return
    exporters = []
    if settings.traces_exporter != ["none"]:
        exporters.append("traces -> %s" % _exporter_text(settings, "traces", settings.traces_exporter))
    if settings.logs_exporter != ["none"]:
        exporters.append("logs -> %s" % _exporter_text(settings, "logs", settings.logs_exporter))
    if settings.metrics_exporter != ["none"]:
        exporters.append("metrics -> %s" % _exporter_text(settings, "metrics", settings.metrics_exporter))
    # What will really be patched, not every instrumentor discovered (`otel-run --info`
    # lists those, with the reason for each one left out). Contrib instrumentors are
    # planned against what is installed already (agent/contrib.py).
    patching = sorted(n for n, s in agent.instrumentors.items() if s.status == "active"
                      or (s.status == "waiting" and _will_patch(agent, s.instrumentor)))
    contrib = sorted(n for n, s in agent.contrib.items() if s.status == "waiting")
    _log.info("started in pid %d: service %s; %s; instrumentors: %s%s", os.getpid(),
              settings.service_name or "(unknown_service)", "; ".join(exporters) or "no exporter",
              ", ".join(patching) or "none", "; contrib: " + ", ".join(contrib) if contrib else "")


def _exporter_text(settings, signal, names):
    from ..redaction.secrets import mask_url

    parts = []
    for name in names:
        if name == "otlp":
            parts.append("otlp %s (%s)" % (mask_url(settings.exporter(signal).endpoint),
                                            settings.exporter(signal).protocol))
        elif name == "prometheus":
            parts.append("prometheus %s:%d" % (settings.exporter_prometheus_host, settings.exporter_prometheus_port))
        else:
            parts.append(name)
    return ", ".join(parts)

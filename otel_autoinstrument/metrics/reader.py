"""The metrics pipeline of a process: its provider, the periodic export and one thread.

``MetricsPipeline`` owns the ``MeterProvider``, the push exporters (OTLP, console) with
their collector (``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``), the optional
Prometheus sink, the runtime metrics, and ONE daemon thread per process. Every
``OTEL_METRIC_EXPORT_INTERVAL`` the thread collects and exports, each export bounded
by ``OTEL_METRIC_EXPORT_TIMEOUT``; with Prometheus it also writes this process's
snapshot every second (see ``metrics.prometheus``). Exports never run concurrently.

When things start (start-up and exit cost nothing for a process that records nothing):

* No thread at start-up. The thread starts with the first measurement of a series
  (``series.process.first_use``) or when the agent has a span or log record to export
  (``wake_up``). In a uWSGI master it never starts (``export.prefork``).
* Runtime metrics are collected with every export, but never cause one: a process
  exports metrics only once it recorded a measurement of its own (or has an observable
  instrument of its own), or once it has lived one export interval with the thread
  running. A short script that records nothing makes no request for metrics at exit.
* Shutdown (the agent's, within the exit bound) makes the final collection and export
  under the same rule, then reports what was exported and dropped.

After ``fork()`` the child's pipeline forgets the parent's thread, collector state and
counts (``provider.on_fork``); its instruments are already empty (``series``).
"""

import os
import time

from .. import _log
from ..export import outcome as reasons
from ..export import prefork
from ..export.outcome import Outcome
from ..trace.context import suppress, unsuppress
from .collector import Collector, temporality_preference
from .instruments import SYNCHRONOUS

RUNTIME_SCOPE = "otel_autoinstrument.runtime"
SNAPSHOT_PERIOD_S = 1.0


class MetricsPipeline:
    def __init__(self, provider, resource, exporters=(), interval_ms=60000, timeout_ms=30000,
                 temporality="cumulative", prometheus=None, runtime=True):
        self.provider = provider
        self.resource = resource
        self.exporters = list(exporters)
        self.interval_s = max(0.001, interval_ms / 1000.0)
        self.timeout_s = (timeout_ms or 30000) / 1000.0
        self.push = Collector(provider, temporality_preference(temporality), owns_window=True) \
            if self.exporters else None
        self.prometheus = prometheus
        self.runtime = None
        if runtime:
            from ..version import __version__
            from .runtime import RuntimeMetrics

            self.runtime = RuntimeMetrics(provider.get_meter(RUNTIME_SCOPE, __version__))
        self._fresh_state()
        provider.on_fork.append(self._after_fork)
        from .series import process

        process.on_first_use = self.activity

    def _fresh_state(self):
        self._pid = os.getpid()
        self._thread = None
        self._wake = None
        self._export_lock = None
        self._stopping = False
        self._stopped = False
        self._recorded = False  # a series of this process was used (not only runtime metrics)
        self._ticks = 0  # periodic collections done
        self.exports = 0
        self.exported_points = 0
        self.dropped_points = {}

    def _after_fork(self):
        self._fresh_state()
        if self.runtime is not None:
            self.runtime.after_fork()
        for exporter in self.exporters:
            try:
                exporter.after_fork()
            except Exception:
                _log.internal_error("resetting a metrics exporter after fork")
        if self.prometheus is not None:
            self.prometheus.after_fork()

    def meter(self, name, version="", schema_url="", attributes=None):
        return self.provider.get_meter(name, version, schema_url, attributes)

    # --- starting -----------------------------------------------------------------------

    def activity(self):
        """A series got its first measurement: this process has metrics of its own."""
        self._recorded = True
        if self._thread is None:
            self._start()

    def wake_up(self):
        """The agent has spans or log records to export: the thread runs from now on."""
        if self._thread is None:
            self._start()

    def _start(self):
        if self._stopping or prefork.defers_threads():
            return  # a uWSGI master: its workers must not inherit a thread's locks
        if not self.exporters and self.prometheus is None:
            return
        try:
            import threading

            from ..export.batch import _start_lock

            with _start_lock():
                if self._thread is not None:
                    return
                self._wake = threading.Event()
                self._export_lock = threading.Lock()
                thread = threading.Thread(target=self._run, name="otel-export-metrics", daemon=True)
                thread.start()
                self._thread = thread
        except Exception:
            _log.internal_error("starting the metrics thread")

    # --- the thread ---------------------------------------------------------------------

    def _run(self):
        from ..export.batch import block_process_signals

        suppress()  # the agent's own HTTP traffic is never instrumented
        block_process_signals()
        wake = self._wake
        now = time.monotonic()
        next_push = now + self.interval_s if self.exporters else None
        next_snapshot = now if self.prometheus is not None else None
        while True:
            due = min(t for t in (next_push, next_snapshot) if t is not None)
            if wake.wait(max(0.0, due - time.monotonic())):
                wake.clear()
            if self._stopping:
                return
            try:
                now = time.monotonic()
                if next_push is not None and now >= next_push:
                    self._ticks += 1
                    next_push = now + self.interval_s
                    self._push_round(time.monotonic() + self.timeout_s)
                if next_snapshot is not None and now >= next_snapshot:
                    next_snapshot = now + SNAPSHOT_PERIOD_S
                    self.prometheus.tick()
            except Exception:
                if self._stopping:
                    return
                _log.internal_error("the metrics export loop")

    def _has_own_metrics(self):
        if self._recorded or self._ticks:
            return True
        return any(i.kind not in SYNCHRONOUS and i.scope.name != RUNTIME_SCOPE for i in self.provider.instruments())

    def _push_round(self, deadline):
        """Collect and hand the metrics to every push exporter (one export at a time)."""
        if self.push is None or not self._has_own_metrics():
            return
        lock = self._export_lock
        if lock is not None and not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return  # an export still in flight at the exit bound: it settles its own count
        # The final export (and a flush) runs on the application's thread: the agent's own
        # HTTP traffic must not be instrumented there either.
        token = suppress()
        try:
            metrics = self.push.collect()
            if metrics:
                self._export(metrics, deadline)
        finally:
            unsuppress(token)
            if lock is not None:
                lock.release()

    def _export(self, metrics, deadline):
        """Export to each push exporter; its ``Outcome`` counts data points."""
        points = sum(len(m.points) for m in metrics)
        for exporter in self.exporters:
            try:
                result = exporter.export(metrics, deadline)
            except Exception:
                _log.internal_error("exporting metrics")
                self._dropped(reasons.EXPORT_FAILED, points)
                continue
            self.exports += 1
            if not isinstance(result, Outcome):
                result = Outcome(points)  # an exporter that returns nothing delivered everything
            exported = min(max(0, result.exported), points)
            self.exported_points += exported
            left = points - exported
            drops = [(result.reason or reasons.EXPORT_FAILED, result.dropped)] + list((result.also or {}).items())
            for reason, count in drops:
                count = min(max(0, count), left)
                self._dropped(reason, count)
                left -= count
            self._dropped(reasons.EXPORT_FAILED, left)

    def _dropped(self, reason, count):
        if count:
            self.dropped_points[reason] = self.dropped_points.get(reason, 0) + count

    # --- flush and shutdown -------------------------------------------------------------

    def force_flush(self, timeout_s=5.0):
        from .series import process

        process.check()
        deadline = time.monotonic() + max(0.0, timeout_s)
        self._push_round(deadline)
        if self.prometheus is not None:
            self.prometheus.tick()
        return True

    def shutdown(self, timeout_s=3.0):
        """The final collection and export within ``timeout_s``, then stop."""
        from .series import process

        process.check()
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + max(0.0, timeout_s)
        self._stopping = True
        for exporter in self.exporters:
            stop_by = getattr(exporter, "stop_by", None)
            if stop_by is not None:
                try:
                    stop_by(deadline)  # retries and back-off sleeps end at the bound
                except Exception:
                    _log.internal_error("bounding the metrics exporter")
        if self._wake is not None:
            self._wake.set()
        self._push_round(deadline)
        if self.prometheus is not None:
            try:
                self.prometheus.shutdown()
            except Exception:
                _log.internal_error("stopping the prometheus endpoint")
        for exporter in self.exporters:
            try:
                exporter.shutdown()
            except Exception:
                _log.internal_error("shutting down the metrics exporter")
        self._report()

    def stats(self):
        return {"signal": "metrics", "pid": self._pid, "exports": self.exports,
                "exported_points": self.exported_points, "dropped_points": dict(self.dropped_points)}

    def _report(self):
        dropped = sum(self.dropped_points.values())
        if dropped:
            _log.warning("metrics (pid %d): exported %d points in %d exports, dropped %d: %s", self._pid,
                         self.exported_points, self.exports, dropped,
                         ", ".join("%d %s" % (n, r) for r, n in sorted(self.dropped_points.items())))
        elif self.exports:
            _log.debug("metrics (pid %d): exported %d points in %d exports, dropped 0", self._pid,
                       self.exported_points, self.exports)

"""The meters and instruments of this process.

One provider per process (the agent's), created with the metrics pipeline. It hands
out meters per instrumentation scope and instruments per name: creating the same
instrument twice (same scope, name, kind, unit, description, boundaries) returns the
first; a conflicting second one is created as well, with one warning, as the
specification says. After ``fork()`` every instrument of the child starts empty
(``series.process``).
"""

import time
from _thread import allocate_lock

from .. import _log
from ..trace.span import Scope
from .instruments import (
    NOOP_INSTRUMENT, OBSERVABLE_COUNTER, OBSERVABLE_GAUGE, OBSERVABLE_UP_DOWN_COUNTER, Meter, Observable,
    name_problem)
from .series import EXEMPLARS_TRACE_BASED, process

_OBSERVABLE_KINDS = (OBSERVABLE_COUNTER, OBSERVABLE_UP_DOWN_COUNTER, OBSERVABLE_GAUGE)


class MeterProvider:
    def __init__(self, cardinality_limit=2000, exemplar_mode=EXEMPLARS_TRACE_BASED):
        self.limit = cardinality_limit
        self.exemplar_mode = exemplar_mode
        self.start_ns = time.time_ns()
        self._meters = {}
        self._instruments = []
        self._by_name = {}  # (scope key, lower-case name) -> [instruments]
        self._lock = allocate_lock()
        self.on_fork = []  # collectors and readers forget the parent's state
        process.on_fork.append(self._after_fork)

    def get_meter(self, name, version="", schema_url="", attributes=None):
        """The meter of the instrumentation scope (name, version, schema URL, attributes)."""
        scope = Scope(name or "", version or "", schema_url or "", attributes)
        meter = self._meters.get(scope.key)
        if meter is None:
            meter = self._meters.setdefault(scope.key, Meter(self, scope))
        return meter

    def instruments(self):
        return list(self._instruments)

    def instrument(self, cls, name, unit, description, scope, exemplars=True, **kwargs):
        """A synchronous instrument of class ``cls`` (the existing one if it was made before)."""
        problem = name_problem(name)
        if problem:
            _log.warning("metric not created: %s", problem)
            return NOOP_INSTRUMENT
        candidate = cls(name, unit, description, scope, self.limit, self.exemplar_mode if exemplars else 0, **kwargs)
        return self._register(candidate)

    def observable(self, kind, name, unit, description, scope, callbacks=()):
        problem = name_problem(name)
        if problem or kind not in _OBSERVABLE_KINDS:
            _log.warning("metric not created: %s", problem or "unknown kind %r" % kind)
            return NOOP_INSTRUMENT
        candidate = Observable(name, unit, description, kind, scope, self.limit, callbacks)
        found = self._register(candidate)
        if found is not candidate:
            for callback in candidate.callbacks:
                found.add_callback(callback)
        return found

    def _register(self, candidate):
        key = (candidate.scope.key, candidate.name.lower())
        with self._lock:
            same_name = self._by_name.setdefault(key, [])
            for existing in same_name:
                if existing.identity == candidate.identity and existing.name == candidate.name:
                    return existing
            if same_name:
                _log.warning("metric %s of %s created twice with different kind, unit, description or "
                             "boundaries: both are exported, under the same name", candidate.name,
                             candidate.scope.name or "(no scope)")
            same_name.append(candidate)
            self._instruments.append(candidate)
        return candidate

    def _after_fork(self):
        from ..export import prefork

        self._lock = allocate_lock()
        # The first uWSGI worker carries on with what its master recorded while loading the
        # app (the master never exports: it runs no thread); every other child starts empty.
        adopt = prefork.in_uwsgi() and prefork.inherits_master_queue()
        if not adopt:
            self.start_ns = time.time_ns()
            for instrument in self.instruments():
                instrument.created_ns = self.start_ns
                instrument.after_fork()
        for callback in list(self.on_fork):
            callback()

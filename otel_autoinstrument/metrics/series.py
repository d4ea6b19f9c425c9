"""One attribute set's aggregation: what the application's threads update.

A series is bound once to its attribute set (``Storage.bind``) and then updated with a
plain method call: the instrumentations keep the bound series of the few attribute
sets they record with, so a measurement costs a pid check, a bucket search (C-level
``bisect``), a short lock around a few additions and, for a sampled span, one
exemplar slot. Nothing allocates on the common path.

A series holds cumulative values since the process started (or forked); the collectors
turn them into deltas where asked (``collector``). Two things are per collection
window instead, reset by the exporting collector: a histogram's min and max, and the
exemplars (each point carries exemplars of its own interval).

Processes: after ``fork()`` the child zeroes every series of the process in place, so
it starts empty, nothing is counted twice, and the series the instrumentations hold stay
valid. Python's at-fork hook does it at once; where a server forks without running that
hook (uWSGI), every update first compares the pid with the one the series were made in
(``process.watch_pid``, on once the process runs under uWSGI: a system call per update
that other processes do not pay).
"""

import os
import sys
import time
from _thread import allocate_lock
from bisect import bisect_left
from random import random

from .. import _log
from ..trace.context import _span
from ..trace.span import INVALID_SPAN_CONTEXT

EXEMPLARS_OFF = 0
EXEMPLARS_TRACE_BASED = 1
EXEMPLARS_ALWAYS_ON = 2

_INF = float("inf")
_getpid = os.getpid
_time_ns = time.time_ns
_current_span = _span.get
_said = set()


class ProcessState:
    """The pid the series belong to, and what runs when it changes or a series is
    first used (both set by the provider and the reader)."""

    __slots__ = ("pid", "on_fork", "on_first_use", "watch_pid")

    def __init__(self):
        self.pid = _getpid()
        self.on_fork = []
        self.on_first_use = None
        self.watch_pid = _forks_without_hooks()

    def check(self):
        """Called where ``pid`` differs from the current pid: this is a forked child."""
        pid = _getpid()
        if pid == self.pid:
            return
        self.pid = pid
        for callback in list(self.on_fork):
            try:
                callback()
            except Exception:
                _log.internal_error("resetting metrics after fork")

    def first_use(self):
        if not self.watch_pid:
            self.watch_pid = _forks_without_hooks()  # the first measurement: uWSGI is known by then
        callback = self.on_first_use
        if callback is not None:
            try:
                callback()
            except Exception:
                _log.internal_error("starting the metrics reader")


def _forks_without_hooks():
    """True under uWSGI, which forks its workers without Python's at-fork hooks."""
    return "uwsgi" in sys.modules


process = ProcessState()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=process.check)


def exemplar_context(mode, span):
    """The span context an exemplar of this measurement refers to (the invalid context
    when there is no span and the filter is always_on), or None if not eligible."""
    if span is None:
        span = _current_span()
        if span is None:
            return INVALID_SPAN_CONTEXT if mode == EXEMPLARS_ALWAYS_ON else None
    context = span.context
    if mode == EXEMPLARS_ALWAYS_ON or context.trace_flags & 1:
        return context
    return None


def _number(value, name):
    """``value`` as an int or float, or None (reported once per instrument) if it is not one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        _refuse(name, "a value that is not a number (%s)" % type(value).__name__)
        return None


def _refuse(name, what):
    if (name, what) not in _said:
        _said.add((name, what))
        _log.warning("metric %s: %s was not recorded", name, what)


class SumSeries:
    """Counter and up-down counter: the sum of the values added."""

    __slots__ = ("name", "attributes", "monotonic", "exemplar_mode", "lock", "value", "count",
                 "start_ns", "seen", "ex_value", "ex_time", "ex_context")

    def __init__(self, name, attributes, monotonic, exemplar_mode):
        self.name = name
        self.attributes = attributes
        self.monotonic = monotonic
        self.exemplar_mode = exemplar_mode
        self.reset()

    def reset(self):
        self.lock = allocate_lock()
        self.value = 0
        self.count = 0
        self.start_ns = _time_ns()
        self.seen = 0
        self.ex_value = self.ex_time = self.ex_context = None  # the window's exemplar (no tuple per update)

    def add(self, value, span=None):
        if process.watch_pid and process.pid != _getpid():
            process.check()
        kind = value.__class__
        if kind is not int and kind is not float:
            value = _number(value, self.name)
            if value is None:
                return
        if self.monotonic and not value >= 0:
            _refuse(self.name, "a negative or NaN increment of a counter")
            return
        context = exemplar_context(self.exemplar_mode, span) if self.exemplar_mode else None
        lock = self.lock
        lock.acquire()
        self.value += value
        count = self.count = self.count + 1
        if context is not None:
            # A reservoir of one, uniformly sampled over the window's measurements; under
            # the lock, so a collection never sees half an exemplar.
            seen = self.seen = self.seen + 1
            if seen == 1 or random() * seen < 1.0:
                self.ex_value, self.ex_time, self.ex_context = value, _time_ns(), context
        lock.release()
        if count == 1:
            process.first_use()

    def take(self, reset_window):
        """(value, count, exemplars) now; ``reset_window`` starts a new exemplar window."""
        lock = self.lock
        lock.acquire()
        value, count = self.value, self.count
        context = self.ex_context
        exemplars = ((self.ex_value, self.ex_time, context),) if context is not None else ()
        if reset_window:
            self.ex_value = self.ex_time = self.ex_context = None
            self.seen = 0
        lock.release()
        return value, count, exemplars


class GaugeSeries:
    """Synchronous gauge: the last value set."""

    __slots__ = ("name", "attributes", "exemplar_mode", "lock", "last", "count", "start_ns", "exemplar")

    def __init__(self, name, attributes, exemplar_mode):
        self.name = name
        self.attributes = attributes
        self.exemplar_mode = exemplar_mode
        self.reset()

    def reset(self):
        self.lock = allocate_lock()
        self.last = (0, 0)
        self.count = 0
        self.start_ns = _time_ns()
        self.exemplar = None

    def set(self, value, span=None):
        if process.watch_pid and process.pid != _getpid():
            process.check()
        kind = value.__class__
        if kind is not int and kind is not float:
            value = _number(value, self.name)
            if value is None:
                return
        now = _time_ns()
        self.last = (value, now)  # one store: a reader never sees a value without its time
        self.count += 1
        if self.count == 1:
            process.first_use()
        if self.exemplar_mode:
            context = exemplar_context(self.exemplar_mode, span)
            if context is not None:
                self.exemplar = (value, now, context)

    def take(self, reset_window):
        exemplar = self.exemplar
        if reset_window:
            self.exemplar = None
        return self.last, self.count, (exemplar,) if exemplar is not None else ()


class HistogramSeries:
    """Explicit bucket histogram: bucket counts, count, sum; min and max per window."""

    __slots__ = ("name", "attributes", "bounds", "exemplar_mode", "lock", "counts", "count", "sum",
                 "min", "max", "start_ns", "ex_values", "ex_times", "ex_contexts")

    def __init__(self, name, attributes, bounds, exemplar_mode):
        self.name = name
        self.attributes = attributes
        self.bounds = bounds
        self.exemplar_mode = exemplar_mode
        self.reset()

    def reset(self):
        self.lock = allocate_lock()
        self.counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.sum = 0.0
        self.min = _INF
        self.max = -_INF
        self.start_ns = _time_ns()
        self._new_exemplar_window()

    def _new_exemplar_window(self):
        # Parallel lists, one slot per bucket: storing an exemplar allocates nothing.
        size = len(self.bounds) + 1 if self.exemplar_mode else 0
        self.ex_values, self.ex_times, self.ex_contexts = [None] * size, [None] * size, [None] * size

    def record(self, value, span=None, _bisect=bisect_left):
        if process.watch_pid and process.pid != _getpid():
            process.check()
        if value.__class__ is not float:
            value = _number(value, self.name)
            if value is None:
                return
            value = float(value)
        if not value >= 0.0:
            _refuse(self.name, "a negative or NaN histogram value")
            return
        # Buckets are (lower, upper]: the first bound >= value names the bucket.
        index = _bisect(self.bounds, value)
        # One exemplar per bucket: the last eligible measurement that fell into it.
        context = None
        mode = self.exemplar_mode
        if mode:
            if span is None:
                span = _current_span()
            if span is not None:
                context = span.context
                if not (context.trace_flags & 1 or mode == EXEMPLARS_ALWAYS_ON):
                    context = None
            elif mode == EXEMPLARS_ALWAYS_ON:
                context = INVALID_SPAN_CONTEXT
        lock = self.lock
        lock.acquire()
        self.counts[index] += 1
        self.sum += value
        count = self.count = self.count + 1
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if context is not None:  # under the lock: a collection never sees half an exemplar
            self.ex_values[index] = value
            self.ex_times[index] = _time_ns()
            self.ex_contexts[index] = context
        lock.release()
        if count == 1:
            process.first_use()

    def take(self, reset_window):
        """(counts, count, sum, min, max, exemplars); ``reset_window`` starts a new min,
        max and exemplar window."""
        lock = self.lock
        lock.acquire()
        counts, count, total, low, high = list(self.counts), self.count, self.sum, self.min, self.max
        values, times, contexts = self.ex_values, self.ex_times, self.ex_contexts
        if reset_window:
            self.min = _INF
            self.max = -_INF
            self._new_exemplar_window()
        lock.release()
        found = tuple((values[i], times[i], c) for i, c in enumerate(contexts) if c is not None)
        return counts, count, total, low, high, found


class NoopSeries:
    """What a disabled instrument binds to: every update does nothing."""

    __slots__ = ()
    attributes = {}

    def add(self, value, span=None):
        pass

    def record(self, value, span=None):
        pass

    def set(self, value, span=None):
        pass


NOOP_SERIES = NoopSeries()

"""Process and CPython runtime metrics, read at collection time only (no psutil).

Observable instruments of the scope ``otel_autoinstrument.runtime`` (semantic
conventions ``process.*`` and ``cpython.*``); nothing runs between collections.

| Metric | Source (fallback) |
|---|---|
| ``process.cpu.time`` {cpu.mode=user,system} | ``os.times()`` |
| ``process.cpu.utilization`` {cpu.mode} | CPU time since the previous reading / (wall time x CPUs this process may use: ``os.sched_getaffinity``, else ``os.cpu_count``) |
| ``process.memory.usage`` | resident set, ``/proc/self/statm`` (``resource.getrusage``'s peak RSS where there is no ``/proc``) |
| ``process.memory.virtual`` | ``/proc/self/statm`` (left out without ``/proc``) |
| ``process.thread.count`` | ``/proc/self/stat`` (every OS thread; ``threading.active_count()`` otherwise: Python threads) |
| ``process.unix.file_descriptor.count`` | entries of ``/proc/self/fd`` (``/dev/fd``) |
| ``process.context_switches`` {process.context_switch.type} | ``resource.getrusage`` ``ru_nvcsw``/``ru_nivcsw`` |
| ``cpython.gc.collections``, ``cpython.gc.collected_objects``, ``cpython.gc.uncollectable_objects`` {cpython.gc.generation} | ``gc.get_stats()`` |

A forked child counts from the fork: the kernel restarts its CPU time and context
switches, and the GC figures it inherited from the parent are subtracted (otherwise a
pre-fork server's workers would each report the master's collections again).
"""

import gc
import os
import time

from .. import semconv as sc

_STATM = "/proc/self/statm"
_STAT = "/proc/self/stat"
_FD_DIRS = ("/proc/self/fd", "/dev/fd")
_GC_FIELDS = ("collections", "collected", "uncollectable")
_CACHE_S = 0.05  # one collection calls several callbacks: read each source once


class RuntimeMetrics:
    """Registers the runtime instruments on ``meter`` and answers their callbacks."""

    def __init__(self, meter):
        self._page = _page_size()
        self._cpus = _usable_cpus()
        self._cache = {}
        self._gc_base = None  # what the parent had collected, in a forked child
        self._last_cpu = _cpu_reading()  # (wall, user, system) of the previous utilization reading
        made = []
        for kind, name, unit, description, callback in (
                ("observable_counter", sc.PROCESS_CPU_TIME, "s",
                 "Total CPU seconds broken down by different CPU modes.", self.cpu_time),
                ("observable_gauge", sc.PROCESS_CPU_UTILIZATION, "1",
                 "Difference in process.cpu.time since the last measurement, divided by the elapsed time and "
                 "number of CPUs available to the process.", self.cpu_utilization),
                ("observable_up_down_counter", sc.PROCESS_MEMORY_USAGE, "By",
                 "The amount of physical memory in use.", self.memory_usage),
                ("observable_up_down_counter", sc.PROCESS_MEMORY_VIRTUAL, "By",
                 "The amount of committed virtual memory.", self.memory_virtual),
                ("observable_up_down_counter", sc.PROCESS_THREAD_COUNT, "{thread}",
                 "Process threads count.", self.thread_count),
                ("observable_up_down_counter", sc.PROCESS_FILE_DESCRIPTOR_COUNT, "{file_descriptor}",
                 "Number of unix file descriptors in use by the process.", self.fd_count),
                ("observable_counter", sc.PROCESS_CONTEXT_SWITCHES, "{context_switch}",
                 "Number of times the process has been context switched.", self.context_switches),
                ("observable_counter", sc.CPYTHON_GC_COLLECTIONS, "{collection}",
                 "The number of times a generation was collected since interpreter start.",
                 self.gc_field("collections")),
                ("observable_counter", sc.CPYTHON_GC_COLLECTED_OBJECTS, "{object}",
                 "The total number of objects collected inside a generation since interpreter start.",
                 self.gc_field("collected")),
                ("observable_counter", sc.CPYTHON_GC_UNCOLLECTABLE_OBJECTS, "{object}",
                 "The total number of objects which were found to be uncollectable inside a generation since "
                 "interpreter start.", self.gc_field("uncollectable"))):
            made.append(getattr(meter, kind)(name, [callback], unit, description))
        instruments = made
        self.instruments = [i for i in instruments if getattr(i, "callbacks", None) is not None]

    def after_fork(self):
        self._cache = {}
        self._last_cpu = _cpu_reading()
        self._gc_base = _gc_stats()

    def _cached(self, name, read):
        now = time.monotonic()
        found = self._cache.get(name)
        if found is None or now - found[0] > _CACHE_S:
            found = self._cache[name] = (now, read())
        return found[1]

    # --- CPU ------------------------------------------------------------------------------

    def cpu_time(self):
        times = self._cached("times", os.times)
        return [(times.user, {sc.CPU_MODE: "user"}), (times.system, {sc.CPU_MODE: "system"})]

    def cpu_utilization(self):
        last, self._last_cpu = self._last_cpu, _cpu_reading()
        now, user, system = self._last_cpu
        if last is None or now <= last[0]:
            return []
        capacity = (now - last[0]) * self._cpus
        return [(max(0.0, (user - last[1]) / capacity), {sc.CPU_MODE: "user"}),
                (max(0.0, (system - last[2]) / capacity), {sc.CPU_MODE: "system"})]

    # --- memory, threads, descriptors ------------------------------------------------------

    def _statm(self):
        return self._cached("statm", _read_statm)

    def memory_usage(self):
        statm = self._statm()
        if statm is not None:
            return [(statm[1] * self._page, None)]
        peak = _peak_rss()
        return [(peak, None)] if peak is not None else []

    def memory_virtual(self):
        statm = self._statm()
        return [(statm[0] * self._page, None)] if statm is not None else []

    def thread_count(self):
        count = self._cached("threads", _os_thread_count)
        if count is None:
            import threading

            count = threading.active_count()
        return [(count, None)]

    def fd_count(self):
        for folder in _FD_DIRS:
            try:
                return [(max(0, len(os.listdir(folder)) - 1), None)]  # less the listing's own descriptor
            except OSError:
                continue
        return []

    def context_switches(self):
        usage = self._cached("rusage", _rusage)
        if usage is None:
            return []
        return [(usage.ru_nvcsw, {sc.PROCESS_CONTEXT_SWITCH_TYPE: "voluntary"}),
                (usage.ru_nivcsw, {sc.PROCESS_CONTEXT_SWITCH_TYPE: "involuntary"})]

    # --- garbage collector ------------------------------------------------------------------

    def gc_field(self, field):
        index = _GC_FIELDS.index(field)

        def observe():
            stats = self._cached("gc", _gc_stats)
            base = self._gc_base or [(0, 0, 0)] * len(stats)
            return [(max(0, generation[index] - base[number][index]), {sc.CPYTHON_GC_GENERATION: number})
                    for number, generation in enumerate(stats) if number < len(base)]

        observe.__name__ = "cpython_gc_" + field
        return observe


def _cpu_reading():
    times = os.times()
    return time.monotonic(), times.user, times.system


def _gc_stats():
    return [tuple(generation.get(field, 0) for field in _GC_FIELDS) for generation in gc.get_stats()]


def _read_statm():
    try:
        with open(_STATM, "rb") as fh:
            fields = fh.read().split()
        return int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


def _os_thread_count():
    try:
        with open(_STAT, "rb") as fh:
            text = fh.read()
        # The command name (field 2) may contain spaces: count fields after its ')'.
        return int(text[text.rindex(b")") + 2:].split()[17])
    except (OSError, ValueError, IndexError):
        return None


def _rusage():
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF)
    except (ImportError, OSError, AttributeError):
        return None


def _peak_rss():
    usage = _rusage()
    if usage is None:
        return None
    import sys

    return usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024  # bytes there, KiB here


def _page_size():
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4096


def _usable_cpus():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)

"""The batching processor: a queue bounded by count and bytes on the caller's side,
export on a thread.

``on_end`` runs on the application's thread for every ended span or log record: it
counts the item, estimates its encoded size (``sizes``) and appends it to a deque. It
never blocks (one short lock keeps the byte count exact) and never raises; when the
queue is full the item is dropped and counted. One daemon thread per processor and
process starts with the first item, prepares the exporter at once (imports, TLS
settings), then wakes every schedule delay or as soon as a full batch waits, takes
batches off the queue and hands them to the exporter with a deadline.

Bounds: the queue holds at most ``max_queue_size`` items and ``max_queue_bytes``
(estimated) bytes; an item above ``max_item_bytes`` is never queued ("too large"). A
batch carries at most ``max_batch_size`` items and about ``MAX_BATCH_BYTES``; the
exporter cuts request bodies by their real size.

Accounting: every item handed to ``on_end`` is counted in ``created`` and is, in the
end, either exported or counted in ``dropped`` under a reason; ``stats()`` shows all,
and ``created == exported + dropped + queued + in_flight`` holds at any moment (the
counters the application's threads bump are ``itertools.count`` objects, atomic under
the GIL; the others are written under the processor's lock). Shutdown logs the totals
(a warning when anything was dropped, a debug line otherwise).

Processes: after ``fork()`` the child gets a fresh queue, lock, counters and thread
(started on its first item) and forgets the parent's queue, so nothing is exported
twice. The pid is checked on each ``on_end`` as well as in an at-fork hook, because
servers such as uWSGI fork without running Python's at-fork hooks (and where a thread
of the master could hold locks at fork, none is started: see ``prefork``).

Exit: ``shutdown(timeout)`` stops the exporter's retries at the deadline, waits for
the thread at most until then, and counts whatever did not make it (queued, or in
flight to a collector that did not answer) as dropped; the thread is a daemon, so a
hanging collector never holds the process past the bound.
"""

import itertools
import os
import time
from collections import deque

from .. import _log
from ..config import DEFAULT_QUEUE_SIZE
from ..trace.context import suppress
from . import outcome as reasons
from . import prefork
from .outcome import Outcome
from .sizes import estimate_log, estimate_span  # noqa: F401  (part of this module's interface)

MAX_QUEUE_BYTES = 32 * 1024 * 1024
MAX_ITEM_BYTES = 4 * 1024 * 1024
MAX_BATCH_BYTES = 4 * 1024 * 1024
_UNKNOWN_SIZE = 1024  # an item whose size could not be estimated (a __len__ that raises)


def _count_value(counter):
    """The next value an ``itertools.count`` would return, without taking it."""
    return int(repr(counter)[6:-1])


class BatchProcessor:
    def __init__(self, exporter, signal, max_queue_size=DEFAULT_QUEUE_SIZE, max_batch_size=512,
                 schedule_delay_ms=5000, export_timeout_ms=30000, max_queue_bytes=MAX_QUEUE_BYTES,
                 max_item_bytes=MAX_ITEM_BYTES):
        self.exporter = exporter
        self.signal = signal
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.max_queue_bytes = max_queue_bytes
        self.max_item_bytes = max_item_bytes
        self.delay_s = schedule_delay_ms / 1000.0
        self.export_timeout_s = export_timeout_ms / 1000.0 if export_timeout_ms else 30.0
        self._estimate = estimate_span if signal == "traces" else estimate_log
        self.on_first_item = None  # called when the export thread starts (the agent wakes the metrics thread)
        self._fresh_state()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _fresh_state(self):
        import _thread

        self._pid = os.getpid()
        self._queue = deque()
        self._thread = None
        self._wake = None
        self._lock = _thread.allocate_lock()
        self._notified = False
        self._stopping = False
        self._abandoned = False  # shutdown gave up on the thread: it may no longer count
        self._shutdown_deadline = None
        self._flush_waiters = []
        self._inherited = ()
        self._bytes = 0  # estimated size of what is queued (written under the lock)
        self._in_flight = 0
        self._error_logged = False
        # Bumped on the application's threads: atomic counters, no lock.
        self._created = itertools.count()
        self._full = itertools.count()
        self._too_large = itertools.count()
        self._late = itertools.count()
        # Written by the export thread (or by shutdown), under the lock.
        self.exported = 0
        self._export_dropped = {}

    def _after_fork(self):
        global _lock
        if self._pid == os.getpid():
            return
        _lock = None  # the parent may have held it while forking
        inherited = list(self._queue) if prefork.in_uwsgi() else ()
        self._fresh_state()
        self._inherited = inherited  # adopted, or not, once uWSGI says which worker this is
        try:
            self.exporter.after_fork()
        except Exception:
            _log.internal_error("resetting the %s exporter after fork" % self.signal)

    def _adopt_inherited(self):
        """What a uWSGI master queued while loading the app: worker 1's first
        incarnation exports it, every other process forgets it."""
        inherited, self._inherited = self._inherited, ()
        if inherited and prefork.inherits_master_queue():
            for item, size in inherited:
                next(self._created)
                self._enqueue(item, size)

    # --- the caller's side ----------------------------------------------------

    def on_end(self, item):
        """Queue ``item`` for export. Runs on the caller's thread: never blocks, never raises."""
        if self._pid != os.getpid():
            self._after_fork()
        next(self._created)
        if self._stopping:
            next(self._late)
            return
        queue = self._queue
        if len(queue) >= self.max_queue_size:
            next(self._full)
            return
        try:
            size = self._estimate(item)
        except Exception:
            size = _UNKNOWN_SIZE  # an odd value: still counted against the byte bound
        if size > self.max_item_bytes:
            next(self._too_large)
            return
        # _enqueue(), inlined (the hot path). ``with``, not acquire()/release(): a
        # KeyboardInterrupt between those would leave the lock held for good.
        with self._lock:
            total = self._bytes + size
            full = total > self.max_queue_bytes or len(queue) >= self.max_queue_size
            if not full:
                self._bytes = total
                queue.append((item, size))
        if full:
            next(self._full)
            return
        if self._thread is None:
            self._start()
        elif len(queue) >= self.max_batch_size and not self._notified:
            self._notified = True
            self._wake.set()

    def _enqueue(self, item, size):
        """Queue ``item`` of ``size`` estimated bytes, or count it as dropped (queue full)."""
        queue = self._queue
        with self._lock:
            full = self._bytes + size > self.max_queue_bytes or len(queue) >= self.max_queue_size
            if not full:
                self._bytes += size
                queue.append((item, size))
        if full:
            next(self._full)
        return not full

    def _start(self):
        if self.on_first_item is not None:
            try:
                self.on_first_item()
            except Exception:
                _log.internal_error("starting the metrics thread with the %s export" % self.signal)
        if self._inherited:
            self._adopt_inherited()
        if prefork.defers_threads():
            return  # a uWSGI master: its workers must not inherit a thread's locks
        try:
            import threading

            with _start_lock():
                if self._thread is not None:
                    return
                self._wake = threading.Event()
                thread = threading.Thread(target=self._run, name="otel-export-" + self.signal, daemon=True)
                thread.start()
                self._thread = thread
        except Exception:
            # e.g. "can't create new thread at interpreter shutdown": what is queued is
            # counted as dropped when the processor shuts down.
            _log.internal_error("starting the %s export thread" % self.signal)

    # --- the export thread ------------------------------------------------------

    def _run(self):
        suppress()  # the agent's own HTTP traffic is never instrumented
        block_process_signals()
        prepare = getattr(self.exporter, "prepare", None)
        if prepare is not None:
            try:
                prepare()  # ready before the first batch is due (a burst fills the queue fast)
            except Exception:
                _log.internal_error("preparing the %s exporter" % self.signal)
        wake = self._wake
        while True:
            timed_out = not wake.wait(self.delay_s)
            wake.clear()
            self._notified = False
            # Woken early because a full batch waits: send full batches only, and let
            # the rest fill up until the schedule delay (a steady stream then goes out
            # in full batches, not in one small request per wake-up). A timer, a flush
            # or shutdown sends everything.
            full_only = not (timed_out or self._stopping or self._flush_waiters)
            try:
                self._export_queued(full_only)
                if full_only and (self._flush_waiters or self._stopping):
                    self._export_queued()  # a flush or shutdown arrived meanwhile
            except Exception:
                if self._abandoned:
                    return
                _log.internal_error("the %s export loop" % self.signal)
            self._release_flush_waiters()
            if self._stopping:
                return

    def _export_queued(self, full_only=False):
        while True:
            if full_only and len(self._queue) < self.max_batch_size:
                return
            batch = self._take_batch()
            if not batch:
                return
            self._export(batch)

    def _take_batch(self):
        """Up to a batch (by count and by bytes) off the queue, marked in flight."""
        queue = self._queue
        batch = []
        append = batch.append
        size = 0
        limit = self.max_batch_size
        with self._lock:
            if self._abandoned:
                return batch
            while len(batch) < limit and size < MAX_BATCH_BYTES:
                try:
                    item, item_size = queue.popleft()
                except IndexError:
                    break
                size += item_size
                append(item)
            self._bytes = max(0, self._bytes - size)
            self._in_flight = len(batch)
        return batch

    def _export(self, batch):
        count = len(batch)
        deadline = time.monotonic() + self.export_timeout_s
        if self._shutdown_deadline is not None:
            deadline = min(deadline, self._shutdown_deadline)
        if time.monotonic() >= deadline:
            self._settle(Outcome(0, count, reasons.SHUTDOWN), count)
            return
        try:
            result = self.exporter.export(batch, deadline)
        except Exception:
            if self._abandoned:
                return  # shutdown already counted this batch and stopped listening
            self._settle(Outcome(0, count, reasons.EXPORT_FAILED), count)
            if not self._error_logged or _log.STRICT:
                self._error_logged = True  # a broken exporter is reported once, then counted
                _log.internal_error("exporting %s" % self.signal)
            return
        if not isinstance(result, Outcome):
            result = Outcome(count)  # an exporter that returns nothing delivered everything
        self._settle(result, count)

    def _settle(self, result, count):
        """Count what happened to one in-flight batch (unless shutdown already did)."""
        with self._lock:
            if self._abandoned:
                return
            self._in_flight = 0
            exported = min(max(0, result.exported), count)
            dropped = min(max(0, result.dropped), count - exported)
            self.exported += exported
            if dropped:
                self._add_dropped(result.reason or reasons.EXPORT_FAILED, dropped)
            for reason, extra in (result.also or {}).items():
                extra = min(max(0, extra), count - exported - dropped)
                if extra:
                    self._add_dropped(reason, extra)
                    dropped += extra
            if count - exported - dropped:
                self._add_dropped(reasons.EXPORT_FAILED, count - exported - dropped)

    def _add_dropped(self, reason, count):
        self._export_dropped[reason] = self._export_dropped.get(reason, 0) + count

    def _release_flush_waiters(self):
        if self._flush_waiters:
            waiters, self._flush_waiters = self._flush_waiters, []
            for event in waiters:
                event.set()

    # --- flush and shutdown -----------------------------------------------------

    def force_flush(self, timeout_s=5.0):
        """Export what is queued now; returns False if it did not finish in time."""
        if self._pid != os.getpid():
            self._after_fork()
        thread = self._thread
        if thread is None or self._stopping or not (self._queue or self._in_flight):
            return True
        if not thread.is_alive():
            return False
        import threading

        done = threading.Event()
        self._flush_waiters.append(done)
        self._wake.set()
        return done.wait(timeout_s)

    def shutdown(self, timeout_s=3.0):
        """Flush within ``timeout_s`` and stop; whatever could not go is counted."""
        if self._pid != os.getpid():
            self._after_fork()
        if self._stopping:
            return
        if self._inherited or (self._queue and self._thread is None):
            self._start()  # e.g. a uWSGI worker 1 that made nothing itself
        deadline = time.monotonic() + max(0.0, timeout_s)
        self._shutdown_deadline = deadline
        self._stopping = True
        stop_by = getattr(self.exporter, "stop_by", None)
        if stop_by is not None:
            try:
                stop_by(deadline)  # retries and back-off sleeps end at the bound
            except Exception:
                _log.internal_error("bounding the %s exporter" % self.signal)
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._wake.set()
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._abandoned = True
            if self._in_flight:
                self._add_dropped(reasons.SHUTDOWN, self._in_flight)  # no answer within the bound
                self._in_flight = 0
            left = 0
            queue = self._queue
            while queue:
                try:
                    queue.popleft()
                except IndexError:
                    break
                left += 1
            if left:
                self._add_dropped(reasons.SHUTDOWN, left)
            self._bytes = 0
        try:
            self.exporter.shutdown()
        except Exception:
            _log.internal_error("shutting down the %s exporter" % self.signal)
        self._report()

    @property
    def created(self):
        return _count_value(self._created)

    @property
    def dropped(self):
        """Dropped items by reason (only reasons that occurred)."""
        dropped = dict(self._export_dropped)
        for reason, counter in ((reasons.QUEUE_FULL, self._full), (reasons.TOO_LARGE, self._too_large),
                                (reasons.SHUTDOWN, self._late)):
            count = _count_value(counter)
            if count:
                dropped[reason] = dropped.get(reason, 0) + count
        return dropped

    def stats(self):
        return {"signal": self.signal, "pid": self._pid, "created": self.created, "exported": self.exported,
                "queued": len(self._queue), "in_flight": self._in_flight, "dropped": self.dropped}

    def _report(self):
        stats = self.stats()
        dropped = stats["dropped"]
        total = sum(dropped.values())
        if total:
            _log.warning("%s (pid %d): created %d, exported %d, dropped %d: %s", self.signal, stats["pid"],
                         stats["created"], stats["exported"], total,
                         ", ".join("%d %s" % (n, reason) for reason, n in sorted(dropped.items())))
        else:
            _log.debug("%s (pid %d): created %d, exported %d, dropped 0", self.signal, stats["pid"],
                       stats["created"], stats["exported"])


def block_process_signals():
    """Signals sent to the process are for the application's threads, not this one.

    CPython runs Python-level handlers on the main thread whichever thread the kernel
    picks, but a server's C-level handler (uWSGI's SIGINT handler calls ``exit()``)
    would run on this thread and tear the process down from under an export."""
    try:
        import signal

        names = ("SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD",
                 "SIGPIPE", "SIGWINCH")
        signal.pthread_sigmask(signal.SIG_BLOCK, {getattr(signal, n) for n in names if hasattr(signal, n)})
    except Exception:
        pass  # no pthread_sigmask on this platform: nothing to protect against either


_lock = None


def _start_lock():
    """A process-wide lock for starting threads, created on first use."""
    global _lock
    if _lock is None:
        import threading

        _lock = threading.Lock()
    return _lock

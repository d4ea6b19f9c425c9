"""The batching processor: a bounded queue on the caller's side, export on a thread.

``on_end`` runs on the application's thread for every ended span or log record: it
appends to a deque and returns. It never blocks and never raises; when the queue is
full the item is dropped and counted. One daemon thread per processor and process
wakes every schedule delay (or as soon as a full batch waits), takes batches off the
queue and hands them to the exporter with a deadline.

Accounting: every item handed to ``on_end`` is, in the end, either exported or
counted in ``dropped`` under a reason — ``stats()`` shows both, and
``created == exported + dropped + queued`` holds at any quiet moment.

Processes: after ``fork()`` the child gets a fresh queue, lock and thread (started on
its first item) and forgets the parent's queue, so nothing is exported twice. The pid
is checked on each ``on_end`` as well as in an at-fork hook, because servers such as
uWSGI fork without running Python's at-fork hooks.
"""

import os
import time
from collections import deque

from .. import _log
from ..trace.context import suppress
from . import outcome as reasons


class BatchProcessor:
    def __init__(self, exporter, signal, max_queue_size=2048, max_batch_size=512,
                 schedule_delay_ms=5000, export_timeout_ms=30000):
        self.exporter = exporter
        self.signal = signal
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.delay_s = schedule_delay_ms / 1000.0
        self.export_timeout_s = export_timeout_ms / 1000.0 if export_timeout_ms else 30.0
        self._fresh_state()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _fresh_state(self):
        self._pid = os.getpid()
        self._queue = deque()
        self._thread = None
        self._wake = None
        self._lock = None
        self._notified = False
        self._stopping = False
        self._shutdown_deadline = None
        self._flush_waiters = []
        self.exported = 0
        self.dropped = {}

    def _after_fork(self):
        global _lock
        if self._pid == os.getpid():
            return
        _lock = None  # the parent may have held it while forking
        self._fresh_state()
        try:
            self.exporter.after_fork()
        except Exception:
            _log.internal_error("resetting the %s exporter after fork" % self.signal)

    # --- the caller's side ----------------------------------------------------

    def on_end(self, item):
        """Queue ``item`` for export. Runs on the caller's thread: O(1), never blocks."""
        if self._pid != os.getpid():
            self._after_fork()
        queue = self._queue
        if len(queue) >= self.max_queue_size or self._stopping:
            self._drop(reasons.QUEUE_FULL if not self._stopping else reasons.SHUTDOWN, 1)
            return
        queue.append(item)
        if self._thread is None:
            self._start()
        elif len(queue) >= self.max_batch_size and not self._notified:
            self._notified = True
            self._wake.set()

    def _drop(self, reason, count):
        self.dropped[reason] = self.dropped.get(reason, 0) + count

    def _start(self):
        import threading

        with _start_lock():
            if self._thread is not None:
                return
            self._wake = threading.Event()
            self._lock = threading.Lock()
            thread = threading.Thread(target=self._run, name="otel-export-" + self.signal, daemon=True)
            self._thread = thread
            thread.start()

    # --- the export thread ------------------------------------------------------

    def _run(self):
        suppress()  # the agent's own HTTP traffic is never instrumented
        wake = self._wake
        while True:
            wake.wait(self.delay_s)
            wake.clear()
            self._notified = False
            try:
                self._export_queued()
            except Exception:
                _log.internal_error("the %s export loop" % self.signal)
            self._release_flush_waiters()
            if self._stopping:
                return

    def _export_queued(self):
        queue = self._queue
        while queue:
            batch = []
            take = min(len(queue), self.max_batch_size)
            try:
                for _ in range(take):
                    batch.append(queue.popleft())
            except IndexError:
                pass
            if batch:
                self._export(batch)

    def _export(self, batch):
        deadline = time.monotonic() + self.export_timeout_s
        if self._shutdown_deadline is not None:
            deadline = min(deadline, self._shutdown_deadline)
            if time.monotonic() >= deadline:
                self._drop(reasons.SHUTDOWN, len(batch))
                return
        try:
            result = self.exporter.export(batch, deadline)
        except Exception:
            self._drop(reasons.EXPORT_FAILED, len(batch))
            _log.internal_error("exporting %s" % self.signal)
            return
        self.exported += result.exported
        if result.dropped:
            self._drop(result.reason or reasons.EXPORT_FAILED, result.dropped)

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
        if self._thread is None or not self._queue:
            return True
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
        self._shutdown_deadline = time.monotonic() + timeout_s
        self._stopping = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._wake.set()
            thread.join(timeout_s)
        left = len(self._queue)
        if left:
            self._queue.clear()
            self._drop(reasons.SHUTDOWN, left)
        try:
            self.exporter.shutdown()
        except Exception:
            _log.internal_error("shutting down the %s exporter" % self.signal)
        if self.dropped:
            _log.warning("%s: exported %d, dropped %s", self.signal, self.exported,
                         ", ".join("%d (%s)" % (n, reason) for reason, n in sorted(self.dropped.items())))

    def stats(self):
        return {"signal": self.signal, "exported": self.exported, "queued": len(self._queue),
                "dropped": dict(self.dropped)}


_lock = None


def _start_lock():
    """A process-wide lock for starting threads, created on first use."""
    global _lock
    if _lock is None:
        import threading

        _lock = threading.Lock()
    return _lock

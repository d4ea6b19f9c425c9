"""The batching processor, driven with a small fake exporter (the one place a fake is
right: the processor's contract is with "an exporter", and a fake one can block, hang
and fail on cue). Every item handed to ``on_end`` must end up exported or counted as
dropped under a reason; nothing is exported twice; shutdown is bounded in time."""

import json
import os
import threading
import time

import pytest

from otel_autoinstrument import _log
from otel_autoinstrument.export import outcome as reasons
from otel_autoinstrument.export.batch import BatchProcessor
from otel_autoinstrument.export.outcome import Outcome


class FakeExporter:
    """Records batches. ``gate``: an Event the export waits for (bounded) before
    returning; ``fail_first``: raise on the first N calls; ``result``: a function
    batch -> Outcome."""

    def __init__(self, gate=None, fail_first=0, result=None, gate_timeout=30.0):
        self.batches = []
        self.gate = gate
        self.gate_timeout = gate_timeout
        self.fail_first = fail_first
        self.result = result
        self.calls = 0
        self.deadlines = []
        self.entered = threading.Event()
        self.after_forks = 0
        self.shut = 0

    def export(self, batch, deadline):
        self.calls += 1
        self.deadlines.append(deadline)
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(self.gate_timeout)
        if self.calls <= self.fail_first:
            raise RuntimeError("exporter bug")
        self.batches.append(list(batch))
        return self.result(batch) if self.result else Outcome(len(batch))

    @property
    def items(self):
        return [item for batch in self.batches for item in batch]

    def after_fork(self):
        self.after_forks += 1
        self.batches = []

    def shutdown(self):
        self.shut += 1


@pytest.fixture
def processors():
    """Processors made by a test, shut down (bounded) at its end."""
    made = []

    def make(exporter, **kwargs):
        kwargs.setdefault("schedule_delay_ms", 10000)
        processor = BatchProcessor(exporter, "traces", **kwargs)
        made.append((processor, exporter))
        return processor

    yield make
    for processor, exporter in made:
        if exporter.gate is not None:
            exporter.gate.set()
        processor.shutdown(2.0)


@pytest.fixture
def logged(monkeypatch):
    """The agent's own log lines (non-strict mode: the production safety net)."""
    lines = []
    monkeypatch.setattr(_log, "STRICT", False)
    monkeypatch.setattr(_log, "log", lambda level, msg, *args, **kw: lines.append((level, msg % args)))
    return lines


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %ss" % timeout)
        time.sleep(0.005)


def accounted(processor):
    """exported + dropped + queued + in flight: equal to ``created`` at any moment."""
    stats = processor.stats()
    return stats["exported"] + sum(stats["dropped"].values()) + stats["queued"] + stats["in_flight"]


# --- batching ------------------------------------------------------------------------

def test_batches_have_at_most_the_max_size(processors):
    gate = threading.Event()
    exporter = FakeExporter(gate=gate)
    processor = processors(exporter, max_batch_size=10, max_queue_size=1000)
    for i in range(35):
        processor.on_end(i)
    exporter.entered.wait(10)          # the first full batch woke the thread at once
    gate.set()
    assert processor.force_flush(10)
    assert [len(b) for b in exporter.batches] == [10, 10, 10, 5]
    assert exporter.items == list(range(35))


def test_a_full_batch_goes_before_the_schedule_delay(processors):
    exporter = FakeExporter()
    processor = processors(exporter, max_batch_size=5, schedule_delay_ms=60000)
    for i in range(5):
        processor.on_end(i)
    wait_until(lambda: exporter.items == [0, 1, 2, 3, 4])  # well before a minute


def test_a_partial_batch_waits_for_the_schedule_delay(processors):
    exporter = FakeExporter()
    processor = processors(exporter, max_batch_size=100, schedule_delay_ms=200)
    start = time.monotonic()
    processor.on_end("a")
    processor.on_end("b")
    wait_until(lambda: exporter.items == ["a", "b"])
    assert time.monotonic() - start >= 0.18   # not before the delay (a lower bound only)
    processor.on_end("c")
    wait_until(lambda: exporter.items == ["a", "b", "c"])
    assert len(exporter.batches) == 2


def test_export_gets_a_deadline_from_the_export_timeout(processors):
    exporter = FakeExporter()
    processor = processors(exporter, export_timeout_ms=1500)
    before = time.monotonic()
    processor.on_end(1)
    assert processor.force_flush(10)
    assert before + 1.4 < exporter.deadlines[0] <= time.monotonic() + 1.5


# --- the queue -------------------------------------------------------------------------

def test_full_queue_drops_and_counts(processors):
    gate = threading.Event()
    exporter = FakeExporter(gate=gate)
    processor = processors(exporter, max_queue_size=10, max_batch_size=5)
    for i in range(30):
        processor.on_end(i)
    exporter.entered.wait(10)
    dropped = processor.stats()["dropped"][reasons.QUEUE_FULL]
    assert dropped >= 30 - 10 - 5        # at most one batch in flight and a full queue
    gate.set()
    assert processor.force_flush(10)
    stats = processor.stats()
    assert stats["exported"] == len(exporter.items) == 30 - dropped
    assert stats["dropped"] == {reasons.QUEUE_FULL: dropped}
    assert sorted(set(exporter.items)) == sorted(exporter.items)


def test_on_end_never_blocks_while_the_exporter_hangs(processors):
    gate = threading.Event()
    exporter = FakeExporter(gate=gate)
    processor = processors(exporter, max_queue_size=100, max_batch_size=10)
    for i in range(10):
        processor.on_end(i)
    exporter.entered.wait(10)
    for i in range(10000):             # would hang the test if on_end waited for the exporter
        processor.on_end(i)
    assert accounted(processor) == processor.stats()["created"] == 10010
    assert processor.stats()["in_flight"] == 10
    gate.set()
    assert processor.force_flush(10)
    assert accounted(processor) == 10010 and processor.stats()["in_flight"] == 0


# --- flush ---------------------------------------------------------------------------

def test_force_flush_exports_what_is_queued(processors):
    exporter = FakeExporter()
    processor = processors(exporter)
    assert processor.force_flush(1)     # nothing yet: nothing to do
    for i in range(3):
        processor.on_end(i)
    assert processor.force_flush(10)
    assert exporter.items == [0, 1, 2]
    assert processor.force_flush(1)
    assert exporter.items == [0, 1, 2]


def test_force_flush_waits_for_the_batch_in_flight(processors):
    gate = threading.Event()
    exporter = FakeExporter(gate=gate)
    processor = processors(exporter, max_batch_size=5)
    for i in range(5):
        processor.on_end(i)
    exporter.entered.wait(10)           # the batch left the queue and is being exported
    assert processor.stats()["queued"] == 0
    threading.Timer(0.2, gate.set).start()
    assert processor.force_flush(10)
    assert exporter.items == [0, 1, 2, 3, 4]


def test_force_flush_returns_false_when_it_cannot_finish(processors):
    gate = threading.Event()
    exporter = FakeExporter(gate=gate)
    processor = processors(exporter)
    processor.on_end(1)
    assert processor.force_flush(0.2) is False
    gate.set()
    assert processor.force_flush(10) is True


def test_concurrent_producers_nothing_lost_nothing_twice(processors):
    exporter = FakeExporter()
    processor = processors(exporter, max_queue_size=100000, max_batch_size=64, schedule_delay_ms=5)

    def produce(k):
        for i in range(2000):
            processor.on_end((k, i))

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    processor.shutdown(10)
    items = exporter.items
    assert len(items) == len(set(items)) == 8000
    assert all(len(b) <= 64 for b in exporter.batches)
    assert processor.stats()["dropped"] == {} and processor.stats()["created"] == 8000


# --- failures ------------------------------------------------------------------------------

def test_exporter_exception_is_counted_not_raised(processors, logged):
    exporter = FakeExporter(fail_first=2)
    processor = processors(exporter, max_batch_size=3)
    for i in range(3):
        processor.on_end(i)             # never raises into the caller
    wait_until(lambda: processor.stats()["dropped"].get(reasons.EXPORT_FAILED) == 3)
    processor.on_end(3)
    assert processor.force_flush(10)
    assert processor.stats()["dropped"] == {reasons.EXPORT_FAILED: 4}
    errors = [line for level, line in logged if level == 40]
    assert len(errors) == 1 and "internal error in exporting traces" in errors[0]  # once, then counted
    processor.on_end("after")           # the export thread lives on
    assert processor.force_flush(10)
    assert exporter.items == ["after"]
    assert processor.stats()["exported"] == 1


def test_outcome_counts_partial_delivery(processors):
    exporter = FakeExporter(result=lambda batch: Outcome(len(batch) - 2, 2, reasons.REJECTED, "too old"))
    processor = processors(exporter)
    for i in range(5):
        processor.on_end(i)
    assert processor.force_flush(10)
    assert processor.stats()["exported"] == 3
    assert processor.stats()["dropped"] == {reasons.REJECTED: 2}


# --- shutdown ------------------------------------------------------------------------------

def test_shutdown_exports_what_is_queued_and_stops(processors, logged):
    exporter = FakeExporter()
    processor = processors(exporter, max_batch_size=4)
    for i in range(10):
        processor.on_end(i)
    processor.shutdown(5)
    assert exporter.items == list(range(10))
    assert exporter.shut == 1
    assert not processor._thread.is_alive()
    processor.on_end("late")            # after shutdown: dropped, counted, not raised
    assert processor.stats()["dropped"] == {reasons.SHUTDOWN: 1}
    processor.shutdown(5)               # a second shutdown is a no-op
    assert exporter.shut == 1
    assert not [line for level, line in logged if level >= 30 and "dropped 10" in line]


def test_shutdown_is_bounded_with_a_hanging_exporter(processors, logged):
    gate = threading.Event()
    exporter = FakeExporter(gate=gate, gate_timeout=30)
    processor = processors(exporter, max_batch_size=5, max_queue_size=100)
    for i in range(20):
        processor.on_end(i)
    exporter.entered.wait(10)           # one batch hangs in the exporter
    start = time.monotonic()
    processor.shutdown(0.5)
    took = time.monotonic() - start
    assert took < 0.5 + 2.0, took       # the bound, with a generous margin; not a speed test
    stats = processor.stats()
    # Every item is accounted for: the hanging batch and the queued ones are dropped.
    assert stats["exported"] == 0
    assert stats["dropped"] == {reasons.SHUTDOWN: 20}
    (warning,) = [line for level, line in logged if level == 30]
    assert "created 20, exported 0, dropped 20" in warning and reasons.SHUTDOWN in warning
    gate.set()                          # the exporter returns late: nothing is counted twice
    processor._thread.join(5)
    assert processor.stats()["exported"] == 0 and processor.stats()["dropped"] == {reasons.SHUTDOWN: 20}


def test_shutdown_passes_its_deadline_to_the_exporter(processors):
    exporter = FakeExporter()
    processor = processors(exporter, export_timeout_ms=60000)
    processor.on_end(1)
    before = time.monotonic()
    processor.shutdown(1.0)
    assert exporter.deadlines and exporter.deadlines[-1] <= before + 1.1   # not the 60 s export timeout


def test_shutdown_without_any_item(processors):
    exporter = FakeExporter()
    processor = processors(exporter)
    processor.shutdown(1)
    assert exporter.shut == 1 and processor.stats()["dropped"] == {}


# --- processes --------------------------------------------------------------------------------

def test_after_fork_the_child_starts_afresh(processors):
    exporter = FakeExporter()
    processor = processors(exporter, max_batch_size=100)
    processor.on_end("parent-1")
    assert processor.force_flush(10)
    processor.on_end("parent-queued")   # still queued at the fork (the delay is long)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 1
        try:
            report = {"queued_at_start": processor.stats()["queued"],
                      "after_forks": exporter.after_forks, "items_at_start": exporter.items}
            processor.on_end("child-1")
            report["flushed"] = processor.force_flush(10)
            report["items"] = exporter.items
            report["thread_is_new"] = processor._thread is not None and processor._thread.is_alive()
            processor.shutdown(5)
            os.write(write_fd, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    report = json.loads(b"".join(chunks))
    assert report["queued_at_start"] == 0          # the parent's queue is not the child's
    assert report["after_forks"] == 1
    assert report["items_at_start"] == []
    assert report["flushed"] is True and report["thread_is_new"] is True
    assert report["items"] == ["child-1"]          # the child exports only its own items
    assert processor.force_flush(10)
    assert exporter.items == ["parent-1", "parent-queued"]  # the parent's, exactly once


def test_fork_without_at_fork_hooks_is_noticed_on_the_next_item(processors):
    # uWSGI forks without running Python's at-fork hooks: the pid check catches it.
    exporter = FakeExporter()
    processor = processors(exporter)
    processor.on_end("old")
    processor._pid = -1                 # as if this process were a fork of another
    processor.on_end("new")
    assert exporter.after_forks == 1
    assert processor.force_flush(10)
    assert exporter.items == ["new"]

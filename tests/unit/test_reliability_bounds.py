"""The bounds of the export path, with real spans and log records: bytes as well as
count, items too large to send, requests of bounded size, shutdown that gives up on
a hanging export without counting it twice, retries cut short at the exit bound,
the export thread deaf to process signals, and no thread in a uWSGI master.

The exporter is a small fake where the processor's contract is "an exporter" (it can
block on cue); the HTTP exporter is tested against the real receiver.
"""

import signal
import sys
import threading
import time
import types

import pytest

from otel_autoinstrument import _log, config
from otel_autoinstrument.export import batch, prefork
from otel_autoinstrument.export import outcome as reasons
from otel_autoinstrument.export.batch import BatchProcessor, estimate_log, estimate_span
from otel_autoinstrument.export.otlp_http import OtlpHttpExporter
from otel_autoinstrument.export.outcome import Outcome
from otel_autoinstrument.logs.record import LogRecord
from otel_autoinstrument.resource import from_settings
from otel_autoinstrument.testing import MemoryProcessor
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.tracer import TracerProvider
from support.receiver import Receiver

KB = 1024
MB = 1024 * KB
MAX_ITEM_BYTES_DEFAULT = batch.MAX_ITEM_BYTES


class GatedExporter:
    """Records batches; each export waits (bounded) for ``gate`` when one is given."""

    def __init__(self, gate=None):
        self.gate = gate
        self.batches = []
        self.entered = threading.Event()
        self.signal_mask = None

    def export(self, items, deadline):
        self.signal_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.batches.append(list(items))
        return Outcome(len(items))

    def after_fork(self):
        pass

    def shutdown(self):
        pass


@pytest.fixture
def make():
    made = []

    def build(exporter, **kwargs):
        kwargs.setdefault("schedule_delay_ms", 10000)
        processor = BatchProcessor(exporter, kwargs.pop("signal", "traces"), **kwargs)
        made.append((processor, exporter))
        return processor

    yield build
    for processor, exporter in made:
        if exporter.gate is not None:
            exporter.gate.set()
        processor.shutdown(2.0)


def spans(processor, count, size):
    provider = TracerProvider(None, AlwaysOn(), processors=[processor])
    tracer = provider.get_tracer("bounds")
    for i in range(count):
        tracer.start_span("s", attributes={"i": i, "payload": "x" * size}).end()


def accounted(processor):
    stats = processor.stats()
    return stats["exported"] + sum(stats["dropped"].values()) + stats["queued"] + stats["in_flight"]


def test_the_estimate_follows_the_string_values():
    provider = TracerProvider(None, AlwaysOn(), processors=[types.SimpleNamespace(on_end=lambda s: None)])
    span = provider.get_tracer("t").start_span("s", attributes={"a": "x" * 1000, "n": 5, "l": ("ab", "cd")})
    span.add_event("exception", {"exception.stacktrace": "y" * 5000})
    assert 6000 < estimate_span(span) < 7000
    assert 10 * KB < estimate_log(LogRecord("z" * 10 * KB, attributes={"code": 1})) < 11 * KB


def test_the_estimate_follows_the_encoded_size_of_every_kind_of_value():
    """Strings inside lists (captured headers), events with stack traces, links with
    attributes, status messages, log bodies of every type: the estimate is close to what
    the encoder writes, and never a count of elements."""
    from otel_autoinstrument.export import encode_proto
    from otel_autoinstrument.trace.span import SpanContext

    memory = MemoryProcessor()
    tracer = TracerProvider(None, AlwaysOn(), processors=[memory]).get_tracer("t")
    headers = tracer.start_span("headers")
    headers.set_attribute("http.request.header.x-forwarded-for", ["%08d" % i * 512 for i in range(20)])
    headers.end()
    failed = tracer.start_span("failed")
    try:
        1 / 0
    except ZeroDivisionError as exc:
        failed.record_exception(exc)
    failed.set_status(2, "ZeroDivisionError: division by zero " * 20)
    failed.add_link(SpanContext(1, 2, 1), {"a": "b" * 1000, "l": ("x" * 500, "y" * 500)})
    failed.end()
    tracer.start_span("small", attributes={"i": 1, "kind": "loop", "ratio": 0.5}).end()
    records = [LogRecord({"user": {"name": "a" * 3000, "roles": ["r" * 100] * 20}, "ok": True}),
               LogRecord(["z" * 1000] * 10), LogRecord(b"b" * 5000), LogRecord("hello"), LogRecord(12345)]
    sized = [(estimate_span(s), len(encode_proto._span(s))) for s in memory.items]
    sized += [(estimate_log(r), len(encode_proto._log(r))) for r in records]
    for estimate, encoded in sized:
        if encoded > KB:
            assert 0.9 * encoded <= estimate <= 1.3 * encoded, (estimate, encoded)
        else:
            assert encoded <= estimate <= 4 * encoded, (estimate, encoded)


def test_a_value_too_deep_or_containing_itself_is_estimated_unbounded():
    from otel_autoinstrument.export import sizes

    looping = {"a": 1}
    looping["self"] = looping
    wide = [["x"] * 100] * 200
    for body in (looping, wide):
        assert estimate_log(LogRecord(body)) > MAX_ITEM_BYTES_DEFAULT
    assert sizes.value_size([["x"] * 10] * 10) < KB


def test_large_items_are_held_to_a_byte_budget(make):
    gate = threading.Event()
    exporter = GatedExporter(gate)
    processor = make(exporter, max_queue_bytes=2 * MB, max_batch_size=10)
    spans(processor, 1, 100 * KB)
    processor.force_flush(0.01)
    assert exporter.entered.wait(5)  # one batch in flight, held at the gate
    spans(processor, 100, 100 * KB)  # 10 MB more: about 2 MB may wait
    stats = processor.stats()
    assert stats["queued"] <= 21 and stats["dropped"] == {reasons.QUEUE_FULL: 100 - stats["queued"]}
    assert processor._bytes <= 2 * MB
    assert accounted(processor) == stats["created"] == 101
    gate.set()
    processor.shutdown(5)
    stats = processor.stats()
    assert stats["exported"] == 1 + (100 - stats["dropped"][reasons.QUEUE_FULL]) == len(
        [i for b in exporter.batches for i in b])
    assert processor._bytes == 0


def test_small_items_count_against_the_byte_budget_too(make):
    """Many small items are as much memory as a few large ones: all are counted."""
    processor = make(GatedExporter(threading.Event()), max_queue_bytes=20 * KB)
    spans(processor, 100, 400)
    stats = processor.stats()
    assert 0 < stats["dropped"][reasons.QUEUE_FULL] < 100 and stats["queued"] < 50
    assert processor._bytes <= 20 * KB and accounted(processor) == stats["created"] == 100


def test_an_item_too_large_to_send_is_dropped_and_counted(make):
    exporter = GatedExporter()
    processor = make(exporter, max_item_bytes=1 * MB)
    spans(processor, 1, 2 * MB)
    spans(processor, 3, 10)
    processor.force_flush(5)
    assert processor.stats()["dropped"] == {reasons.TOO_LARGE: 1}
    assert processor.stats()["exported"] == 3


def test_log_records_are_bounded_too(make):
    exporter = GatedExporter()
    processor = make(exporter, signal="logs", max_item_bytes=1 * MB)
    processor.on_end(LogRecord("m" * (2 * MB)))
    processor.on_end(LogRecord("fine"))
    processor.force_flush(5)
    stats = processor.stats()
    assert stats["dropped"] == {reasons.TOO_LARGE: 1} and stats["exported"] == 1 == stats["created"] - 1


def test_a_request_carries_about_four_megabytes_at_most(make):
    exporter = GatedExporter()
    processor = make(exporter)
    spans(processor, 24, 1 * MB)
    processor.force_flush(10)
    sizes = [sum(estimate_span(s) for s in b) for b in exporter.batches]
    assert len(exporter.batches) >= 5 and sum(len(b) for b in exporter.batches) == 24
    assert max(sizes) <= batch.MAX_BATCH_BYTES + 1 * MB + KB


def test_a_hanging_export_is_counted_once_when_shutdown_gives_up(make):
    gate = threading.Event()
    exporter = GatedExporter(gate)
    processor = make(exporter, max_batch_size=5)
    spans(processor, 5, 10)  # a full batch: exported at once, and held at the gate
    assert exporter.entered.wait(5)
    spans(processor, 3, 10)
    started = time.monotonic()
    processor.shutdown(0.3)
    assert time.monotonic() - started < 2
    assert processor.stats()["dropped"] == {reasons.SHUTDOWN: 8}
    gate.set()  # the hung export finally "succeeds": too late, and not counted again
    time.sleep(0.2)
    stats = processor.stats()
    assert stats["exported"] == 0 and stats["dropped"] == {reasons.SHUTDOWN: 8} and stats["created"] == 8


def test_the_export_thread_blocks_process_signals(make):
    exporter = GatedExporter()
    processor = make(exporter)
    spans(processor, 1, 10)
    processor.force_flush(5)
    assert {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT} <= set(exporter.signal_mask)
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # this thread: untouched


def test_no_thread_in_a_uwsgi_master_and_worker_one_adopts_its_queue(make, monkeypatch):
    fake = types.SimpleNamespace(worker_id=lambda: 0, mule_id=lambda: 0, i_am_the_spooler=lambda: None,
                                 workers=lambda: [{"id": 1, "respawn_count": 0}, {"id": 2, "respawn_count": 0}])
    monkeypatch.setitem(sys.modules, "uwsgi", fake)
    exporter = GatedExporter()
    processor = make(exporter)
    spans(processor, 3, 10)
    assert processor._thread is None and processor.stats()["queued"] == 3  # the master: no thread
    # As in a forked worker 1 (pid changed, uWSGI's worker id now set):
    fake.worker_id = lambda: 1
    monkeypatch.setattr(processor, "_pid", -1)
    spans(processor, 2, 10)
    processor.force_flush(5)
    assert processor.stats()["exported"] == 5 and processor.stats()["created"] == 5
    # A second incarnation of worker 1, or worker 2, forgets what the master queued.
    for worker_id, respawns in ((1, 1), (2, 0)):
        fake.worker_id = lambda: worker_id
        fake.workers = lambda: [{"id": 1, "respawn_count": respawns}]
        assert not prefork.inherits_master_queue()


def test_outside_uwsgi_nothing_is_deferred():
    assert "uwsgi" not in sys.modules
    assert not prefork.defers_threads() and not prefork.inherits_master_queue() and not prefork.in_uwsgi()


@pytest.fixture
def receiver():
    with Receiver() as r:
        r.start()
        yield r


def exporter_for(receiver, **env):
    loaded = config.load(dict({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}, **env))
    return OtlpHttpExporter("traces", loaded.exporter("traces"), from_settings(loaded)), loaded


def real_span(loaded):
    keep = []
    provider = TracerProvider(from_settings(loaded), AlwaysOn(), processors=[types.SimpleNamespace(on_end=keep.append)])
    provider.get_tracer("t").start_span("s").end()
    return keep[0]


def test_stop_by_cuts_a_back_off_short(receiver, monkeypatch):
    monkeypatch.setattr(_log, "STRICT", False)
    receiver.behave(status=503, retry_after=20)
    exporter, loaded = exporter_for(receiver)
    result = []
    worker = threading.Thread(target=lambda: result.append(
        exporter.export([real_span(loaded)], time.monotonic() + 60)))
    worker.start()
    receiver.wait_for_requests(1)
    started = time.monotonic()
    exporter.stop_by(time.monotonic() + 0.2)
    worker.join(10)
    assert time.monotonic() - started < 5  # not the 20 s Retry-After, nor the 60 s deadline
    assert result[0].dropped == 1 and result[0].reason == reasons.SHUTDOWN
    assert len(receiver.requests) <= 2


def test_invalid_headers_are_left_out_and_the_rest_sent(receiver):
    exporter, loaded = exporter_for(receiver, OTEL_EXPORTER_OTLP_HEADERS="good=1,bad name=2,nl=a%0Ab,u=%C3%A9,ok=x")
    assert exporter.export([real_span(loaded)], time.monotonic() + 5).exported == 1
    sent = receiver.requests[0].headers
    assert sent["good"] == "1" and sent["ok"] == "x"
    assert "bad name" not in sent and "nl" not in sent


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/v1/traces", "http://[::1/v1/traces", "http:///v1/traces",
                                 "http://127.0.0.1:4318/v 1/traces"])
def test_an_unusable_endpoint_is_reported_once_and_counted(url):
    loaded = config.load({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url})
    exporter = OtlpHttpExporter("traces", loaded.exporter("traces"), from_settings(loaded))
    assert exporter.problem
    result = exporter.export([real_span(loaded)], time.monotonic() + 1)
    assert (result.dropped, result.reason) == (1, reasons.MISCONFIGURED)

"""The span model: limits (counting what is dropped, truncating long strings), events,
links, idempotent end, record_exception, status rules, non-recording spans for unsampled
traces, and the current span kept per thread and per asyncio task."""

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from otel_autoinstrument.trace import context
from otel_autoinstrument.trace.sampling import AlwaysOff, AlwaysOn, ParentBased
from otel_autoinstrument.trace.span import (
    INVALID_SPAN, INVALID_SPAN_CONTEXT, NonRecordingSpan, Span, SpanContext, SpanKind, StatusCode, record_error)
from otel_autoinstrument.trace.context import get_current_span
from otel_autoinstrument.trace.tracer import Limits, TracerProvider, use_span


class Collect:
    def __init__(self):
        self.ended = []

    def on_end(self, span):
        self.ended.append(span)


class AppError(Exception):
    pass


def make(limits=None, sampler=None):
    collect = Collect()
    provider = TracerProvider(None, sampler or AlwaysOn(), limits, processors=[collect])
    return provider.get_tracer("test", "1.0"), collect


# --- attribute limits --------------------------------------------------------------------

def test_attribute_count_limit_drops_and_counts():
    tracer, _ = make(Limits(attribute_count=3))
    span = tracer.start_span("s", attributes={"a": 1, "b": 2})
    span.set_attribute("c", 3)
    span.set_attribute("d", 4)
    span.set_attributes({"e": 5, "f": 6})
    assert span.attributes == {"a": 1, "b": 2, "c": 3}
    assert span.dropped_attributes == 3
    span.set_attribute("a", 10)                 # replacing an existing key is always allowed
    span.set_attributes({"b": 20})
    assert span.attributes == {"a": 10, "b": 20, "c": 3} and span.dropped_attributes == 3


def test_attribute_count_limit_on_creation():
    tracer, _ = make(Limits(attribute_count=2))
    span = tracer.start_span("s", attributes={"a": 1, "b": 2, "c": 3, "d": 4})
    assert len(span.attributes) == 2 and span.dropped_attributes == 2


def test_zero_attribute_limit_keeps_none():
    tracer, _ = make(Limits(attribute_count=0))
    span = tracer.start_span("s", attributes={"a": 1})
    span.set_attribute("b", "x")
    assert span.attributes == {} and span.dropped_attributes == 2


@pytest.mark.parametrize("setter", ["set_attribute", "set_attributes", "start"])
def test_value_length_limit_truncates_strings_and_arrays(setter):
    tracer, _ = make(Limits(attribute_length=5))
    values = {"s": "abcdefgh", "short": "abc", "n": 123456789, "f": 1.5, "b": True,
              "arr": ["abcdefgh", "xy"], "tup": ("123456", 7, False)}
    if setter == "start":
        span = tracer.start_span("s", attributes=values)
    else:
        span = tracer.start_span("s")
        if setter == "set_attribute":
            for key, value in values.items():
                span.set_attribute(key, value)
        else:
            span.set_attributes(values)
    assert span.attributes["s"] == "abcde"
    assert span.attributes["short"] == "abc"
    assert span.attributes["n"] == 123456789 and span.attributes["f"] == 1.5 and span.attributes["b"] is True
    assert tuple(span.attributes["arr"]) == ("abcde", "xy")
    assert tuple(span.attributes["tup"]) == ("12345", 7, False)
    assert span.dropped_attributes == 0


def test_no_length_limit_by_default():
    tracer, _ = make()
    span = tracer.start_span("s")
    span.set_attribute("long", "x" * 100000)
    assert len(span.attributes["long"]) == 100000


def test_invalid_values_are_skipped_not_counted():
    tracer, _ = make()
    span = tracer.start_span("s")
    span.set_attribute("none", None)
    span.set_attribute("obj", object())
    span.set_attribute("dict", {"a": 1})
    span.set_attributes({"none2": None, "ok": "yes"})
    assert span.attributes == {"ok": "yes"}
    span.set_attribute("list", [1, object(), 2])     # invalid items are left out
    assert tuple(span.attributes["list"]) == (1, 2)


def test_array_values_are_copied():
    tracer, _ = make()
    span = tracer.start_span("s")
    items = ["a", "b"]
    span.set_attribute("items", items)
    items.append("c")
    assert tuple(span.attributes["items"]) == ("a", "b")


# --- events and links ----------------------------------------------------------------------

def test_event_limits():
    tracer, _ = make(Limits(event_count=2, event_attribute_count=1, attribute_length=3))
    span = tracer.start_span("s")
    span.add_event("one", {"a": "abcdef", "b": 2})
    span.add_event("two", timestamp=12345)
    span.add_event("three")
    assert [e.name for e in span.events] == ["one", "two"]
    assert span.dropped_events == 1
    first, second = span.events
    assert first.attributes == {"a": "abc"} and first.dropped_attributes == 1
    assert second.time_ns == 12345 and second.attributes == {}
    assert first.time_ns >= span.start_ns


def test_link_limits():
    tracer, _ = make(Limits(link_count=1, link_attribute_count=1))
    a = SpanContext(1, 2, 1)
    b = SpanContext(3, 4, 1)
    span = tracer.start_span("s")
    span.add_link(a, {"x": 1, "y": 2})
    span.add_link(b)
    span.add_link(INVALID_SPAN_CONTEXT)            # ignored: not a link at all
    assert [l.context for l in span.links] == [a]
    assert span.links[0].attributes == {"x": 1} and span.links[0].dropped_attributes == 1
    assert span.dropped_links == 1


def test_links_at_creation():
    tracer, _ = make(Limits(link_count=1))

    class L:
        def __init__(self, context, attributes):
            self.context, self.attributes = context, attributes

    span = tracer.start_span("s", links=[L(SpanContext(1, 2, 1), {"k": "v"}), L(SpanContext(3, 4, 1), None)])
    assert len(span.links) == 1 and span.links[0].attributes == {"k": "v"} and span.dropped_links == 1


# --- end, status, exceptions -------------------------------------------------------------------

def test_end_is_idempotent_and_freezes_the_span():
    tracer, collect = make()
    span = tracer.start_span("s")
    assert span.is_recording()
    span.end(end_time=span.start_ns + 100)
    span.end()
    span.end(end_time=1)
    assert collect.ended == [span]
    assert span.end_ns == span.start_ns + 100 and not span.is_recording()
    span.set_attribute("late", 1)
    span.set_attributes({"late2": 2})
    span.add_event("late")
    span.add_link(SpanContext(1, 2, 1))
    span.set_status(StatusCode.ERROR, "late")
    span.update_name("renamed")
    span.record_exception(ValueError("late"))
    assert span.attributes == {} and span.events is None and span.links == []
    assert span.status_code == StatusCode.UNSET and span.name == "s"


def test_record_exception_event():
    tracer, _ = make()
    span = tracer.start_span("s")
    try:
        raise AppError("the disk is full")
    except AppError as exc:
        span.record_exception(exc, attributes={"extra": "yes"})
    try:
        raise ValueError("bad")
    except ValueError as exc:
        span.record_exception(exc)
    first, second = span.events
    assert first.name == "exception"
    assert first.attributes["exception.type"] == "%s.AppError" % __name__
    assert first.attributes["exception.message"] == "the disk is full"
    stack = first.attributes["exception.stacktrace"]
    assert stack.startswith("Traceback (most recent call last)") and 'raise AppError("the disk is full")' in stack
    assert stack.rstrip().endswith("AppError: the disk is full")
    assert first.attributes["extra"] == "yes"
    assert second.attributes["exception.type"] == "ValueError"   # builtins: no module prefix
    assert span.status_code == StatusCode.UNSET                  # recording is not failing


def test_record_exception_without_traceback():
    tracer, _ = make()
    span = tracer.start_span("s")
    span.record_exception(KeyError("k"))
    attrs = span.events[0].attributes
    assert attrs["exception.type"] == "KeyError" and attrs["exception.message"] == "'k'"
    assert "KeyError" in attrs["exception.stacktrace"]


def test_status_rules():
    tracer, _ = make()
    span = tracer.start_span("s")
    span.set_status(StatusCode.UNSET, "ignored")
    assert (span.status_code, span.status_message) == (StatusCode.UNSET, "")
    span.set_status(StatusCode.ERROR, "first")
    span.set_status(StatusCode.ERROR, "second")
    assert (span.status_code, span.status_message) == (StatusCode.ERROR, "second")
    span.set_status(StatusCode.UNSET)                # cannot go back to unset
    assert span.status_code == StatusCode.ERROR
    span.set_status(StatusCode.OK, "a description is ignored for OK")
    assert (span.status_code, span.status_message) == (StatusCode.OK, "")
    span.set_status(StatusCode.ERROR, "too late")    # OK is final
    assert (span.status_code, span.status_message) == (StatusCode.OK, "")


def test_context_manager_marks_errors_only():
    tracer, collect = make()
    with pytest.raises(AppError):
        with tracer.start_as_current_span("fails"):
            raise AppError("boom")
    with pytest.raises(SystemExit):
        with tracer.start_as_current_span("exits"):
            raise SystemExit(0)
    with pytest.raises(KeyboardInterrupt):
        with tracer.start_span("interrupted"):
            raise KeyboardInterrupt()
    fails, exits, interrupted = collect.ended
    assert fails.status_code == StatusCode.ERROR and fails.status_message == "AppError: boom"
    assert [e.name for e in fails.events] == ["exception"]
    for span in (exits, interrupted):
        assert span.status_code == StatusCode.UNSET and span.events is None and span.end_ns


def test_start_as_current_span_options():
    tracer, collect = make()
    with pytest.raises(AppError):
        with tracer.start_as_current_span("quiet", record_exception=False):
            raise AppError("x")
    with tracer.start_as_current_span("open", end_on_exit=False) as still_open:
        pass
    assert collect.ended[0].events is None and collect.ended[0].status_code == StatusCode.ERROR
    assert still_open.is_recording() and len(collect.ended) == 1
    still_open.end()


def test_decorator_makes_one_span_per_call():
    tracer, collect = make()

    @tracer.start_as_current_span("work", kind=SpanKind.CONSUMER)
    def work(n):
        assert get_current_span().name == "work"
        return n * 2

    assert work.__name__ == "work"
    assert [work(1), work(2)] == [2, 4]
    assert [s.name for s in collect.ended] == ["work", "work"]
    assert collect.ended[0].context.span_id != collect.ended[1].context.span_id
    assert collect.ended[0].kind == SpanKind.CONSUMER


def test_span_fields():
    tracer, collect = make()
    span = tracer.start_span("s", kind=SpanKind.SERVER, start_time=1000)
    span.update_name("renamed")
    span.end(end_time=2000)
    assert (span.name, span.kind, span.start_ns, span.end_ns) == ("renamed", SpanKind.SERVER, 1000, 2000)
    assert span.scope.name == "test" and span.scope.version == "1.0"
    assert 0 < span.context.trace_id < 1 << 128 and 0 < span.context.span_id < 1 << 64
    assert span.parent is None and span.context.trace_flags == 1 and not span.context.is_remote


# --- unsampled: non-recording spans ------------------------------------------------------

def test_unsampled_spans_do_not_record():
    tracer, collect = make(sampler=AlwaysOff())
    span = tracer.start_span("s", attributes={"a": 1})
    assert isinstance(span, NonRecordingSpan) and not span.is_recording()
    assert span.context.is_valid and span.context.trace_flags == 0
    span.set_attribute("b", 2)
    span.set_attributes({"c": 3})
    span.add_event("e")
    span.add_link(SpanContext(1, 2, 1))
    span.set_status(StatusCode.ERROR, "x")
    span.record_exception(ValueError("x"))
    span.update_name("other")
    span.end()
    with span:
        pass
    assert collect.ended == []
    # Children of an unsampled span are unsampled and stay in its trace.
    with tracer.start_as_current_span("parent") as parent:
        child = tracer.start_span("child")
    assert not child.is_recording() and child.context.trace_id == parent.context.trace_id


def test_unsampled_span_as_current_keeps_the_trace():
    tracer, _ = make(sampler=ParentBased(AlwaysOn()))
    remote = SpanContext(0xABC, 0xDEF, 0, is_remote=True)
    span = tracer.start_span("server", parent=remote)
    with use_span(span):
        assert get_current_span() is span
        inner = tracer.start_span("inner")
    assert inner.context.trace_id == 0xABC and not inner.is_recording()


def test_no_processor_means_nothing_is_recorded():
    provider = TracerProvider(None, AlwaysOn())
    span = provider.get_tracer("t").start_span("s")
    assert not span.is_recording() and span.context.is_valid


# --- the current span: contextvars, threads, asyncio ---------------------------------------

def test_nesting_and_restoring():
    tracer, _ = make()
    assert get_current_span().context.is_valid is False
    with tracer.start_as_current_span("outer") as outer:
        with tracer.start_as_current_span("inner") as inner:
            assert get_current_span() is inner
            assert inner.parent.span_id == outer.context.span_id
            assert inner.context.trace_id == outer.context.trace_id
        assert get_current_span() is outer
        sibling = tracer.start_span("sibling")
        assert sibling.parent.span_id == outer.context.span_id
        root = tracer.start_span("root", parent=None)
        assert root.parent is None and root.context.trace_id != outer.context.trace_id
    assert get_current_span() is INVALID_SPAN


def test_use_span_end_on_exit():
    tracer, collect = make()
    span = tracer.start_span("s")
    with use_span(span, end_on_exit=True):
        assert get_current_span() is span
    assert collect.ended == [span] and get_current_span() is INVALID_SPAN


def test_detach_from_another_context_does_not_raise():
    tracer, _ = make()
    holder = {}

    def set_in_copy():
        holder["token"] = context.attach(tracer.start_span("x"))

    contextvars.copy_context().run(set_in_copy)
    context.detach(holder["token"])  # a token of another context: ignored


def test_threads_see_their_own_current_span():
    tracer, _ = make()
    barrier = threading.Barrier(4, timeout=10)
    seen = {}
    errors = []

    def worker(i):
        try:
            assert get_current_span() is INVALID_SPAN  # a new thread starts with no span
            with tracer.start_as_current_span("t%d" % i) as span:
                barrier.wait()                          # all four are current at once
                seen[i] = get_current_span() is span
                barrier.wait()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with tracer.start_as_current_span("main") as main:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert get_current_span() is main
    assert not errors and seen == {0: True, 1: True, 2: True, 3: True}


def test_copied_context_carries_the_span_into_an_executor():
    tracer, _ = make()
    with tracer.start_as_current_span("main") as main:
        ctx = contextvars.copy_context()
        with ThreadPoolExecutor(1) as pool:
            child = pool.submit(ctx.run, lambda: tracer.start_span("in-pool")).result(10)
    assert child.parent.span_id == main.context.span_id


def test_asyncio_tasks_see_their_own_current_span():
    tracer, _ = make()

    async def job(name, delay):
        with tracer.start_as_current_span(name) as span:
            await asyncio.sleep(delay)
            assert get_current_span() is span
            await asyncio.sleep(0)
            child = tracer.start_span(name + "-child")
            return span, child

    async def main():
        with tracer.start_as_current_span("request") as request:
            results = await asyncio.gather(job("a", 0.02), job("b", 0.01), job("c", 0))
            assert get_current_span() is request
            return request, results

    request, results = asyncio.run(main())
    for span, child in results:
        assert span.parent.span_id == request.context.span_id   # tasks inherit the creator's span
        assert child.parent.span_id == span.context.span_id      # and keep their own
    assert get_current_span() is INVALID_SPAN


def test_decorator_on_an_async_function_spans_the_await():
    tracer, collect = make()

    @tracer.start_as_current_span("async-work")
    async def work():
        await asyncio.sleep(0.01)
        tracer.start_span("inner").end()
        return 7

    assert asyncio.iscoroutinefunction(work) and work.__name__ == "work"
    assert asyncio.run(work()) == 7
    inner, outer = collect.ended
    assert outer.name == "async-work" and inner.parent.span_id == outer.context.span_id
    assert outer.end_ns >= inner.end_ns                     # it ended after the body, not before

    @tracer.start_as_current_span("async-fails")
    async def fails():
        await asyncio.sleep(0)
        raise AppError("async boom")

    with pytest.raises(AppError):
        asyncio.run(fails())
    assert collect.ended[-1].status_code == StatusCode.ERROR


def test_get_current_span_is_never_none_and_current_span_is_the_same_function():
    """One name, one behaviour, as in OpenTelemetry: outside any span the invalid
    non-recording span, wherever it is imported from."""
    import otel_autoinstrument
    from otel_autoinstrument import instrumentation
    from otel_autoinstrument.trace import tracer

    for module in (otel_autoinstrument, instrumentation, tracer, context):
        found = getattr(module, "get_current_span", None) or module.current_span
        assert found() is INVALID_SPAN
        assert found().is_recording() is False and found().get_span_context().is_valid is False
    assert instrumentation.current_span is instrumentation.get_current_span
    assert tracer.current_span is context.get_current_span
    assert otel_autoinstrument.current_span is otel_autoinstrument.get_current_span
    tracer_, _ = make()
    with tracer_.start_as_current_span("s") as span:
        assert otel_autoinstrument.get_current_span() is span
        assert instrumentation.get_current_span() is span


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("str() of this exception fails")


@pytest.mark.parametrize("how", ["start_as_current_span", "span", "use_span"])
def test_an_exception_whose_str_raises_reaches_the_application_as_it_is(how):
    tracer, collect = make()
    raised = Unprintable()
    with pytest.raises(Unprintable) as info:
        if how == "start_as_current_span":
            with tracer.start_as_current_span("work"):
                raise raised
        elif how == "span":
            with tracer.start_span("work"):
                raise raised
        else:
            with use_span(tracer.start_span("work"), end_on_exit=True):
                raise raised
    assert info.value is raised
    (span,) = collect.ended
    assert span.status_code == StatusCode.ERROR
    assert span.events[0].attributes["exception.message"] == "<exception str() failed>"


def test_an_unsampled_span_formats_no_traceback():
    tracer, collect = make(sampler=AlwaysOff())
    span = tracer.start_span("work")
    calls = []

    class Counted(Exception):
        def __str__(self):
            calls.append(1)
            return "counted"

    record_error(span, Counted(), scrub=lambda text: text)
    assert calls == [] and collect.ended == []

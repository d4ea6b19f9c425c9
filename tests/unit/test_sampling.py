"""Samplers: always_on/off, traceidratio (a fixed share, decided by the trace id alone so
every process of a trace agrees) and parentbased_* (follow a valid parent's flag)."""

import random

import pytest

from otel_autoinstrument.trace import sampling
from otel_autoinstrument.trace.span import SpanContext
from otel_autoinstrument.trace.tracer import TracerProvider


class Collect:
    def __init__(self):
        self.ended = []

    def on_end(self, span):
        self.ended.append(span)


def sampled_parent(remote=True):
    return SpanContext(0x1234, 0x5678, trace_flags=1, is_remote=remote)


def unsampled_parent(remote=True):
    return SpanContext(0x1234, 0x5678, trace_flags=0, is_remote=remote)


def trace_ids(n, seed=7):
    rng = random.Random(seed)
    return [rng.getrandbits(128) or 1 for _ in range(n)]


def test_always_on_and_off():
    on, off = sampling.AlwaysOn(), sampling.AlwaysOff()
    for tid in trace_ids(100):
        assert on.should_sample(None, tid) is True
        assert off.should_sample(None, tid) is False
    assert on.should_sample(unsampled_parent(), 1) is True
    assert off.should_sample(sampled_parent(), 1) is False


@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 0.9])
def test_traceidratio_samples_about_the_ratio(ratio):
    sampler = sampling.TraceIdRatio(ratio)
    n = 20000
    share = sum(sampler.should_sample(None, tid) for tid in trace_ids(n)) / n
    # 20000 draws: the standard deviation is below 0.0036; 5 sigma is a safe margin.
    assert abs(share - ratio) < 0.02


@pytest.mark.parametrize("ratio, expected", [(0.0, 0), (1.0, 1)])
def test_traceidratio_edges(ratio, expected):
    sampler = sampling.TraceIdRatio(ratio)
    assert {sampler.should_sample(None, tid) for tid in trace_ids(2000)} == {bool(expected)}
    # the extreme low-64-bit values
    assert sampler.should_sample(None, (1 << 64) - 1) is bool(expected)
    assert sampler.should_sample(None, 1 << 64) is bool(expected)  # low bits all zero


def test_traceidratio_is_deterministic_per_trace_id():
    # Two processes with the same ratio decide alike for the same trace.
    a, b = sampling.TraceIdRatio(0.3), sampling.TraceIdRatio(0.3)
    ids = trace_ids(1000)
    assert [a.should_sample(None, t) for t in ids] == [b.should_sample(None, t) for t in ids]
    assert [a.should_sample(None, t) for t in ids] == [a.should_sample(None, t) for t in ids]
    # A larger ratio samples a superset of a smaller one's traces.
    small, big = sampling.TraceIdRatio(0.2), sampling.TraceIdRatio(0.6)
    assert all(big.should_sample(None, t) for t in ids if small.should_sample(None, t))
    # The decision uses the low 64 bits only: the high bits do not matter.
    for tid in ids[:100]:
        assert a.should_sample(None, tid) == a.should_sample(None, tid ^ (0xABCDEF << 64))


def test_traceidratio_ignores_the_parent():
    sampler = sampling.TraceIdRatio(0.0)
    assert sampler.should_sample(sampled_parent(), 5) is False


@pytest.mark.parametrize("remote", [True, False])
def test_parentbased_follows_a_valid_parent(remote):
    for root in (sampling.AlwaysOn(), sampling.AlwaysOff(), sampling.TraceIdRatio(0.5)):
        sampler = sampling.ParentBased(root)
        assert sampler.should_sample(sampled_parent(remote), 99) is True
        assert sampler.should_sample(unsampled_parent(remote), 99) is False


def test_parentbased_uses_the_root_for_new_traces():
    assert sampling.ParentBased(sampling.AlwaysOn()).should_sample(None, 1) is True
    assert sampling.ParentBased(sampling.AlwaysOff()).should_sample(None, 1) is False
    invalid = SpanContext(0, 0, trace_flags=1, is_remote=True)
    assert sampling.ParentBased(sampling.AlwaysOff()).should_sample(invalid, 1) is False
    ratio = sampling.ParentBased(sampling.TraceIdRatio(0.5))
    direct = sampling.TraceIdRatio(0.5)
    ids = trace_ids(500)
    assert [ratio.should_sample(None, t) for t in ids] == [direct.should_sample(None, t) for t in ids]


@pytest.mark.parametrize("name, kind, root", [
    ("always_on", sampling.AlwaysOn, None),
    ("always_off", sampling.AlwaysOff, None),
    ("traceidratio", sampling.TraceIdRatio, None),
    ("parentbased_always_on", sampling.ParentBased, sampling.AlwaysOn),
    ("parentbased_always_off", sampling.ParentBased, sampling.AlwaysOff),
    ("parentbased_traceidratio", sampling.ParentBased, sampling.TraceIdRatio),
])
def test_from_settings(name, kind, root):
    sampler = sampling.from_settings(name, 0.25)
    assert isinstance(sampler, kind)
    if root is not None:
        assert isinstance(sampler.root, root)
    inner = sampler.root if root is not None else sampler
    if isinstance(inner, sampling.TraceIdRatio):
        assert inner.ratio == 0.25


# --- through the tracer: what a sampler decision means for a span -----------------

@pytest.mark.parametrize("name", ["always_on", "always_off", "parentbased_always_on",
                                  "parentbased_always_off", "traceidratio", "parentbased_traceidratio"])
def test_tracer_applies_the_sampler(name):
    collect = Collect()
    provider = TracerProvider(None, sampling.from_settings(name, 0.5), processors=[collect])
    tracer = provider.get_tracer("t")
    # a remote sampled parent, a remote unsampled parent, then new traces
    with_sampled = tracer.start_span("a", parent=sampled_parent())
    with_unsampled = tracer.start_span("b", parent=unsampled_parent())
    if name.startswith("parentbased"):
        assert with_sampled.is_recording() and with_sampled.context.trace_flags & 1
        assert not with_unsampled.is_recording() and not with_unsampled.context.trace_flags & 1
    # Either way the trace continues: same trace id, a new span id.
    for span in (with_sampled, with_unsampled):
        assert span.context.trace_id == 0x1234 and span.context.span_id not in (0, 0x5678)
    roots = [tracer.start_span("root%d" % i, parent=None) for i in range(400)]
    recorded = sum(s.is_recording() for s in roots)
    expected = {"always_on": 400, "parentbased_always_on": 400, "always_off": 0,
                "parentbased_always_off": 0}.get(name)
    if expected is not None:
        assert recorded == expected
    else:
        assert 120 < recorded < 280  # 0.5 of 400: mean 200, sd 10
    for span in roots:
        assert bool(span.context.trace_flags & 1) == span.is_recording()
        span.end()
    for span in (with_sampled, with_unsampled):
        span.end()
    assert all(s.is_recording() is False for s in roots)
    assert len(collect.ended) == recorded + (1 if with_sampled.context.trace_flags & 1 else 0) + (
        1 if with_unsampled.context.trace_flags & 1 else 0)


def test_child_of_unsampled_local_span_is_unsampled():
    provider = TracerProvider(None, sampling.from_settings("parentbased_always_on", 1.0), processors=[Collect()])
    tracer = provider.get_tracer("t")
    parent = tracer.start_span("p", parent=unsampled_parent())
    child = tracer.start_span("c", parent=parent)
    assert not child.is_recording()
    assert child.context.trace_id == parent.context.trace_id

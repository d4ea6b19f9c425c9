"""Propagation: W3C traceparent/tracestate, W3C baggage, Zipkin B3 (single and multi),
the composite of OTEL_PROPAGATORS, and the rule that a malformed header is ignored and
never raises (tested in strict mode, so even the safety net is not what saves us)."""

import pytest
from hypothesis import given, settings, strategies as st

from otel_autoinstrument import _log
from otel_autoinstrument.propagation import Carried, Propagator
from otel_autoinstrument.propagation.b3 import B3MultiPropagator, B3SinglePropagator
from otel_autoinstrument.propagation.baggage import format_baggage, parse_baggage
from otel_autoinstrument.propagation.tracecontext import (
    format_traceparent, parse_traceparent, parse_tracestate)
from otel_autoinstrument.trace import context
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.span import SpanContext
from otel_autoinstrument.trace.tracer import TracerProvider

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    """An exception reaching the propagator's safety net fails the test."""
    monkeypatch.setattr(_log, "STRICT", True)


class Collect:
    def on_end(self, span):
        pass


def tracer():
    return TracerProvider(None, AlwaysOn(), processors=[Collect()]).get_tracer("test")


def getter(headers):
    lower = {k.lower(): v for k, v in headers.items()}
    return lower.get


# --- traceparent -------------------------------------------------------------------

VALID_TRACEPARENTS = [
    ("00-%s-%s-01" % (TID, SID), 1),
    ("00-%s-%s-00" % (TID, SID), 0),
    ("00-%s-%s-09" % (TID, SID), 9),              # unknown flag bits are kept, sampled = bit 0
    ("  00-%s-%s-01  " % (TID, SID), 1),          # surrounding whitespace
    ("cc-%s-%s-01" % (TID, SID), 1),              # a future version, same length
    ("cc-%s-%s-01-what-the-future-will-be" % (TID, SID), 1),  # future fields after a dash
]


@pytest.mark.parametrize("header, flags", VALID_TRACEPARENTS)
def test_valid_traceparent(header, flags):
    assert parse_traceparent(header) == (int(TID, 16), int(SID, 16), flags)


INVALID_TRACEPARENTS = [
    None, "", "garbage", 42,
    "00-%s-%s-01" % ("0" * 32, SID),               # all-zero trace id
    "00-%s-%s-01" % (TID, "0" * 16),               # all-zero span id
    "00-%s-%s-01" % (TID.upper(), SID),            # upper-case hex
    "00-%s-%s-01" % (TID, SID.upper()),
    "00-%s-%s-0A" % (TID, SID),
    "00-%s-%s-01" % (TID[:-1], SID),               # trace id one short
    "00-%s0-%s-01" % (TID, SID),                   # trace id one long
    "00-%s-%s-01" % (TID, SID[:-1]),               # span id one short
    "00-%s-%s0-01" % (TID, SID),                   # span id one long
    "00-%s-%s-1" % (TID, SID),                     # flags one short
    "00-%s-%s-011" % (TID, SID),                   # flags one long
    "00-%s-%s-01-extra" % (TID, SID),              # version 00 has exactly four fields
    "ff-%s-%s-01" % (TID, SID),                    # version ff is forbidden
    "0-%s-%s-01" % (TID, SID),
    "0g-%s-%s-01" % (TID, SID),                    # non-hex version
    "00-%s-%s-0x" % (TID, SID),                    # non-hex flags
    "00-%sg-%s-01" % (TID[:-1], SID),              # non-hex trace id
    "00_%s_%s_01" % (TID, SID),                    # wrong separators
    "00-%s-%s-01" % ("-" + TID[1:], SID),
    "cc-%s-%s-01what" % (TID, SID),                # a future version, but no dash before more
    "00-%s-%s-%s" % (TID, SID, "\u00e9\u00e9"),
]


@pytest.mark.parametrize("header", INVALID_TRACEPARENTS)
def test_invalid_traceparent_is_ignored(header):
    assert parse_traceparent(header) is None
    carried = Propagator(["tracecontext"]).extract(getter({"traceparent": header}))
    assert carried.span_context is None


def test_invalid_traceparent_starts_a_new_trace():
    carried = Propagator(["tracecontext"]).extract(getter({"traceparent": "00-%s-%s-01" % ("0" * 32, SID)}))
    span = tracer().start_span("server", parent=carried.span_context)
    assert span.context.is_valid and span.parent is None


def test_format_traceparent():
    ctx = SpanContext(int(TID, 16), int(SID, 16), 1)
    assert format_traceparent(ctx) == "00-%s-%s-01" % (TID, SID)
    assert format_traceparent(SpanContext(1, 2, 0)) == "00-%032x-%016x-00" % (1, 2)


# --- tracestate -----------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    ("rojo=1 , congo=2", "rojo=1,congo=2"),
    ("rojo=1,,congo=2", "rojo=1,congo=2"),
    ("tenant@vendor=x", "tenant@vendor=x"),
    ("1tenant@vendor=x", "1tenant@vendor=x"),       # a tenant id may start with a digit
    ("a_b-c*d/e=v", "a_b-c*d/e=v"),
    ("k=value with spaces", "k=value with spaces"),
    ("k=" + "x" * 256, "k=" + "x" * 256),
    ("k" * 256 + "=1", "k" * 256 + "=1"),
    (",".join("k%d=v" % i for i in range(32)), ",".join("k%d=v" % i for i in range(32))),
    ("", ""),
    (None, ""),
])
def test_valid_tracestate(header, expected):
    assert parse_tracestate(header) == expected


@pytest.mark.parametrize("header", [
    "Rojo=1",                                 # upper case key
    "1abc=1",                                 # a simple key starts with a letter
    "rojo=1,rojo=2",                          # duplicate key
    "rojo",                                   # no value
    "rojo=",                                  # empty value
    "rojo=a=b",                               # '=' in the value
    "rojo=tab\there",                         # a control character in the value
    "rojo=\u00e9",                            # not printable ASCII
    "k=" + "x" * 257,                         # value too long
    "k" * 257 + "=1",                         # key too long
    "t@" + "s" * 15 + "=1",                   # system id too long
    "t@1sys=1",                               # system id starts with a letter
    "a@b@c=1",
    "@vendor=1",
    ",".join("k%d=v" % i for i in range(33)),  # more than 32 members
])
def test_invalid_tracestate_is_dropped(header):
    assert parse_tracestate(header) == ""


def test_invalid_tracestate_keeps_the_parent():
    carried = Propagator(["tracecontext"]).extract(
        getter({"traceparent": "00-%s-%s-01" % (TID, SID), "tracestate": "Bad=1"}))
    assert carried.span_context.trace_id == int(TID, 16)
    assert carried.span_context.trace_state == ""


def test_tracestate_travels_with_the_trace():
    propagator = Propagator(["tracecontext"])
    carried = propagator.extract(getter({"traceparent": "00-%s-%s-01" % (TID, SID),
                                         "tracestate": "rojo=1,congo=2"}))
    assert carried.span_context.is_remote
    span = tracer().start_span("server", parent=carried.span_context)
    out = {}
    propagator.inject(out.__setitem__, span)
    assert out["tracestate"] == "rojo=1,congo=2"
    assert out["traceparent"].split("-")[1] == TID
    assert out["traceparent"].split("-")[2] != SID


# --- baggage ----------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("userId=alice,serverNode=DF%2028,isProduction=false",
     {"userId": "alice", "serverNode": "DF 28", "isProduction": "false"}),
    ("key1=value1;property1;property2=x, key2 = value2 ", {"key1": "value1", "key2": "value2"}),
    ("=novalue,good=1,bad key=2,noeq,", {"good": "1"}),
    ("k=%E2%9C%93", {"k": "\u2713"}),
    ("k=%FF", {}),                             # not UTF-8 once decoded
    ("k=", {"k": ""}),
    ("", {}),
    (None, {}),
    ("k=" + "x" * 9000, {}),                   # longer than 8192 bytes: ignored
])
def test_parse_baggage(header, expected):
    assert parse_baggage(header) == expected


def test_parse_baggage_keeps_at_most_180_members():
    header = ",".join("k%d=v" % i for i in range(200))
    parsed = parse_baggage(header)
    assert len(parsed) == 180 and "k0" in parsed and "k179" in parsed


@pytest.mark.parametrize("entries", [
    {"a": "1", "b": "two words"},
    {"user": "c,d;e=f%g"},
    {"k": "\u2713 ok"},
    {"a b": "x"},
])
def test_baggage_round_trip(entries):
    header = format_baggage(entries)
    assert " " not in header and ";" not in header.replace("%3B", "")
    assert parse_baggage(header) == entries


def test_format_baggage_limits():
    header = format_baggage({"k%d" % i: "v" for i in range(300)})
    assert len(header.split(",")) == 180
    big = format_baggage({"a": "x" * 5000, "b": "y" * 5000})
    assert len(big) <= 8192 and parse_baggage(big) == {"a": "x" * 5000}


# --- B3 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("header, flags", [
    ("%s-%s-1" % (TID, SID), 1),
    ("%s-%s-0" % (TID, SID), 0),
    ("%s-%s-d" % (TID, SID), 1),
    ("%s-%s-1-05e3ac9a4f6e3b90" % (TID, SID), 1),
    ("%s-%s" % (TID, SID), 1),                 # no sampling state: the default is to sample
])
def test_b3_single_valid(header, flags):
    carried = Carried()
    B3SinglePropagator().extract(getter({"b3": header}), carried)
    ctx = carried.span_context
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags, ctx.is_remote) == (int(TID, 16), int(SID, 16), flags, True)


def test_b3_single_short_trace_id():
    carried = Carried()
    B3SinglePropagator().extract(getter({"b3": "a3ce929d0e0e4736-%s-1" % SID}), carried)
    assert carried.span_context.trace_id == 0xa3ce929d0e0e4736


@pytest.mark.parametrize("header", [
    "0", "1", "d", "", "garbage", "%s-%s" % ("0" * 32, SID), "%s-%s" % (TID, "0" * 16),
    "%s-%s" % (TID[:-2], SID), "%s-%s" % (TID, SID[:-1]), "%s-%sz" % (TID, SID[:-1]),
])
def test_b3_single_invalid(header):
    carried = Carried()
    B3SinglePropagator().extract(getter({"b3": header}), carried)
    assert carried.span_context is None


@pytest.mark.parametrize("headers, flags", [
    ({"X-B3-TraceId": TID, "X-B3-SpanId": SID, "X-B3-Sampled": "1"}, 1),
    ({"X-B3-TraceId": TID, "X-B3-SpanId": SID, "X-B3-Sampled": "0"}, 0),
    ({"X-B3-TraceId": TID, "X-B3-SpanId": SID, "X-B3-Sampled": "true"}, 1),
    ({"X-B3-TraceId": TID, "X-B3-SpanId": SID, "X-B3-Flags": "1", "X-B3-Sampled": "0"}, 1),
    ({"X-B3-TraceId": TID, "X-B3-SpanId": SID}, 1),
])
def test_b3_multi_valid(headers, flags):
    carried = Carried()
    B3MultiPropagator().extract(getter(headers), carried)
    ctx = carried.span_context
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags) == (int(TID, 16), int(SID, 16), flags)


@pytest.mark.parametrize("headers", [
    {}, {"X-B3-TraceId": TID}, {"X-B3-SpanId": SID},
    {"X-B3-TraceId": "xyz", "X-B3-SpanId": SID}, {"X-B3-TraceId": "0" * 32, "X-B3-SpanId": SID},
])
def test_b3_multi_invalid(headers):
    carried = Carried()
    B3MultiPropagator().extract(getter(headers), carried)
    assert carried.span_context is None


def test_b3_inject():
    span = tracer().start_span("client", parent=SpanContext(int(TID, 16), int(SID, 16), 1, is_remote=True))
    single, multi = {}, {}
    Propagator(["b3"]).inject(single.__setitem__, span)
    Propagator(["b3multi"]).inject(multi.__setitem__, span)
    trace, span_id, sampled = single["b3"].split("-")
    assert trace == TID and span_id == "%016x" % span.context.span_id and sampled == "1"
    assert multi == {"x-b3-traceid": TID, "x-b3-spanid": "%016x" % span.context.span_id, "x-b3-sampled": "1"}


# --- the composite ------------------------------------------------------------------------

@pytest.mark.parametrize("names", [["tracecontext", "baggage"], ["b3", "baggage"], ["b3multi", "baggage"],
                                   ["tracecontext", "b3", "baggage"]])
def test_inject_extract_round_trip(names):
    propagator = Propagator(names)
    t = tracer()
    span = t.start_span("client")
    span_token = context.attach(span)
    baggage_token = context.set_baggage({"user": "alice smith", "tier": "gold,1"})
    try:
        headers = {}
        propagator.inject(headers.__setitem__)
    finally:
        context.reset_baggage(baggage_token)
        context.detach(span_token)
    assert set(headers) <= set(propagator.fields)
    carried = propagator.extract(getter(headers))
    ctx = carried.span_context
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags & 1) == (span.context.trace_id, span.context.span_id, 1)
    assert ctx.is_remote
    assert carried.baggage == {"user": "alice smith", "tier": "gold,1"}
    # The server side continues the trace.
    server = t.start_span("server", parent=ctx)
    assert server.context.trace_id == span.context.trace_id and server.parent.span_id == span.context.span_id


def test_inject_without_a_span_writes_only_baggage():
    token = context.set_baggage({"k": "v"})
    try:
        headers = {}
        Propagator(["tracecontext", "baggage"]).inject(headers.__setitem__)
    finally:
        context.reset_baggage(token)
    assert headers == {"baggage": "k=v"}


def test_inject_unsampled_span_keeps_the_flag():
    remote = SpanContext(int(TID, 16), int(SID, 16), 0, is_remote=True)
    span = TracerProvider(None, __import__("otel_autoinstrument.trace.sampling", fromlist=["x"]).ParentBased(
        AlwaysOn()), processors=[Collect()]).get_tracer("t").start_span("s", parent=remote)
    assert not span.is_recording()
    headers = {}
    Propagator(["tracecontext"]).inject(headers.__setitem__, span)
    assert headers["traceparent"].endswith("-00") and TID in headers["traceparent"]


def test_later_propagator_wins_and_missing_ones_are_skipped():
    other = "0af7651916cd43dd8448eb211c80319c"
    headers = {"traceparent": "00-%s-%s-01" % (TID, SID), "b3": "%s-%s-1" % (other, SID)}
    assert Propagator(["tracecontext", "b3"]).extract(getter(headers)).span_context.trace_id == int(other, 16)
    assert Propagator(["b3", "tracecontext"]).extract(getter(headers)).span_context.trace_id == int(TID, 16)
    only_b3 = {"b3": "%s-%s-1" % (other, SID)}
    assert Propagator(["tracecontext", "b3"]).extract(getter(only_b3)).span_context.trace_id == int(other, 16)


def test_no_propagators():
    propagator = Propagator([])
    carried = propagator.extract(getter({"traceparent": "00-%s-%s-01" % (TID, SID)}))
    assert carried.span_context is None and carried.baggage is None
    headers = {}
    propagator.inject(headers.__setitem__, tracer().start_span("x"))
    assert headers == {}


def test_a_getter_that_raises_is_contained(monkeypatch):
    monkeypatch.setattr(_log, "STRICT", False)
    logged = []
    monkeypatch.setattr(_log, "log", lambda level, msg, *args, **kw: logged.append(msg % args))

    def broken(name):
        raise RuntimeError("carrier exploded")

    carried = Propagator(["tracecontext", "baggage"]).extract(broken)
    assert carried.span_context is None and carried.baggage is None
    assert len(logged) == 2 and all("internal error" in line for line in logged)


# --- malformed headers never raise (strict mode: not even the safety net) -----------------

HEADER_NAMES = ["traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "x-b3-spanid",
                "x-b3-sampled", "x-b3-flags"]
ALL = Propagator(["tracecontext", "baggage", "b3", "b3multi"])
header_text = st.one_of(
    st.text(max_size=120),
    st.builds(lambda a, b, c, d: "%s-%s-%s-%s" % (a, b, c, d),
              st.text("0123456789abcdefABCDEF-", max_size=4), st.text("0123456789abcdef-", max_size=34),
              st.text("0123456789abcdef-", max_size=18), st.text("0123456789abcdefx-", max_size=4)),
    st.lists(st.text(max_size=10), max_size=8).map(",".join),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6).map(
        lambda kv: ",".join("%s=%s;p" % pair for pair in kv)),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(HEADER_NAMES), header_text))
def test_malformed_headers_never_raise(headers):
    carried = ALL.extract(headers.get)
    if carried.span_context is not None:
        assert carried.span_context.is_valid
    if carried.baggage is not None:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in carried.baggage.items())

"""Fuzzing (Hypothesis) of everything the agent parses from outside the application:
``traceparent``, ``tracestate`` and ``baggage`` (headers, and the TRACEPARENT /
TRACESTATE / BAGGAGE environment carrier), every OTEL_* variable, OTLP endpoint URLs
and header lists; what the secrets code reads from the application (exported strings,
SQL of every dialect, database error messages, names, URLs, the agent's messages).

The promise under test: no input ever raises into the application, and every input
yields something usable (a valid or absent parent, a complete Settings object, an
exporter that reports instead of raising). Strict mode is on for the whole module,
so an error the agent would swallow in production fails the test instead.
"""

import time

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from otel_autoinstrument import _log, config
from otel_autoinstrument.export import outcome as reasons
from otel_autoinstrument.export.otlp_http import OtlpHttpExporter, endpoint_problem
from otel_autoinstrument.propagation import Propagator
from otel_autoinstrument.propagation.baggage import format_baggage, parse_baggage
from otel_autoinstrument.propagation.tracecontext import format_traceparent, parse_tracestate
from otel_autoinstrument.redaction.names import SensitiveNames
from otel_autoinstrument.redaction.processor import Redactor
from otel_autoinstrument.redaction.secrets import mask, secret_strings
from otel_autoinstrument.redaction.sql import sanitize_sql, summarize_sql
from otel_autoinstrument.redaction.sql_errors import scrub_error_message, scrub_traceback
from otel_autoinstrument.redaction.urls import HeaderCapture, redact_query, redact_url
from otel_autoinstrument.resource import from_settings
from otel_autoinstrument.trace import sampling
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.tracer import Limits, TracerProvider
from support.receiver import Receiver

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NETWORK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEX = "0123456789abcdef"
hex_text = lambda n: st.text(alphabet=HEX + "ABCDEFxyz-", min_size=n - 2, max_size=n + 2)  # noqa: E731
near_traceparent = st.builds(
    lambda v, t, s, f, sep, tail: sep.join([v, t, s, f]) + tail,
    hex_text(2), hex_text(32), hex_text(16), hex_text(2), st.sampled_from(["-", "_", "--", ""]),
    st.sampled_from(["", "-", "-extra", " ", "\n"]))
header_text = st.one_of(st.text(), st.text(alphabet=" ,;=%-_.abcXYZ019\t\"'\\"), near_traceparent,
                        st.binary().map(lambda b: b.decode("latin-1")))
ALL_PROPAGATORS = ["tracecontext", "baggage", "b3", "b3multi"]


@pytest.fixture(scope="module", autouse=True)
def strict_and_quiet():
    """Strict mode (a swallowed internal error is a failure) and no log noise."""
    saved = _log.STRICT, _log._level
    _log.STRICT = True
    _log.set_level(100)
    yield
    _log.STRICT = saved[0]
    _log.set_level(saved[1])


def check_carried(carried):
    context = carried.span_context
    if context is not None:
        assert 0 < context.trace_id < 2 ** 128 and 0 < context.span_id < 2 ** 64
        assert 0 <= context.trace_flags <= 0xFF and context.is_remote
        assert parse_tracestate(context.trace_state) == context.trace_state
        assert format_traceparent(context)  # can be sent on
    if carried.baggage is not None:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in carried.baggage.items())
        format_baggage(carried.baggage)


@FAST
@given(st.dictionaries(st.sampled_from(["traceparent", "tracestate", "baggage", "b3", "x-b3-traceid",
                                         "x-b3-spanid", "x-b3-sampled", "x-b3-flags"]), header_text))
def test_incoming_headers_never_raise_and_give_a_usable_parent(headers):
    carried = Propagator(ALL_PROPAGATORS).extract(headers.get)
    check_carried(carried)
    # Whatever came in, what goes out again is well-formed.
    out = {}
    Propagator(ALL_PROPAGATORS).inject(out.__setitem__)
    assert all(isinstance(v, str) and "\n" not in v for v in out.values())


@FAST
@given(st.one_of(near_traceparent, st.text()), st.one_of(st.text(), st.just("a=b,c=d")))
def test_traceparent_round_trips_when_valid(traceparent, tracestate):
    carried = Propagator(["tracecontext"]).extract({"traceparent": traceparent, "tracestate": tracestate}.get)
    check_carried(carried)
    if carried.span_context is not None and traceparent.startswith("00-") and len(traceparent.strip()) == 55:
        assert format_traceparent(carried.span_context)[:52] == traceparent.strip()[:52].lower()


@FAST
@given(st.dictionaries(st.text(), st.text(), max_size=20))
def test_baggage_survives_a_round_trip(entries):
    parsed = parse_baggage(format_baggage(entries))
    for key, value in parsed.items():
        assert entries[key] == value


@FAST
@given(st.dictionaries(st.sampled_from(["TRACEPARENT", "TRACESTATE", "BAGGAGE"]), header_text))
def test_the_environment_carrier_never_raises(environ):
    loaded = config.load(environ)
    carried = Propagator(loaded.propagators).extract(loaded.environment_carrier.get)
    check_carried(carried)


def check_settings(loaded):
    """A Settings object the agent can run with."""
    for signal in config.SIGNALS:
        exporter = loaded.exporter(signal)
        assert exporter.endpoint.startswith(("http://", "https://"))
        assert exporter.protocol in config.PROTOCOLS
        assert exporter.compression in config.COMPRESSIONS
        assert isinstance(exporter.headers, dict) and exporter.timeout_ms >= 0
        OtlpHttpExporter(signal, exporter, from_settings(loaded))  # reports, never raises
    for prefix in ("bsp", "blrp"):
        queue = getattr(loaded, prefix + "_max_queue_size")
        assert 1 <= getattr(loaded, prefix + "_max_export_batch_size") <= queue
    assert set(loaded.traces_exporter) <= set(config.TRACES_EXPORTERS)
    assert set(loaded.logs_exporter) <= set(config.LOGS_EXPORTERS)
    Propagator(loaded.propagators)
    sampling.from_settings(loaded.traces_sampler, loaded.traces_sampler_arg)
    Limits.from_settings(loaded)
    assert _log.parse_level(loaded.log_level) is not None


VARIABLE_NAMES = [var.name for var in config.VARIABLES]
value_text = st.one_of(st.text(), st.text(alphabet="0123456789-+.eE ,=%xX"), st.integers().map(str),
                       st.sampled_from(["", " ", "none", "true", "FALSE", "1e9", "-1", "otlp,none", "grpc",
                                        "http://", "https://[::1", "%zz", "a=b,,=c", "\x00", "\u00e9"]))


@pytest.mark.parametrize("name", VARIABLE_NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=value_text)
def test_any_value_of_any_variable_gives_usable_settings(name, text):
    check_settings(config.load({name: text}))


@FAST
@given(st.dictionaries(st.sampled_from(VARIABLE_NAMES), value_text, max_size=8))
def test_any_combination_of_variables_gives_usable_settings(environ):
    check_settings(config.load(environ))


url_text = st.one_of(
    st.text(),
    st.builds(lambda scheme, rest: scheme + rest,
              st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "", "http:/", "http:///"]),
              st.text(alphabet="abc123.:[]@/?#%&= \t\n-_~", max_size=40)))


@FAST
@given(url_text)
def test_any_endpoint_url_is_accepted_or_reported(url):
    loaded = config.load({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url})
    check_settings(loaded)
    problem = endpoint_problem(loaded.exporter("traces").endpoint)
    assert problem is None or isinstance(problem, str)


@pytest.fixture(scope="module")
def local_receiver():
    with Receiver() as receiver:
        receiver.start()
        yield receiver


class Keep:
    def __init__(self):
        self.items = []

    def on_end(self, span):
        self.items.append(span)


def one_span(loaded):
    keep = Keep()
    provider = TracerProvider(from_settings(loaded), AlwaysOn(), processors=[keep])
    provider.get_tracer("fuzz").start_span("fuzzed", attributes={"k": "v"}).end()
    (span,) = keep.items
    return span


# Loopback only: the host is always 127.0.0.1; the port, path, query, credentials vary.
local_url = st.builds(
    lambda user, port, path, query: "http://%s127.0.0.1:%s/%s%s" % (user, port, path, query),
    st.sampled_from(["", "user:pass@", "%zz@", "a@b@"]),
    st.sampled_from(["PORT", "1", "0", "65535", "99999", "x", ""]),
    st.text(alphabet="abc/%20?#:;[]é", max_size=20),
    st.sampled_from(["", "?a=1", "?\u00e9=%", "#frag"]))


@NETWORK
@given(local_url)
def test_export_to_any_local_url_reports_instead_of_raising(local_receiver, url):
    url = url.replace("PORT", str(local_receiver.port))
    loaded = config.load({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url, "OTEL_EXPORTER_OTLP_TIMEOUT": "500"})
    exporter = OtlpHttpExporter("traces", loaded.exporter("traces"), from_settings(loaded))
    result = exporter.export([one_span(loaded)], time.monotonic() + 0.2)
    assert result.exported + result.dropped == 1
    assert result.dropped == 0 or result.reason in (reasons.MISCONFIGURED, reasons.REJECTED, reasons.EXPORT_FAILED)
    exporter.shutdown()


header_list = st.one_of(
    st.text(),
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=24)), max_size=5).map(
        lambda pairs: ",".join("%s=%s" % pair for pair in pairs)),
    st.lists(st.tuples(st.text(alphabet="abcXYZ-_ %\t\r\n", max_size=8),
                       st.text(alphabet="abc %20%0A%0D\u00e9\x7f=", max_size=12)), max_size=4).map(
        lambda pairs: ",".join("%s=%s" % pair for pair in pairs)))


@NETWORK
@given(header_list)
def test_any_header_list_is_sent_cleaned_or_reported(local_receiver, headers):
    loaded = config.load({"OTEL_EXPORTER_OTLP_ENDPOINT": local_receiver.url, "OTEL_EXPORTER_OTLP_HEADERS": headers,
                          "OTEL_EXPORTER_OTLP_TIMEOUT": "2000"})
    exporter = OtlpHttpExporter("traces", loaded.exporter("traces"), from_settings(loaded))
    result = exporter.export([one_span(loaded)], time.monotonic() + 5)
    # The headers that survived validation are ones HTTP can carry: the receiver took it.
    assert (result.exported, result.dropped) == (1, 0), result
    exporter.shutdown()


# --- the WSGI layer: every environ key and header it reads -----------------------------------

def wsgi_tracing(**env):
    from support.wsgi import make_tracing

    return make_tracing(**{
        "OTEL_PROPAGATORS": ",".join(ALL_PROPAGATORS), "OTEL_PYTHON_EXCLUDED_URLS": "/__excluded__",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": ".*",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": ".*",
        "OTEL_PYTHON_TRUSTED_PROXY_COUNT": "1", **env})


@pytest.fixture(scope="module")
def wsgi_tracings():
    return [wsgi_tracing(), wsgi_tracing(OTEL_PYTHON_TRUSTED_PROXY_HEADER="forwarded",
                                         OTEL_PYTHON_CAPTURE_ENDUSER_ID="true")]


# Text as servers hand it over: any code point (lone surrogates too), bytes decoded as
# latin-1 (PEP 3333), undecodable UTF-8 kept as surrogates, near-valid values.
hostile_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.sampled_from(["x:\xb2", "x:\u0663", "[::1]:\xb9", "[", "]:80", "h:99999", "h:-1", "h:0x10", ":", "@",
                     "GET", "get", "G\u00c9T", "HTTP/1.1", "HTTP/\xb9", "/caf\u00e9", "/\udcff", "%zz",
                     "unknown", "_hidden", "for=", "for=\"[::1\"", "1.2.3.4, 5.6.7.8", "", " "]),
    near_traceparent)
ENVIRON_KEYS = ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                "SERVER_PROTOCOL", "REMOTE_ADDR", "CONTENT_TYPE", "CONTENT_LENGTH", "wsgi.url_scheme",
                "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_TRACEPARENT",
                "HTTP_TRACESTATE", "HTTP_BAGGAGE", "HTTP_B3", "HTTP_X_B3_TRACEID", "HTTP_X_B3_SPANID",
                "HTTP_X_B3_SAMPLED", "HTTP_X_REQUEST_ID", "HTTP_AUTHORIZATION", "HTTP_\u00e9", "HTTP_"]
status_line = st.one_of(hostile_text, st.builds(lambda code, reason: code + reason,
                                                st.sampled_from(["200", "500", "404", "\xb2\xb2\xb2", "99", "",
                                                                 "2000", "-10", "0x1"]),
                                                st.sampled_from([" OK", "", " \u00e9", " \udcff"])))
header_pairs = st.lists(st.one_of(st.tuples(hostile_text, hostile_text), st.tuples(st.binary(), st.binary())),
                        max_size=4)


class ClosingBody:
    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        pass


BODIES = [lambda chunks: chunks, lambda chunks: (chunk for chunk in chunks), ClosingBody]


@FAST
@given(environ=st.dictionaries(st.sampled_from(ENVIRON_KEYS), hostile_text),
       status=status_line, headers=header_pairs, which=st.integers(0, 1), kind=st.integers(0, len(BODIES) - 1))
def test_any_request_gives_a_span_and_the_application_its_response(wsgi_tracings, environ, status, headers,
                                                                   which, kind):
    tracing, memory = wsgi_tracings[which]
    memory.clear()
    chunks = [b"app's own ", b"body"]
    body = BODIES[kind](chunks)
    seen = {}

    def app(environ, start_response):
        seen["write"] = start_response(status, headers)
        return body

    def start_response(status_line, response_headers, exc_info=None):
        seen["start_response"] = (status_line, response_headers, exc_info)
        return "the server's write"

    environ = dict(environ)
    result = tracing(app, None, (environ, start_response), {})
    # What the application answered reached the server unchanged.
    assert seen["start_response"] == (status, headers, None) and seen["write"] == "the server's write"
    assert isinstance(result, type(body)) and (result is body or kind != 2)
    assert list(result) == chunks
    if hasattr(result, "close"):
        result.close()
    excluded = "/__excluded__" in environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if excluded:
        return
    (span,) = memory.spans
    assert span.end_ns is not None
    for key, value in span.attributes.items():
        assert isinstance(value, (str, int, bool, tuple)), (key, value)


# --- secrets: redaction, SQL per dialect, database error messages, names, masking ----------------


# Text made of the pieces the patterns react to, so the fuzzer reaches their corners.
PIECES = ["[SQL: ", "[parameters: ", "]", "\n", "://", "@", "?", "&", "=", "#", ";", "'", '"', "\\", "eyJ", ".",
          "Bearer ", "AKIA", "4111 1111 1111 1111", "token", "password", "key", "a", "x@y.io", "$", "$$", "/*",
          "*/", "--", "(", ")", "LINE 1: ", "=(", "%", "\udcff", "é"]
tricky_text = st.one_of(st.text(), st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
REDACTOR = Redactor(regexes=[("order", r"ORD-\d{4}")])


@FAST
@given(tricky_text, tricky_text, st.sampled_from(["bob.secret@example.com", "4111 1111 1111 1111", "AKIAZZZZSECRET000001",
                                                  "password=Hunter2x", "https://u:Hunter2x@h"]))
def test_redaction_never_raises_and_a_planted_secret_never_survives(before, after, secret):
    assume(secret not in before + after and "Hunter2x" not in before + after)
    out = REDACTOR.text(before + " " + secret + " " + after)
    assert isinstance(out, str)
    assert secret not in out and "Hunter2x" not in out
    assert isinstance(REDACTOR.text(out), str)


@FAST
@given(tricky_text, st.sampled_from(["sqlite", "postgresql", "mysql", "mariadb", "duckdb", None]))
def test_sql_per_dialect_never_raises(statement, dialect):
    assert isinstance(sanitize_sql(statement, dialect), str)
    operation, collection = summarize_sql(statement, dialect)
    assert operation is None or isinstance(operation, str)
    assert collection is None or isinstance(collection, str)


@FAST
@given(tricky_text, st.sampled_from(["sqlite", "postgresql", "mysql", None]))
def test_database_error_scrubbing_never_raises_and_hides_quoted_text(message, dialect):
    out = scrub_error_message(message, dialect)
    assert isinstance(out, str) and isinstance(scrub_traceback(message, dialect), str)
    assert "'secret-in-quotes'" not in scrub_error_message(message + " 'secret-in-quotes'", dialect)


@FAST
@given(st.one_of(st.text(), st.binary()), st.lists(st.text(max_size=8), max_size=3))
def test_any_name_gets_a_decision(name, extra):
    assert isinstance(name in SensitiveNames(extra, ["-" + e for e in extra]), bool)
    capture = HeaderCapture(["*"], extra)
    assert isinstance(capture.attributes("http.request.header.", [(name, "v")]), dict)


@FAST
@given(tricky_text)
def test_urls_and_queries_never_raise(text):
    assert isinstance(redact_url(text), str) and isinstance(redact_query(text), str)


@FAST
@given(tricky_text, st.text(alphabet="abcXYZ019-_.~%", min_size=4, max_size=16), st.integers(0, 400))
def test_masking_never_prints_a_known_secret(text, secret, limit):
    secrets = secret_strings(["http://u:%s@h/?k=%s" % (secret, secret)], {"authorization": "Bearer " + secret})
    out = mask(text[: len(text) // 2] + secret + text[len(text) // 2:], secrets, limit)
    assert secret not in out

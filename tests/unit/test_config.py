"""Configuration: one parser per kind of value, a table of good and bad values for each,
the per-signal exporter settings, and the rules that chain one variable to another.

A bad value must log exactly ONE warning that names the variable and the value (masked
for secrets), and the default must be used.
"""

import pytest

from otel_autoinstrument import _log, config
from otel_autoinstrument.agent import startup
from otel_autoinstrument.trace.tracer import Limits


@pytest.fixture
def warnings(monkeypatch):
    """Every message config logs as a warning, in order."""
    said = []

    def record(msg, *args):
        said.append(msg % args if args else msg)

    monkeypatch.setattr(_log, "warning", record)
    return said


def load(**env):
    return config.load(environ=env, command_line=set())


# (variable, text, expected settings value)
GOOD = [
    # bool
    ("OTEL_SDK_DISABLED", "true", True),
    ("OTEL_SDK_DISABLED", "TRUE", True),
    ("OTEL_SDK_DISABLED", " True ", True),
    ("OTEL_SDK_DISABLED", "false", False),
    ("OTEL_SDK_DISABLED", "False", False),
    ("OTEL_PYTHON_DB_QUERY_SANITIZE", "false", False),
    # int
    ("OTEL_BSP_MAX_QUEUE_SIZE", "100", 100),
    ("OTEL_BSP_MAX_QUEUE_SIZE", " 4096 ", 4096),
    ("OTEL_SPAN_EVENT_COUNT_LIMIT", "0", 0),
    # milliseconds
    ("OTEL_BSP_SCHEDULE_DELAY", "250", 250),
    ("OTEL_BLRP_EXPORT_TIMEOUT", "1500", 1500),
    ("OTEL_PYTHON_EXIT_TIMEOUT", "0", 0),
    # ratio
    ("OTEL_TRACES_SAMPLER_ARG", "0.25", 0.25),
    ("OTEL_TRACES_SAMPLER_ARG", "0", 0.0),
    ("OTEL_TRACES_SAMPLER_ARG", "1", 1.0),
    ("OTEL_TRACES_SAMPLER_ARG", " 1e-3 ", 0.001),
    # list
    ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "Flask, requests,,", ["flask", "requests"]),
    ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "*", ["*"]),
    ("OTEL_PYTHON_EXCLUDED_URLS", "health, /Metrics$", ["health", "/Metrics$"]),
    # key=value pairs, percent-decoded
    ("OTEL_RESOURCE_ATTRIBUTES", "a=1,b=x%20y, c = z%2Cw", {"a": "1", "b": "x y", "c": "z,w"}),
    ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,,", {"deployment.environment": "prod"}),
    ("OTEL_RESOURCE_ATTRIBUTES", "k=a=b", {"k": "a=b"}),
    ("OTEL_RESOURCE_ATTRIBUTES", "k%3Dx=%E2%9C%93", {"k=x": "\u2713"}),
    ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr%3Dt,x-team=a b", {"api-key": "s3cr=t", "x-team": "a b"}),
    # one of a set
    ("OTEL_TRACES_SAMPLER", "AlwaYs_On", "always_on"),
    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "parentbased_traceidratio"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP", "gzip"),
    # some of a set
    ("OTEL_TRACES_EXPORTER", "console, otlp", ["console", "otlp"]),
    ("OTEL_TRACES_EXPORTER", "none", ["none"]),
    ("OTEL_TRACES_EXPORTER", "none,console", ["console"]),
    ("OTEL_LOGS_EXPORTER", "Console", ["console"]),
    ("OTEL_METRICS_EXPORTER", "none", ["none"]),
    ("OTEL_METRICS_EXPORTER", "Prometheus,otlp", ["prometheus", "otlp"]),
    ("OTEL_METRICS_EXPORTER", "none,console", ["console"]),
    ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "LowMemory", "lowmemory"),
    ("OTEL_METRICS_EXEMPLAR_FILTER", "always_off", "always_off"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "15000", 15000),
    ("OTEL_PYTHON_METRICS_CARDINALITY_LIMIT", "100", 100),
    ("OTEL_EXPORTER_PROMETHEUS_PORT", "9100", 9100),
    ("OTEL_PROPAGATORS", "b3, tracecontext", ["b3", "tracecontext"]),
    ("OTEL_PROPAGATORS", "none", []),
    ("OTEL_PROPAGATORS", "tracecontext,none", []),
    # log level
    ("OTEL_LOG_LEVEL", "DEBUG", "debug"),
    ("OTEL_LOG_LEVEL", "warn", "warn"),
    ("OTEL_PYTHON_LOG_LEVEL", "Error", "error"),
    # strings
    ("OTEL_SERVICE_NAME", "  checkout  ", "checkout"),
]


@pytest.mark.parametrize("name, text, expected", GOOD)
def test_good_values(name, text, expected, warnings):
    settings = load(**{name: text})
    assert getattr(settings, config.attribute_name(name)) == expected
    assert settings.sources[name] == "environment"
    assert warnings == []


# (variable, bad text): the default must be kept
BAD = [
    ("OTEL_SDK_DISABLED", "yes"),
    ("OTEL_SDK_DISABLED", "1"),
    ("OTEL_PYTHON_DB_QUERY_SANITIZE", "maybe"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "abc"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "1.5"),
    ("OTEL_BSP_SCHEDULE_DELAY", "5s"),
    ("OTEL_BSP_SCHEDULE_DELAY", "-5"),
    ("OTEL_PYTHON_EXIT_TIMEOUT", "3.5"),
    ("OTEL_TRACES_SAMPLER_ARG", "abc"),
    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
    ("OTEL_TRACES_SAMPLER_ARG", "-0.1"),
    ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
    ("OTEL_RESOURCE_ATTRIBUTES", "a=1,=x"),
    ("OTEL_TRACES_SAMPLER", "sometimes"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "br"),
    ("OTEL_TRACES_EXPORTER", "jaeger"),
    ("OTEL_TRACES_EXPORTER", "otlp,zipkin"),
    ("OTEL_LOGS_EXPORTER", "file"),
    ("OTEL_METRICS_EXPORTER", "statsd"),
    ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "sometimes"),
    ("OTEL_METRICS_EXEMPLAR_FILTER", "random"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "1m"),
    ("OTEL_PROPAGATORS", "xray"),
    ("OTEL_LOG_LEVEL", "verbose"),
    ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many"),
    ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-3"),
]


@pytest.mark.parametrize("name, text", BAD)
def test_bad_value_warns_once_and_keeps_default(name, text, warnings):
    settings = load(**{name: text})
    attr = config.attribute_name(name)
    default = load()
    assert getattr(settings, attr) == getattr(default, attr)
    assert settings.sources[name] == "default"
    assert len(warnings) == 1, warnings
    assert name in warnings[0] and text in warnings[0]
    assert settings.warnings == warnings


def test_several_bad_values_one_warning_each(warnings):
    load(OTEL_TRACES_SAMPLER="nope", OTEL_BSP_MAX_QUEUE_SIZE="x", OTEL_TRACES_SAMPLER_ARG="abc")
    assert len(warnings) == 3
    assert {w.split("=", 1)[0] for w in warnings} == {
        "OTEL_TRACES_SAMPLER", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_TRACES_SAMPLER_ARG"}


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_value_is_the_default_without_warning(text, warnings):
    settings = load(OTEL_TRACES_SAMPLER=text, OTEL_BSP_MAX_QUEUE_SIZE=text, OTEL_SERVICE_NAME=text)
    assert settings.traces_sampler == "parentbased_always_on"
    assert settings.bsp_max_queue_size == config.DEFAULT_QUEUE_SIZE
    assert warnings == []


@pytest.mark.parametrize("header", [
    "Authorization: Bearer hunter2",       # a colon instead of '=': a common mistake
    "api-key=hunter2,Bearer hunter2",
])
def test_malformed_header_list_never_shows_the_secret(header, warnings):
    settings = load(OTEL_EXPORTER_OTLP_HEADERS=header)
    assert settings.exporter_otlp_headers == {}
    assert settings.exporter("traces").headers == {}
    assert len(warnings) == 1
    assert "OTEL_EXPORTER_OTLP_HEADERS" in warnings[0]
    assert "hunter2" not in warnings[0]


def test_specification_defaults(warnings):
    s = load()
    assert s.sdk_disabled is False
    assert s.traces_exporter == ["otlp"] and s.logs_exporter == ["otlp"]
    assert s.metrics_exporter == ["otlp"]
    assert (s.metric_export_interval, s.metric_export_timeout) == (60000, 30000)
    assert s.metrics_exemplar_filter == "trace_based"
    assert s.exporter_otlp_metrics_temporality_preference == "cumulative"
    assert (s.exporter_prometheus_host, s.exporter_prometheus_port) == ("localhost", 9464)
    assert s.python_metrics_cardinality_limit == 2000
    assert s.exporter("metrics").endpoint == "http://localhost:4318/v1/metrics"
    assert s.traces_sampler == "parentbased_always_on"
    assert s.traces_sampler_arg == 1.0
    assert s.propagators == ["tracecontext", "baggage"]
    # The queue deviates on purpose (bursts; it is bounded by bytes too): docs/reliability.md.
    assert (s.bsp_schedule_delay, s.bsp_export_timeout, s.bsp_max_queue_size,
            s.bsp_max_export_batch_size) == (5000, 30000, config.DEFAULT_QUEUE_SIZE, 512)
    assert (s.blrp_schedule_delay, s.blrp_export_timeout, s.blrp_max_queue_size,
            s.blrp_max_export_batch_size) == (1000, 30000, config.DEFAULT_QUEUE_SIZE, 512)
    assert s.python_exit_timeout == 3000
    assert s.log_level == "info"
    for signal in ("traces", "logs"):
        e = s.exporter(signal)
        assert e.endpoint == "http://localhost:4318/v1/" + signal
        assert e.protocol == "http/protobuf"
        assert e.timeout_ms == 10000
        assert e.compression == "none"
        assert e.headers == {}
    assert warnings == []


# --- the exporter of each signal --------------------------------------------------

@pytest.mark.parametrize("generic, traces, logs", [
    ("http://collector:4318", "http://collector:4318/v1/traces", "http://collector:4318/v1/logs"),
    ("http://collector:4318/", "http://collector:4318/v1/traces", "http://collector:4318/v1/logs"),
    ("https://gw.example/otlp", "https://gw.example/otlp/v1/traces", "https://gw.example/otlp/v1/logs"),
])
def test_generic_endpoint_gets_the_signal_path(generic, traces, logs, warnings):
    s = load(OTEL_EXPORTER_OTLP_ENDPOINT=generic)
    assert s.exporter("traces").endpoint == traces
    assert s.exporter("logs").endpoint == logs
    assert warnings == []


def test_per_signal_endpoint_is_used_as_is(warnings):
    s = load(OTEL_EXPORTER_OTLP_ENDPOINT="http://generic:4318",
             OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://traces:9999/custom/path")
    assert s.exporter("traces").endpoint == "http://traces:9999/custom/path"
    assert s.exporter("logs").endpoint == "http://generic:4318/v1/logs"
    s = load(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="http://logs:1234")
    assert s.exporter("logs").endpoint == "http://logs:1234"
    assert s.exporter("traces").endpoint == "http://localhost:4318/v1/traces"
    assert warnings == []


def test_per_signal_settings_override_the_generic_ones(warnings):
    s = load(OTEL_EXPORTER_OTLP_PROTOCOL="http/json", OTEL_EXPORTER_OTLP_LOGS_PROTOCOL="http/protobuf",
             OTEL_EXPORTER_OTLP_HEADERS="a=1", OTEL_EXPORTER_OTLP_TRACES_HEADERS="b=2",
             OTEL_EXPORTER_OTLP_TIMEOUT="700", OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="250",
             OTEL_EXPORTER_OTLP_COMPRESSION="gzip", OTEL_EXPORTER_OTLP_LOGS_COMPRESSION="none")
    traces, logs = s.exporter("traces"), s.exporter("logs")
    assert (traces.protocol, logs.protocol) == ("http/json", "http/protobuf")
    assert (traces.headers, logs.headers) == ({"b": "2"}, {"a": "1"})
    assert (traces.timeout_ms, logs.timeout_ms) == (250, 700)
    assert (traces.compression, logs.compression) == ("gzip", "none")
    assert traces.sources["timeout_ms"] == "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
    assert logs.sources["timeout_ms"] == "OTEL_EXPORTER_OTLP_TIMEOUT"
    assert warnings == []


def test_timeouts_are_milliseconds(warnings):
    # The official Python exporter reads OTEL_EXPORTER_OTLP_TIMEOUT as seconds: 10 would
    # be ten seconds there, ten milliseconds here (and in the specification).
    s = load(OTEL_EXPORTER_OTLP_TIMEOUT="10", OTEL_BSP_EXPORT_TIMEOUT="20")
    assert s.exporter("traces").timeout_ms == 10
    assert s.bsp_export_timeout == 20


def test_negative_timeout_warns_and_keeps_default(warnings):
    s = load(OTEL_EXPORTER_OTLP_TIMEOUT="-1")
    assert s.exporter("traces").timeout_ms == 10000
    assert len(warnings) == 1 and "OTEL_EXPORTER_OTLP_TIMEOUT" in warnings[0] and "-1" in warnings[0]


def test_grpc_protocol_warns_once_and_uses_http_protobuf(warnings):
    s = load(OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    assert s.exporter("traces").protocol == s.exporter("logs").protocol == "http/protobuf"
    assert len(warnings) == 1, warnings  # one variable, one message, for both signals
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=grpc" in warnings[0]
    assert "HTTP" in warnings[0] and "http/protobuf" in warnings[0]


def test_grpc_on_one_signal_names_that_variable(warnings):
    s = load(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
    assert s.exporter("traces").protocol == "http/protobuf"
    assert s.exporter("logs").protocol == "http/json"
    assert len(warnings) == 1 and "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc" in warnings[0]


def test_unknown_protocol_warns(warnings):
    s = load(OTEL_EXPORTER_OTLP_PROTOCOL="http/thrift")
    assert s.exporter("traces").protocol == "http/protobuf"
    assert len(warnings) == 1 and "http/thrift" in warnings[0]


def test_endpoint_that_is_not_http_warns_without_credentials(warnings):
    s = load(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="ftp://user:pw@host/x?token=abc")
    assert s.exporter("traces").endpoint == "http://localhost:4318/v1/traces"
    assert len(warnings) == 1
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" in warnings[0]
    assert "pw" not in warnings[0] and "abc" not in warnings[0]


def test_batch_larger_than_queue_warns(warnings):
    s = load(OTEL_BSP_MAX_QUEUE_SIZE="100", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="500")
    assert s.bsp_max_queue_size == 100
    assert s.bsp_max_export_batch_size == 100
    assert len(warnings) == 1 and "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" in warnings[0]


def test_queue_of_zero_warns(warnings):
    s = load(OTEL_BLRP_MAX_QUEUE_SIZE="0")
    assert s.blrp_max_queue_size == 1  # the nearest sane value
    assert len(warnings) == 1 and "OTEL_BLRP_MAX_QUEUE_SIZE=0 is out of range" in warnings[0]


BOUNDED = [var for var in config.VARIABLES if var.bounds is not None]


def test_every_duration_and_size_has_a_documented_range():
    names = {var.name for var in BOUNDED}
    for var in config.VARIABLES:
        if var.parse in (config.parse_int, config.parse_millis, config.parse_optional_int):
            assert var.name in names or var.name == "OTEL_PYTHON_TRUSTED_PROXY_COUNT", var.name
    for var in BOUNDED:
        assert "{:,}".format(var.bounds[1]) in var.doc  # shown in the README table


@pytest.mark.parametrize("var", BOUNDED, ids=lambda var: var.name)
def test_a_value_out_of_range_warns_once_and_uses_the_nearest_end(var, warnings):
    lowest, highest = var.bounds
    huge = "9223372036854775807"  # killed the export thread with an OverflowError
    s = load(**{var.name: huge})
    assert getattr(s, config.attribute_name(var.name)) == highest or var.name.endswith("_BATCH_SIZE")
    assert len(warnings) == 1 and var.name in warnings[0] and str(highest) in warnings[0]
    if lowest > 0:
        del warnings[:]
        s = load(**{var.name: str(lowest - 1)})
        assert getattr(s, config.attribute_name(var.name)) == lowest
        assert len(warnings) == 1 and var.name in warnings[0] and "using %d" % lowest in warnings[0]


def test_a_schedule_delay_of_zero_does_not_busy_loop(warnings):
    s = load(OTEL_BSP_SCHEDULE_DELAY="0")
    assert s.bsp_schedule_delay == config.DELAY_MS[0] > 0
    assert len(warnings) == 1


def test_a_timeout_of_zero_is_the_default_not_the_shortest(warnings):
    """0 always meant the exporters' default; 10 ms would fail every export."""
    s = load(OTEL_EXPORTER_OTLP_TIMEOUT="0", OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="0", OTEL_BSP_EXPORT_TIMEOUT="0",
             OTEL_METRIC_EXPORT_TIMEOUT="0")
    assert s.exporter("traces").timeout_ms == s.exporter("logs").timeout_ms == 10000
    assert (s.bsp_export_timeout, s.metric_export_timeout) == (30000, 30000)
    assert len(warnings) == 4 and all("=0 is not a timeout; using the default" in w for w in warnings)


# --- limits -----------------------------------------------------------------------

def test_attribute_limit_defaults(warnings):
    s = load()
    assert s.span_attribute_count_limit == 128
    assert s.logrecord_attribute_count_limit == 128
    assert s.span_attribute_value_length_limit is None
    assert s.logrecord_attribute_value_length_limit is None
    limits = Limits.from_settings(s)
    assert (limits.attribute_count, limits.attribute_length, limits.event_count, limits.link_count,
            limits.event_attribute_count, limits.link_attribute_count) == (128, None, 128, 128, 128, 128)


def test_general_attribute_limits_chain_to_spans_and_log_records(warnings):
    s = load(OTEL_ATTRIBUTE_COUNT_LIMIT="10", OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT="20")
    assert s.span_attribute_count_limit == 10 and s.logrecord_attribute_count_limit == 10
    assert s.span_attribute_value_length_limit == 20 and s.logrecord_attribute_value_length_limit == 20


def test_model_specific_limits_win_over_general_ones(warnings):
    s = load(OTEL_ATTRIBUTE_COUNT_LIMIT="10", OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="5",
             OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT="20", OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT="7")
    assert s.span_attribute_count_limit == 5 and s.logrecord_attribute_count_limit == 10
    assert s.span_attribute_value_length_limit == 20 and s.logrecord_attribute_value_length_limit == 7
    limits = Limits.from_settings(s)
    assert (limits.attribute_count, limits.attribute_length) == (5, 20)


# --- disabling, sources, raw lookups ------------------------------------------------

def test_sdk_disabled_starts_nothing(monkeypatch, warnings):
    monkeypatch.setattr(startup, "_agent", None)
    monkeypatch.setattr(_log, "_level", _log._level)   # start() sets the agent's log level
    assert startup.start({"OTEL_SDK_DISABLED": "true"}) is None
    assert startup.get_agent() is None


def test_sources_say_where_a_value_came_from(warnings):
    s = config.load(environ={"OTEL_SERVICE_NAME": "a", "OTEL_TRACES_SAMPLER": "always_on",
                             config.CLI_MARKER: "OTEL_SERVICE_NAME"})
    assert s.sources["OTEL_SERVICE_NAME"] == "command line"
    assert s.sources["OTEL_TRACES_SAMPLER"] == "environment"
    assert s.sources["OTEL_BSP_SCHEDULE_DELAY"] == "default"


def test_lookup_gives_raw_otel_values_only(warnings):
    s = load(OTEL_MY_PLUGIN_FLAG="on", HOME="/root")
    assert s.lookup("OTEL_MY_PLUGIN_FLAG") == "on"
    assert s.lookup("HOME") is None
    assert s.lookup("OTEL_MISSING", "x") == "x"


def test_every_variable_has_a_unique_row_and_doc():
    names = [v.name for v in config.VARIABLES]
    assert len(names) == len(set(names))
    for var in config.VARIABLES:
        assert var.name.startswith("OTEL_") and var.doc
        assert config.variable(var.name) is var


def test_small_queue_lowers_the_default_batch_silently(warnings):
    s = load(OTEL_BSP_MAX_QUEUE_SIZE="100")
    assert (s.bsp_max_queue_size, s.bsp_max_export_batch_size) == (100, 100)
    assert warnings == []


def test_a_plugins_bad_value_is_not_shown_when_it_may_be_a_secret(warnings):
    s = load(OTEL_MYPLUGIN_HEADERS="authorization=Bearer s3cr3t-value", OTEL_MYPLUGIN_API_KEY="k3y-s3cr3t",
             OTEL_MYPLUGIN_RATE="fast")
    assert s.plugin_value("OTEL_MYPLUGIN_HEADERS", config.parse_int, 0) == 0
    assert s.plugin_value("OTEL_MYPLUGIN_API_KEY", config.parse_int, 0) == 0
    assert s.plugin_value("OTEL_MYPLUGIN_RATE", config.parse_int, 5) == 5
    assert len(warnings) == 3
    assert not any("s3cr3t" in w for w in warnings)
    assert "OTEL_MYPLUGIN_HEADERS is invalid" in warnings[0] and "OTEL_MYPLUGIN_API_KEY is invalid" in warnings[1]
    assert "OTEL_MYPLUGIN_RATE='fast' is invalid" in warnings[2]  # nothing secret: shown, to be fixed

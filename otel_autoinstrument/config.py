"""Every OTEL_* variable the agent reads, parsed and validated in one place.

``load()`` reads the environment once into a ``Settings`` object; nothing else in the
agent (and no instrumentor) reads ``os.environ``. Each variable is one row of
``VARIABLES``: its name, the parser for its kind of value, its default and one line of
documentation (the README's table is checked against these rows by a test). A bad
value logs one warning naming the variable and the value, and the default is used.
Every duration and size has a range (part of its documentation): a number outside it
logs one warning naming the variable, and the nearest end of the range is used.

Defaults are the OpenTelemetry specification's. Durations are milliseconds, as the
specification says (the official Python exporter reads OTEL_EXPORTER_OTLP_TIMEOUT as
seconds; this agent does not).
"""

from __future__ import annotations

import os

from . import _log
from .redaction import REDACTION_RULES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, TypeVar

    T = TypeVar("T")

DEFAULT_ENDPOINT = "http://localhost:4318"
SIGNALS = ("traces", "logs", "metrics")
TRACES_EXPORTERS = ("otlp", "console", "none")
LOGS_EXPORTERS = ("otlp", "console", "none")
METRICS_EXPORTERS = ("otlp", "prometheus", "console", "none")
TEMPORALITIES = ("cumulative", "delta", "lowmemory")
EXEMPLAR_FILTERS = ("trace_based", "always_on", "always_off")
PROTOCOLS = ("http/protobuf", "http/json")
COMPRESSIONS = ("none", "gzip")
SAMPLERS = (
    "always_on", "always_off", "traceidratio",
    "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
)
PROPAGATORS = ("tracecontext", "baggage", "b3", "b3multi", "none")
PROXY_HEADERS = ("x-forwarded-for", "forwarded")


class BadValue(ValueError):
    """Raised by a parser; the message says what was expected."""


# --- one parser per kind of value ------------------------------------------------

def parse_str(text):
    return text.strip()


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value == "true":
        return True
    if value == "false" or value == "":
        return False
    raise BadValue("expected true or false")


def parse_int(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise BadValue("expected a whole number") from None
    if value < 0:
        raise BadValue("expected a number >= 0")
    return value


def parse_optional_int(text):
    """A limit where an empty value means 'no limit'."""
    return parse_int(text) if text.strip() else None


def parse_millis(text: str) -> int:
    """A duration in milliseconds (the specification's unit for every OTEL_* timeout)."""
    return parse_int(text)


def parse_list(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_lower_list(text):
    return [item.lower() for item in parse_list(text)]


def _percent_decode(text):
    if "%" not in text:
        return text
    from urllib.parse import unquote

    return unquote(text)


def parse_pairs(text):
    """``key1=value1,key2=value2`` with percent-decoded values (W3C baggage style)."""
    pairs = {}
    for number, item in enumerate(text.split(","), 1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            # The item is not shown: in a header list it may be all secret ("Bearer xyz").
            raise BadValue("expected key=value pairs separated by commas; item %d has no key or no '='"
                           % number)
        pairs[_percent_decode(key)] = _percent_decode(value.strip())
    return pairs


def parse_ratio(text):
    try:
        value = float(text.strip())
    except ValueError:
        raise BadValue("expected a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise BadValue("expected a number between 0 and 1")
    return value


def parse_log_level(text):
    level = _log.parse_level(text)
    if level is None:
        raise BadValue("expected one of debug, info, warning, error, critical")
    return text.strip().lower()


def choice(*allowed):
    def parse(text):
        value = text.strip().lower()
        if value not in allowed:
            raise BadValue("expected one of " + ", ".join(allowed))
        return value

    return parse


def choices(*allowed):
    """A comma-separated list whose every item must be one of ``allowed``."""

    def parse(text):
        values = parse_lower_list(text)
        bad = [v for v in values if v not in allowed]
        if bad:
            raise BadValue("unknown %s; expected some of %s" % (", ".join(bad), ", ".join(allowed)))
        return values

    return parse


def parse_redaction(text):
    """``OTEL_PYTHON_REDACTION``: ``default``, ``none``, rule names, ``-rule`` to leave a rule
    out, ``regex:PATTERN`` or ``regex(NAME):PATTERN``. Only the syntax is checked here
    (no ``re`` at start-up): patterns are compiled by the export thread. A comma inside
    a pattern stays in it unless what follows is itself an item."""
    items = []
    for part in text.split(","):
        word = part.strip()
        lower = word.lower()
        if lower in ("default", "none") or lower.lstrip("-") in REDACTION_RULES:
            items.append(lower)
        elif lower.startswith(("regex:", "regex(")):
            name, sep, pattern = word[6:].partition("):") if lower.startswith("regex(") else ("", ":", word[6:])
            if not sep or not pattern or not all(c.isalnum() or c in "_.-" for c in name):
                raise BadValue("expected regex:PATTERN or regex(NAME):PATTERN, got %r" % word)
            items.append(word)
        elif items and items[-1].startswith(("regex:", "regex(")):
            items[-1] += "," + part.rstrip()  # the comma belonged to the pattern: \d{3,4}
        elif word:
            raise BadValue("unknown %r; expected default, none, %s, -RULE or regex:PATTERN"
                           % (word, ", ".join(REDACTION_RULES)))
    if "none" in items and len(items) > 1:
        raise BadValue("none cannot be combined with other rules")
    return items


# --- the variables -------------------------------------------------------------------

class Var:
    __slots__ = ("name", "parse", "default", "doc", "secret", "bounds")

    def __init__(self, name, parse, default, doc, secret=False, bounds=None):
        self.name, self.parse, self.default, self.doc, self.secret = name, parse, default, doc, secret
        self.bounds = bounds  # (lowest, highest) for a duration or size
        if bounds is not None:
            self.doc = "%s (%s to %s%s)" % (doc, "{:,}".format(bounds[0]), "{:,}".format(bounds[1]),
                                            "; 0: the default" if bounds is TIMEOUT_MS else "")


# Ranges: a duration past an hour (or 10 minutes for a timeout) is a typing error, and
# far past it overflows the thread primitives; a delay of 0 would busy-loop a core.
DELAY_MS = (10, 3600000)
TIMEOUT_MS = (10, 600000)
EXIT_MS = (0, 600000)
QUEUE_ITEMS = (1, 1048576)
BATCH_ITEMS = (1, 65536)
COUNT_LIMIT = (0, 65536)
LENGTH_LIMIT = (0, 4194304)  # an item above 4 MiB is never exported anyway
CARDINALITY = (1, 1048576)
TCP_PORT = (1, 65535)
DEFAULT_QUEUE_SIZE = 262144  # the specification says 2048: see docs/reliability.md


def _exporter_vars():
    rows = []
    for signal in ("", "TRACES_", "LOGS_", "METRICS_"):
        which = "for %s" % signal[:-1].lower() if signal else "for every signal"
        prefix = "OTEL_EXPORTER_OTLP_" + signal
        rows += [
            Var(prefix + "ENDPOINT", parse_str, None if signal else DEFAULT_ENDPOINT,
                "OTLP/HTTP endpoint %s (a per-signal endpoint is used as is; the generic one "
                "gets /v1/traces, /v1/logs or /v1/metrics appended)" % which, secret=True),
            Var(prefix + "PROTOCOL", parse_str, None if signal else "http/protobuf",
                "http/protobuf or http/json %s" % which),
            Var(prefix + "HEADERS", parse_pairs, None if signal else {},
                "headers sent with each export %s, key=value comma-separated, "
                "values percent-decoded" % which, secret=True),
            Var(prefix + "TIMEOUT", parse_millis, None if signal else 10000,
                "timeout of one export request %s (connect, send and answer), ms" % which,
                bounds=TIMEOUT_MS),
            Var(prefix + "COMPRESSION", choice(*COMPRESSIONS), None if signal else "none",
                "gzip or none %s" % which),
            Var(prefix + "CERTIFICATE", parse_str, None if signal else "",
                "CA bundle (PEM) that verifies the endpoint's certificate %s" % which),
            Var(prefix + "CLIENT_CERTIFICATE", parse_str, None if signal else "",
                "client certificate (PEM) for mutual TLS %s" % which),
            Var(prefix + "CLIENT_KEY", parse_str, None if signal else "",
                "client private key (PEM) for mutual TLS %s" % which),
        ]
    return rows


VARIABLES = [
    Var("OTEL_SDK_DISABLED", parse_bool, False, "true turns the whole agent off"),
    Var("OTEL_LOG_LEVEL", parse_log_level, "info",
        "level of the agent's own log messages (debug, info, warning, error)"),
    Var("OTEL_SERVICE_NAME", parse_str, "", "service.name of every span and log record"),
    Var("OTEL_RESOURCE_ATTRIBUTES", parse_pairs, {},
        "extra resource attributes, key=value comma-separated, values percent-decoded"),
    Var("OTEL_TRACES_EXPORTER", choices(*TRACES_EXPORTERS), ["otlp"],
        "where spans go: otlp, console or none"),
    Var("OTEL_LOGS_EXPORTER", choices(*LOGS_EXPORTERS), ["otlp"],
        "where log records go: otlp, console or none"),
    Var("OTEL_METRICS_EXPORTER", choices(*METRICS_EXPORTERS), ["otlp"],
        "where metrics go: otlp, prometheus (a scrape endpoint), console or none (no cost)"),
    Var("OTEL_PROPAGATORS", choices(*PROPAGATORS), ["tracecontext", "baggage"],
        "context propagation formats: tracecontext, baggage, b3, b3multi, none"),
    Var("OTEL_TRACES_SAMPLER", choice(*SAMPLERS), "parentbased_always_on",
        "sampler: always_on, always_off, traceidratio, parentbased_*"),
    Var("OTEL_TRACES_SAMPLER_ARG", parse_ratio, 1.0, "sampling ratio for the traceidratio samplers"),
] + _exporter_vars() + [
    Var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", choice(*TEMPORALITIES), "cumulative",
        "OTLP metrics temporality: cumulative, delta (counters and histograms as deltas) or lowmemory "
        "(synchronous counters and histograms as deltas)"),
    Var("OTEL_METRIC_EXPORT_INTERVAL", parse_millis, 60000, "time between two metric exports (otlp, console), ms",
        bounds=DELAY_MS),
    Var("OTEL_METRIC_EXPORT_TIMEOUT", parse_millis, 30000, "bound of one metric export, ms", bounds=TIMEOUT_MS),
    Var("OTEL_METRICS_EXEMPLAR_FILTER", choice(*EXEMPLAR_FILTERS), "trace_based",
        "which measurements may become exemplars: trace_based (in a sampled span), always_on, always_off"),
    Var("OTEL_PYTHON_METRICS_CARDINALITY_LIMIT", parse_int, 2000,
        "attribute sets per metric; measurements with more go to the otel.metric.overflow=true series",
        bounds=CARDINALITY),
    Var("OTEL_EXPORTER_PROMETHEUS_HOST", parse_str, "localhost", "address the prometheus scrape endpoint listens on"),
    Var("OTEL_EXPORTER_PROMETHEUS_PORT", parse_int, 9464, "port of the prometheus scrape endpoint", bounds=TCP_PORT),
    Var("OTEL_BSP_SCHEDULE_DELAY", parse_millis, 5000, "delay between two span exports, ms",
        bounds=DELAY_MS),
    Var("OTEL_BSP_EXPORT_TIMEOUT", parse_millis, 30000, "bound of one span export, retries included, ms",
        bounds=TIMEOUT_MS),
    Var("OTEL_BSP_MAX_QUEUE_SIZE", parse_int, DEFAULT_QUEUE_SIZE,
        "spans waiting for export, and at most 32 MiB of them (estimated encoded size); more are "
        "dropped. The specification's default is 2048: see docs/reliability.md", bounds=QUEUE_ITEMS),
    Var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", parse_int, 512, "spans per export request", bounds=BATCH_ITEMS),
    Var("OTEL_BLRP_SCHEDULE_DELAY", parse_millis, 1000, "delay between two log exports, ms", bounds=DELAY_MS),
    Var("OTEL_BLRP_EXPORT_TIMEOUT", parse_millis, 30000, "bound of one log export, retries included, ms",
        bounds=TIMEOUT_MS),
    Var("OTEL_BLRP_MAX_QUEUE_SIZE", parse_int, DEFAULT_QUEUE_SIZE,
        "log records waiting for export, and at most 32 MiB of them (as for spans)", bounds=QUEUE_ITEMS),
    Var("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", parse_int, 512, "log records per export request", bounds=BATCH_ITEMS),
    Var("OTEL_ATTRIBUTE_COUNT_LIMIT", parse_int, 128, "attributes per span, event, link or log record",
        bounds=COUNT_LIMIT),
    Var("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", parse_optional_int, None,
        "longest string attribute value (unset: no limit)", bounds=LENGTH_LIMIT),
    Var("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", parse_int, None, "attributes per span", bounds=COUNT_LIMIT),
    Var("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", parse_optional_int, None,
        "longest string span attribute value", bounds=LENGTH_LIMIT),
    Var("OTEL_SPAN_EVENT_COUNT_LIMIT", parse_int, 128, "events per span", bounds=COUNT_LIMIT),
    Var("OTEL_SPAN_LINK_COUNT_LIMIT", parse_int, 128, "links per span", bounds=COUNT_LIMIT),
    Var("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", parse_int, 128, "attributes per span event", bounds=COUNT_LIMIT),
    Var("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", parse_int, 128, "attributes per span link", bounds=COUNT_LIMIT),
    Var("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", parse_int, None, "attributes per log record",
        bounds=COUNT_LIMIT),
    Var("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", parse_optional_int, None,
        "longest string log attribute value", bounds=LENGTH_LIMIT),
    Var("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", parse_lower_list, [],
        "instrumentors not to load, by name, comma-separated (* for all)"),
    Var("OTEL_PYTHON_EXIT_TIMEOUT", parse_millis, 3000,
        "the longest the agent may hold the process at exit to flush, ms", bounds=EXIT_MS),
    Var("OTEL_PYTHON_EXCLUDED_URLS", parse_list, [],
        "regexes of URLs that are never traced, for every HTTP instrumentation"),
    Var("OTEL_PYTHON_FLASK_EXCLUDED_URLS", parse_list, [], "regexes of URLs Flask does not trace"),
    Var("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", parse_list, [], "regexes of URLs Django does not trace"),
    Var("OTEL_PYTHON_REQUESTS_EXCLUDED_URLS", parse_list, [],
        "regexes of URLs requests does not trace nor inject into"),
    Var("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", parse_list, [], "regexes of URLs Starlette does not trace"),
    Var("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", parse_list, [], "regexes of URLs FastAPI does not trace"),
    Var("OTEL_PYTHON_HTTPX_EXCLUDED_URLS", parse_list, [],
        "regexes of URLs httpx does not trace nor inject into"),
    Var("OTEL_PYTHON_URLLIB3_EXCLUDED_URLS", parse_list, [],
        "regexes of URLs urllib3 does not trace nor inject into"),
    Var("OTEL_PYTHON_HTTP_CLIENT_EXCLUDED_URLS", parse_list, [],
        "regexes of URLs http.client (urllib.request) does not trace nor inject into"),
    Var("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", parse_list, [],
        "request headers recorded on server spans"),
    Var("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", parse_list, [],
        "response headers recorded on server spans"),
    Var("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", parse_list, [],
        "request headers recorded on client spans"),
    Var("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE", parse_list, [],
        "response headers recorded on client spans"),
    Var("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", parse_list, [],
        "captured header names (or regexes) whose values are recorded as [REDACTED], besides "
        "every name the sensitive-name pattern matches; -NAME exempts a name from the pattern"),
    Var("OTEL_PYTHON_URL_SENSITIVE_QUERY_PARAMS", parse_lower_list, [],
        "extra names whose values are redacted in URL queries and in name=value text, besides "
        "every name the sensitive-name pattern matches; -NAME exempts a name from the pattern"),
    Var("OTEL_PYTHON_DB_QUERY_SANITIZE", parse_bool, True,
        "replace literals in db.query.text with ? (false records statements as written)"),
    Var("OTEL_PYTHON_DB_SQLCOMMENTER", parse_bool, False,
        "append the statement's traceparent as a /*traceparent='...'*/ comment to SQL sent by "
        "psycopg and psycopg2 (never to statements psycopg prepares, nor to bytes or composed SQL)"),
    Var("OTEL_PYTHON_REDACTION", parse_redaction, ["default"],
        "redaction of every exported string: default (all built-in rules), none, rule names "
        "(%s), -RULE to leave one out, regex:PATTERN or regex(NAME):PATTERN; matches become "
        "[REDACTED:RULE]" % ", ".join(REDACTION_RULES)),
    Var("OTEL_PYTHON_TRUSTED_PROXY_COUNT", parse_int, 0,
        "reverse proxies in front of the service that append the client to the proxy header; "
        "0: client.address is the socket's peer"),
    Var("OTEL_PYTHON_TRUSTED_PROXY_HEADER", choice(*PROXY_HEADERS), "x-forwarded-for",
        "the header those proxies append to: x-forwarded-for or forwarded"),
    Var("OTEL_PYTHON_CAPTURE_ENDUSER_ID", parse_bool, False,
        "record enduser.id on server spans (Django's request.user, Flask-Login's current_user): "
        "personal data, off by default"),
    Var("OTEL_PYTHON_LOG_CORRELATION", parse_bool, False,
        "install a log format with trace ids when the application configures no logging"),
    Var("OTEL_PYTHON_LOG_LEVEL", parse_log_level, "info",
        "lowest level of log records exported (debug, info, warning, error)"),
]

_BY_NAME = {var.name: var for var in VARIABLES}


def attribute_name(var_name):
    """``OTEL_BSP_MAX_QUEUE_SIZE`` -> ``bsp_max_queue_size`` (the Settings attribute)."""
    name = var_name[5:] if var_name.startswith("OTEL_") else var_name
    return name.lower()


class ExporterSettings:
    """The effective OTLP exporter settings of one signal."""

    __slots__ = ("signal", "endpoint", "protocol", "headers", "timeout_ms", "compression",
                 "certificate", "client_certificate", "client_key", "sources")

    def __repr__(self):
        return "ExporterSettings(%s, %s, %s)" % (self.signal, self.endpoint, self.protocol)


class Settings:
    """All configuration, read once. Attributes are named after the variables
    (``OTEL_BSP_MAX_QUEUE_SIZE`` -> ``settings.bsp_max_queue_size``).

    ``sources`` maps a variable name to where its value came from: ``default``,
    ``environment`` or ``command line`` (the launcher marks its own options).
    ``warnings`` holds the messages logged for bad values.
    """

    def __init__(self) -> None:
        self.sources: Dict[str, str] = {}
        self.warnings: List[str] = []
        self.raw: Dict[str, str] = {}

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any: ...  # one attribute per variable, set by load()

    def exporter(self, signal):
        return self._exporters[signal]

    # --- a plugin's own variables (any OTEL_* name; the environment was read at start) ---

    def lookup(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The raw text of any OTEL_* variable, or ``default`` when it is not set."""
        return self.raw.get(name, default)

    def list_value(self, name: str) -> List[str]:
        """A comma-separated list variable: one the agent reads (parsed once), or any
        other OTEL_* name, such as a plugin's ``OTEL_PYTHON_URLLIB3_EXCLUDED_URLS``."""
        if name in _BY_NAME:
            return list(getattr(self, attribute_name(name)) or ())
        return parse_list(self.raw.get(name, ""))

    def plugin_value(self, name: str, parse: Callable[[str], T], default: T) -> T:
        """A plugin's own variable parsed by ``parse(text)`` (which raises ``BadValue``, or
        ValueError, for a bad value): unset or empty gives ``default``; a bad value logs
        one warning naming the variable, then gives ``default``, as for the agent's own."""
        if not name.startswith("OTEL_"):
            raise ValueError("%r: a plugin's variables are OTEL_* variables" % name)
        text = self.raw.get(name)
        if text is None or text.strip() == "":
            return default
        try:
            return parse(text)
        except ValueError as exc:
            if _may_hold_secrets(name):  # neither the value nor the parser's message, which may quote it
                _warn(self, "%s is invalid (its value is not shown); using the default" % name)
            else:
                _warn(self, "%s=%r is invalid (%s); using the default %r" % (name, text, exc, default))
            return default

    def bool_value(self, name: str, default: bool = False) -> bool:
        """``true``/``false`` (any case)."""
        return self.plugin_value(name, parse_bool, default)

    def int_value(self, name: str, default: int = 0) -> int:
        """A whole number >= 0."""
        return self.plugin_value(name, parse_int, default)

    def duration_value(self, name: str, default: int) -> int:
        """A duration in milliseconds (the specification's unit), as an int."""
        return self.plugin_value(name, parse_millis, default)


def _signal_endpoint(generic, signal):
    path = "/v1/" + signal
    base = generic.rstrip("/")
    return base + path


def _build_exporter(settings, signal):
    sig = signal.upper()
    out = ExporterSettings()
    out.signal = signal
    out.sources = {}
    for field, attr in (("ENDPOINT", "endpoint"), ("PROTOCOL", "protocol"), ("HEADERS", "headers"),
                        ("TIMEOUT", "timeout_ms"), ("COMPRESSION", "compression"),
                        ("CERTIFICATE", "certificate"), ("CLIENT_CERTIFICATE", "client_certificate"),
                        ("CLIENT_KEY", "client_key")):
        specific = "OTEL_EXPORTER_OTLP_%s_%s" % (sig, field)
        generic = "OTEL_EXPORTER_OTLP_" + field
        value = getattr(settings, attribute_name(specific))
        source = specific
        if value is None or (field == "ENDPOINT" and value == ""):
            value = getattr(settings, attribute_name(generic))
            source = generic
            if field == "ENDPOINT":
                value = _signal_endpoint(value or DEFAULT_ENDPOINT, signal)
        setattr(out, attr, value)
        out.sources[attr] = source
    if out.protocol == "grpc":
        _warn(settings, "%s=grpc: this agent speaks OTLP over HTTP; using http/protobuf "
              "(point the endpoint at the collector's HTTP port, usually 4318)" % out.sources["protocol"])
        out.protocol = "http/protobuf"
    elif out.protocol not in PROTOCOLS:
        _warn(settings, "%s=%r is not a known protocol (http/protobuf, http/json); using "
              "http/protobuf" % (out.sources["protocol"], out.protocol))
        out.protocol = "http/protobuf"
    if not out.endpoint.startswith(("http://", "https://")):
        from .redaction.secrets import mask_url  # imported with this warning only

        _warn(settings, "%s=%r is not an http:// or https:// URL; using %s" % (
            out.sources["endpoint"], mask_url(out.endpoint), _signal_endpoint(DEFAULT_ENDPOINT, signal)))
        out.endpoint = _signal_endpoint(DEFAULT_ENDPOINT, signal)
    return out


def _may_hold_secrets(name):
    """A plugin's variable whose value may be a secret: a sensitive name (the redaction
    pattern: key, token, secret, password...) or headers, an endpoint, a URL or a DSN."""
    from .redaction.names import SENSITIVE_NAMES  # with this warning only

    return name in SENSITIVE_NAMES or any(part in name for part in ("HEADERS", "ENDPOINT", "URL", "DSN"))


def _warn(settings, message):
    if message in settings.warnings:
        return  # the generic variable behind both signals: say it once
    settings.warnings.append(message)
    _log.warning(message)


CLI_MARKER = "OTEL_AUTOINSTRUMENT_CLI_OPTIONS"  # set by otel-run: variables from its options

# The environment-variable carrier of the trace a process was started in (a CI job, a
# shell script or an instrumented parent process sets them): header name -> variable.
CARRIER_VARIABLES = (("traceparent", "TRACEPARENT"), ("tracestate", "TRACESTATE"), ("baggage", "BAGGAGE"))


def load(environ=None, command_line=None):
    """Read every variable once. ``command_line`` names the variables that came from
    otel-run's options (by default, read from the marker the launcher sets)."""
    environ = os.environ if environ is None else environ
    if command_line is None:
        command_line = set(environ.get(CLI_MARKER, "").split(","))
    settings = Settings()
    settings.raw = {k: v for k, v in environ.items() if k.startswith("OTEL_")}
    # ``settings.environment_carrier``: {"traceparent": ..., ...} as found (parsed, and
    # never trusted, by the propagators when the process continues that trace).
    settings.environment_carrier = {header: environ[name] for header, name in CARRIER_VARIABLES
                                    if isinstance(environ.get(name), str) and environ[name].strip()}
    for var in VARIABLES:
        attr = attribute_name(var.name)
        text = environ.get(var.name)
        value, source = var.default, "default"
        if text is not None and text.strip() != "":
            try:
                value = var.parse(text)
                source = "command line" if var.name in command_line else "environment"
            except BadValue as exc:
                shown = "***" if var.secret else text
                _warn(settings, "%s=%r is invalid (%s); using the default %r" % (
                    var.name, shown, exc, var.default))
            else:
                value = _in_range(settings, var, value)
        setattr(settings, attr, value)
        settings.sources[var.name] = source
    _resolve_dependent(settings)
    settings._exporters = {signal: _build_exporter(settings, signal) for signal in SIGNALS}
    return settings


def _in_range(settings, var, value):
    """``value`` if it is within the variable's range; else the nearest end, with a warning."""
    if var.bounds is None or value is None:
        return value
    lowest, highest = var.bounds
    if lowest <= value <= highest:
        return value
    if value == 0 and var.bounds is TIMEOUT_MS:
        # 0 is no timeout the exporters could keep: it has always meant their default
        # (not the 10 ms the range would give, which would fail every export).
        _warn(settings, "%s=0 is not a timeout; using the default%s"
              % (var.name, "" if var.default is None else " %d" % var.default))
        return var.default
    nearest = lowest if value < lowest else highest
    _warn(settings, "%s=%d is out of range (%d to %d); using %d" % (var.name, value, lowest, highest, nearest))
    return nearest


def _resolve_dependent(settings):
    """Values whose default is another variable, and cross-variable checks."""
    if settings.span_attribute_count_limit is None:
        settings.span_attribute_count_limit = settings.attribute_count_limit
    if settings.span_attribute_value_length_limit is None:
        settings.span_attribute_value_length_limit = settings.attribute_value_length_limit
    if settings.logrecord_attribute_count_limit is None:
        settings.logrecord_attribute_count_limit = settings.attribute_count_limit
    if settings.logrecord_attribute_value_length_limit is None:
        settings.logrecord_attribute_value_length_limit = settings.attribute_value_length_limit
    for prefix in ("bsp", "blrp"):
        queue = getattr(settings, prefix + "_max_queue_size")
        batch = getattr(settings, prefix + "_max_export_batch_size")
        if batch > queue:
            if settings.sources["OTEL_%s_MAX_EXPORT_BATCH_SIZE" % prefix.upper()] != "default":
                _warn(settings, "OTEL_%s_MAX_EXPORT_BATCH_SIZE=%d must be between 1 and the queue "
                      "size (%d); using %d" % (prefix.upper(), batch, queue, min(512, queue)))
            setattr(settings, prefix + "_max_export_batch_size", min(512, queue))
    if "none" in settings.propagators:
        settings.propagators = []
    if "none" in settings.traces_exporter and len(settings.traces_exporter) > 1:
        settings.traces_exporter = [e for e in settings.traces_exporter if e != "none"]
    if "none" in settings.logs_exporter and len(settings.logs_exporter) > 1:
        settings.logs_exporter = [e for e in settings.logs_exporter if e != "none"]
    if "none" in settings.metrics_exporter and len(settings.metrics_exporter) > 1:
        settings.metrics_exporter = [e for e in settings.metrics_exporter if e != "none"]


def variable(name):
    """The ``Var`` row of a variable name (KeyError if the agent does not read it)."""
    return _BY_NAME[name]

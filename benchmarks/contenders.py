"""The contenders: ONE list, one entry each.

To benchmark another agent (ddtrace-run, ...), add a Venv to VENVS (or reuse one)
and one Contender to CONTENDERS.  Fields:

  name      label in the report, and part of the OTEL_SERVICE_NAME it runs with
  venv      key into VENVS (the environment it runs in)
  launcher  command prefix, resolved in the venv's bin/ ([] = run the app as is)
  env       extra environment on top of the common OTEL_* settings
  tracer    "module:callable" returning a tracer for the in-process span scenarios
            (called with a name; the result must have start_as_current_span); None
            when the contender has no manual API (it then sits those scenarios out)
  role      "baseline" (what added costs are measured against), "subject" (this
            project: the targets apply to it), "reference" (the agent the subject
            must beat), or "other"
  logs      whether it exports the application's log records over OTLP (the web
            scenarios expect them only then)
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

# The same app dependencies in every venv.  SQLAlchemy < 2.1: the official
# sqlalchemy instrumentation declares "sqlalchemy >= 1.0.0, < 2.1.0" and the
# auto-instrumentation silently skips it on 2.1 (it would trace no SQL at all).
# FastAPI depends on opentelemetry-api: every venv has the API (none has a contrib
# instrumentation package but `official` and `this-api`).
APP_DEPS = ["flask", "django", "gunicorn", "sqlalchemy<2.1", "requests", "psycopg[binary]", "redis", "fastapi", "uvicorn",
            "httpx"]

# The contrib packages are 0.NNbM pre-releases released in step; unpinned, pip's
# resolver backtracks to a years-old set when their latest betas differ, so pin one
# consistent release (it brings the matching opentelemetry-sdk 1.x).
OTEL_CONTRIB = "0.66b1"
OFFICIAL_DEPS = [
    "opentelemetry-distro==" + OTEL_CONTRIB,
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-flask==" + OTEL_CONTRIB,
    "opentelemetry-instrumentation-django==" + OTEL_CONTRIB,
    "opentelemetry-instrumentation-requests==" + OTEL_CONTRIB,
    "opentelemetry-instrumentation-fastapi==" + OTEL_CONTRIB,  # brings -asgi
    "opentelemetry-instrumentation-httpx==" + OTEL_CONTRIB,
    "opentelemetry-instrumentation-sqlalchemy==" + OTEL_CONTRIB,
    "opentelemetry-instrumentation-logging==" + OTEL_CONTRIB,
    "opentelemetry-instrumentation-psycopg==" + OTEL_CONTRIB,
    "opentelemetry-instrumentation-redis==" + OTEL_CONTRIB,
]


# The OpenTelemetry API with ten contrib instrumentation packages, beside this agent: the
# API scenarios (scenarios/api.py) measure a span through the API on this core, and that
# having the API and ten contrib packages installed costs nothing at start-up. None of
# them instruments a library `import flask` imports (jinja2 and urllib would: they load
# with it, as designed, and would be measured as part of importing Flask).
API_DEPS = ["opentelemetry-api"] + ["opentelemetry-instrumentation-%s==%s" % (name, OTEL_CONTRIB) for name in (
    "flask", "django", "requests", "sqlalchemy", "logging", "sqlite3", "aiohttp-client", "redis", "httpx",
    "pymongo")]


@dataclass
class Venv:
    requirements: List[str]
    install_repo: bool = False  # pip install <repo root> too (reinstalled when it changes)


@dataclass
class Contender:
    name: str
    venv: str
    launcher: List[str]
    env: Dict[str, str] = field(default_factory=dict)
    tracer: Optional[str] = None
    role: str = "other"
    logs: bool = True


VENVS = {
    "bare": Venv(APP_DEPS),
    "this": Venv(APP_DEPS, install_repo=True),
    "official": Venv(APP_DEPS + OFFICIAL_DEPS),
    "this-api": Venv(APP_DEPS + API_DEPS, install_repo=True),
    # Datadog's agent: its own instrumentation, traces over OTLP (http/json) since 4.8
    "ddtrace": Venv(APP_DEPS + ["ddtrace"]),
    # the sink's own environment (decoder); not a contender
    "sink": Venv(["opentelemetry-proto"]),
    # the official runtime metrics, measured in process by the runtime-metrics scenario; not
    # a contender (installed in "official" it would load into every scenario of that agent)
    "official-system-metrics": Venv(["opentelemetry-sdk", "opentelemetry-instrumentation-system-metrics==" + OTEL_CONTRIB]),
}

CONTENDERS = [
    Contender("bare", "bare", [], role="baseline"),
    Contender("this", "this", ["otel-run"], tracer="otel_autoinstrument:get_tracer",
              role="subject"),
    Contender("official", "official", ["opentelemetry-instrument"],
              env={"OTEL_SEMCONV_STABILITY_OPT_IN": "http",
                   # the SDK only attaches its logging handler (log export) with this
                   "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"},
              tracer="opentelemetry.trace:get_tracer", role="reference"),
    # ddtrace exports traces over OTLP only as http/json (DD_TRACE_OTEL_ENABLED with
    # OTEL_TRACES_EXPORTER=otlp); stdlib log records it does not export over OTLP at all
    # (its OTLP logs are the OpenTelemetry Logs API's). Its agent-side extras that would
    # talk to a Datadog agent on localhost:8126 are off: telemetry, remote configuration,
    # client-side stats, runtime metrics.
    Contender("ddtrace", "ddtrace", ["ddtrace-run"],
              env={"DD_TRACE_OTEL_ENABLED": "true", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                   "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false", "DD_REMOTE_CONFIGURATION_ENABLED": "false",
                   "DD_TRACE_STATS_COMPUTATION_ENABLED": "false", "DD_RUNTIME_METRICS_ENABLED": "false"},
              tracer="dd_tracer:get_tracer", role="other", logs=False),
]


# Run by the API scenarios only (not the web ones): this agent serving the OpenTelemetry API.
API_CONTENDERS = [
    Contender("this+api", "this-api", ["otel-run"], tracer="opentelemetry.trace:get_tracer", role="other"),
]


def common_env(sink_port, service):
    """The OTEL_* settings every contender gets (bare too; it just sends nothing)."""
    return {
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % sink_port,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
    }

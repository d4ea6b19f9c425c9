"""The OpenTelemetry API under otel-run: manual spans, one context, baggage, the logs API,
contrib instrumentations on this core, and apps that set up the SDK themselves.

The OpenTelemetry packages (API, SDK, contrib instrumentations, aiohttp) come from the
package registry into ``tests/.cache/otel-api-1.45`` (``support.packages``) and are put
on the application's PYTHONPATH only: the venv, and every other test, never sees them.
"""

import json
import os

import pytest

from support.agent import BIN, PYTHON, agent_env, otel_run
from support.packages import package_cache
from support.processes import APPS_DIR, TESTS_DIR, Server, base_env, free_port, free_ports, http_get, run

SCRIPTS = TESTS_DIR / "scripts"
OTEL_PACKAGES = [
    "opentelemetry-api==1.45.*", "opentelemetry-sdk==1.45.*",
    "opentelemetry-instrumentation-flask", "opentelemetry-instrumentation-requests",
    "opentelemetry-instrumentation-sqlite3", "opentelemetry-instrumentation-aiohttp-client", "aiohttp",
]


@pytest.fixture(scope="module")
def otel_path():
    return str(package_cache("otel-api-1.45", OTEL_PACKAGES))


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server.url


@pytest.fixture(scope="module")
def aiohttp_server(otel_path):
    port = free_port()
    with Server([PYTHON, APPS_DIR / "aiohttp_server.py", port], env=base_env(PYTHONPATH=otel_path),
                port=port) as server:
        yield server.url


def gunicorn(port, app="app:app", workers=1):
    return otel_run(os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", workers,
                    "-b", "127.0.0.1:%d" % port, app)


def _by_id(spans):
    return {s.span_id: s for s in spans}


def test_the_tutorial_app_unchanged_under_gunicorn(receiver, service_name, otel_path):
    port = free_port()
    env = agent_env(receiver, service_name, PYTHONPATH=otel_path)
    with Server(gunicorn(port, workers=2), env=env, cwd=APPS_DIR / "api_tutorial", port=port) as server:
        for _ in range(3):
            status, _, body = http_get(server.url + "/")
            assert (status, body) == (200, b"Hello, OpenTelemetry!")
    spans = receiver.wait_for_spans(count=6, service=service_name)
    assert len(spans) == 6, [str(s) for s in spans]
    by_id = _by_id(spans)
    examples = [s for s in spans if s.name == "example-span"]
    servers = [s for s in spans if s.kind == "SERVER"]
    assert len(examples) == 3 and len(servers) == 3
    assert len({s.trace_id for s in servers}) == 3  # one trace per request
    for example in examples:
        parent = by_id[example.parent_span_id]
        assert parent.name == "GET /" and parent.kind == "SERVER" and parent.trace_id == example.trace_id
        assert example.kind == "INTERNAL" and example.scope_name == "app"


def test_api_calls_inside_requests(receiver, service_name, otel_path, upstream, aiohttp_server):
    port, down_port = free_ports(2)
    downstream_service = service_name + "-down"
    app_dir = APPS_DIR / "api_app"
    env = agent_env(receiver, service_name, PYTHONPATH=otel_path, UPSTREAM_URL=upstream,
                    AIOHTTP_URL=aiohttp_server)
    down_env = agent_env(receiver, downstream_service, PYTHONPATH=otel_path)
    responses = {}
    with Server(gunicorn(port), env=env, cwd=app_dir, port=port) as server, \
            Server(gunicorn(down_port), env=down_env, cwd=app_dir, port=down_port):
        for path in ("/ids", "/work", "/decorated", "/error", "/contrib", "/log",
                     "/baggage?downstream=http://127.0.0.1:%d" % down_port):
            status, _, body = http_get(server.url + path)
            assert status == 200, (path, body)
            responses[path.split("?")[0]] = body
    spans = receiver.wait_for_spans(service=service_name, predicate=lambda s: len(
        [x for x in s if x.kind == "SERVER"]) >= 7)
    by_id = _by_id(spans)
    servers = {s.name: s for s in spans if s.kind == "SERVER"}

    def children(parent):
        return [s for s in spans if s.parent_span_id == parent.span_id]

    # trace.get_current_span() inside a request is the server span: valid ids, attributes land on it.
    ids = json.loads(responses["/ids"])
    server = servers["GET /ids"]
    assert (ids["trace_id"], ids["span_id"]) == (server.trace_id, server.span_id)
    assert ids["valid"] and ids["recording"] and ids["sampled"]
    assert server.attributes["app.read"] == "yes"

    # An API span is the server span's child, and the parent of a requests call and a query.
    (work,) = [s for s in spans if s.name == "work"]
    assert by_id[work.parent_span_id] is servers["GET /work"]
    assert work.scope_name == "api_app" and work.scope_version == "2.0"
    assert work.attributes["app.step"] == "work" and [e.name for e in work.events] == ["done"]
    kinds = sorted((s.kind, s.scope_name) for s in children(work) if s.scope_name.startswith("otel_autoinstrument"))
    assert kinds == [("CLIENT", "otel_autoinstrument.requests"), ("CLIENT", "otel_autoinstrument.sqlalchemy")]

    # The decorator form, and an exception recorded on the API span it escaped from.
    (decorated,) = [s for s in spans if s.name == "decorated"]
    assert by_id[decorated.parent_span_id] is servers["GET /decorated"]
    assert decorated.attributes["app.decorated"] is True
    (failing,) = [s for s in spans if s.name == "failing"]
    assert failing.status_code == "ERROR" and failing.status_message == "ValueError: boom"
    assert [e.attributes["exception.type"] for e in failing.events] == ["ValueError"]
    assert servers["GET /error"].status_code == "UNSET"

    # Contrib instrumentations (no built-in for sqlite3 nor aiohttp) in the request's trace,
    # with the agent's redaction applied to what they record.
    contrib = servers["GET /contrib"]
    assert json.loads(responses["/contrib"]) == {"value": 42, "text": "hi"}
    in_trace = [s for s in spans if s.trace_id == contrib.trace_id and s is not contrib]
    scopes = {s.scope_name: s for s in in_trace}
    sqlite = scopes["opentelemetry.instrumentation.sqlite3"]
    aiohttp = scopes["opentelemetry.instrumentation.aiohttp_client"]
    assert sqlite.parent_span_id == contrib.span_id and sqlite.kind == "CLIENT"
    assert aiohttp.parent_span_id == contrib.span_id and aiohttp.kind == "CLIENT"
    assert aiohttp.attributes["http.response.status_code"] == 200
    assert "secret-token" not in json.dumps(aiohttp.attributes)
    assert aiohttp.attributes["url.full"].endswith("/hello?token=[REDACTED:url_query]")  # the export-thread rule

    # Baggage set through the API reaches the downstream service (the agent's propagator).
    assert responses["/baggage"] == b"acme"
    down = receiver.wait_for_spans(service=downstream_service, predicate=lambda s: any(
        x.name == "GET /downstream" for x in s))
    (down_server,) = [s for s in down if s.name == "GET /downstream"]
    assert down_server.attributes["app.tenant"] == "acme"
    (client,) = [s for s in spans if s.span_id == down_server.parent_span_id]
    assert by_id[client.parent_span_id] is servers["GET /baggage"]

    # The logs API goes to the agent's log pipeline, with the request's ids.
    logs = receiver.wait_for_logs(service=service_name, predicate=lambda r: any(x.body == "stock low" for x in r))
    (record,) = [r for r in logs if r.body == "stock low"]
    assert record.scope_name == "api_app.events" and record.severity_text == "WARN"
    assert record.attributes["item"] == "widget"
    assert (record.trace_id, record.span_id) == (servers["GET /log"].trace_id, servers["GET /log"].span_id)


def test_an_app_that_sets_up_the_sdk_and_instruments_by_hand(receiver, service_name, otel_path, upstream):
    """One server span, one client span: the official Flask and requests instrumentations
    the app calls are no-ops next to the built-ins; its SDK provider and console exporter
    are not used (said once); nothing raises."""
    port = free_port()
    env = agent_env(receiver, service_name, PYTHONPATH=otel_path, UPSTREAM_URL=upstream, OTEL_LOG_LEVEL="info")
    server = Server(gunicorn(port), env=env, cwd=APPS_DIR / "api_sdk_app", port=port)
    with server:
        for _ in range(2):
            status, _, body = http_get(server.url + "/")
            assert (status, body) == (200, b"ok")
    spans = receiver.wait_for_spans(count=6, service=service_name)
    assert sorted((s.kind, s.name) for s in spans) == [("CLIENT", "GET")] * 2 + [("INTERNAL", "fetch")] * 2 + [
        ("SERVER", "GET /")] * 2
    assert {s.scope_name for s in spans if s.kind != "INTERNAL"} == {
        "otel_autoinstrument.flask", "otel_autoinstrument.requests"}
    out, err = server.output()
    assert "Traceback" not in err and "STRICT" not in err, err
    assert '"name": "fetch"' not in out  # the app's ConsoleSpanExporter received nothing
    assert "BatchSpanProcessor(ConsoleSpanExporter) to the global tracer provider" in err
    assert err.count("FlaskInstrumentor.instrument_app() ignored") == 1
    assert "RequestsInstrumentor._instrument() ignored" in err
    assert "Overriding of current TracerProvider is not allowed" in err  # the API's own warning


def test_contrib_packages_load_only_with_their_library(receiver, service_name, otel_path):
    env = agent_env(receiver, service_name, PYTHONPATH=otel_path)
    result = run(otel_run(PYTHON, SCRIPTS / "api_contrib_lazy.py"), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["at_start"] == []  # no API, bridge, contrib package or importlib.metadata
    assert seen["after_sqlite3"] == ["opentelemetry.instrumentation.sqlite3"]
    spans = receiver.wait_for_spans(count=2, service=service_name)
    (step,) = [s for s in spans if s.name == "step"]
    (query,) = [s for s in spans if s is not step]
    assert query.parent_span_id == step.span_id and query.attributes["db.system.name"] == "sqlite"


def test_disabled_contrib_packages_stay_unloaded(receiver, service_name, otel_path):
    env = agent_env(receiver, service_name, PYTHONPATH=otel_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="sqlite3")
    result = run(otel_run(PYTHON, SCRIPTS / "api_contrib_lazy.py"), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["after_sqlite3"] == []
    assert [s.name for s in receiver.wait_for_spans(count=1, service=service_name)] == ["step"]


def test_info_shows_the_api_and_every_contrib_package(otel_path):
    env = agent_env(PYTHONPATH=otel_path)
    result = run(otel_run("--info", "--json", "--", PYTHON, "-c", "pass"), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    api = report["opentelemetry_api"]
    assert api["version"].startswith("1.45.") and api["status"] == "bridge"
    contrib = {row["name"]: row for row in api["contrib"]}
    assert contrib["sqlite3"]["status"] == "will_load" and contrib["sqlite3"]["modules"] == ["sqlite3"]
    assert contrib["aiohttp-client"]["status"] == "will_load" and contrib["aiohttp-client"]["modules"] == ["aiohttp"]
    assert contrib["flask"]["status"] == "skipped" and "own flask instrumentor" in contrib["flask"]["detail"]
    assert contrib["requests"]["status"] == "skipped"
    text = run(otel_run("--info", "--", PYTHON, "-c", "pass"), env=env, timeout=60).stdout
    assert "OpenTelemetry API:" in text and "opentelemetry-api " + api["version"] in text
    assert "sqlite3" in text and "skipped: the agent's own requests instrumentor traces requests" in text


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_supported_api_versions(receiver, service_name, which):
    """The whole tracing API surface on the oldest opentelemetry-api the agent supports
    and on the newest."""
    requirement = {"oldest": "opentelemetry-api==1.20.0", "newest": "opentelemetry-api==1.45.3"}[which]
    path = str(package_cache("otel-api-" + which, [requirement]))
    env = agent_env(receiver, service_name, PYTHONPATH=path)
    result = run(otel_run(PYTHON, SCRIPTS / "api_surface.py"), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["api_version"] == requirement.split("==")[1]
    assert {k: v for k, v in seen.items() if k not in ("api_version", "injected")} == {
        "current_is_root": True, "recording": True, "api_sees_native": True, "native_sees_client": True,
        "decorated": [True, True, True], "native_baggage": {"tenant": "acme"}, "baggage_header": "tenant=acme",
        "baggage_after_detach": {}, "extracted_baggage": {"region": "eu"}, "foreign_span_kept": True,
        "suppressed_native": True, "suppressed_after": False, "outside": True}
    spans = receiver.wait_for_spans(count=14, service=service_name)
    named = {s.name: s for s in spans}
    root = named["root-renamed"]
    assert root.kind == "SERVER" and root.status_code == "OK"
    assert root.attributes == {"a.int": 1, "a.str": "s", "a.list": [1, 2]}
    assert [e.name for e in root.events] == ["checkpoint"]
    assert [(l.span_id, l.attributes) for l in root.links] == [(named["linked-target"].span_id, {"link.attr": "x"})]
    assert root.scope_name == "surface" and root.scope_version == "3.1"
    assert root.schema_url == "https://opentelemetry.io/schemas/1.21.0"
    if which == "newest":
        assert root.scope_attributes == {"scope.attr": "yes"}
    assert named["native-child"].parent_span_id == root.span_id
    assert named["native-child"].attributes == {"set.through.api": True}
    client = named["client"]
    assert client.kind == "CLIENT" and client.parent_span_id == root.span_id
    assert seen["injected"] == "00-%s-%s-01" % (client.trace_id, client.span_id)
    assert named["raises"].status_code == "ERROR" and named["raises"].events[0].name == "exception"
    quiet = named["raises-quietly"]
    assert quiet.status_code == "UNSET" and quiet.events == []
    manual = named["manual-record"]
    assert manual.status_message == "by hand" and manual.events[0].attributes["exception.type"] == "RuntimeError"
    assert named["child-of-remote"].trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert named["child-of-remote"].parent_span_id == "00f067aa0ba902b7"
    handmade = named["child-of-handmade"]
    assert handmade.trace_id == "%032x" % 0x1234 and handmade.parent_span_id == "%016x" % 0x5678
    assert named["native-grandchild"].parent_span_id == handmade.span_id


def test_sampled_out_spans_are_non_recording_with_valid_contexts(receiver, service_name, otel_path):
    env = agent_env(receiver, service_name, PYTHONPATH=otel_path, OTEL_TRACES_SAMPLER="always_off")
    code = ("import json\nfrom opentelemetry import trace, propagate\n"
            "tracer = trace.get_tracer('sampled')\n"
            "with tracer.start_as_current_span('dropped') as span:\n"
            "    headers = {}\n    propagate.inject(headers)\n"
            "    ctx = span.get_span_context()\n"
            "    print(json.dumps([span.is_recording(), ctx.is_valid, ctx.trace_flags.sampled,\n"
            "                      isinstance(span, trace.NonRecordingSpan), trace.get_current_span() is span,\n"
            "                      headers['traceparent'].endswith('-00')]))\n")
    result = run(otel_run(PYTHON, "-c", code), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, True, False, True, True, True]


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_the_metrics_api_is_served_by_the_core(receiver, service_name, which):
    """Counters, up-down counters, histograms (advice), gauges, observable instruments
    (plain and generator callbacks) of the metrics API go out with the agent's metrics,
    under the meter's scope, with exemplars of the API span they were recorded in."""
    requirement = {"oldest": "opentelemetry-api==1.20.0", "newest": "opentelemetry-api==1.45.3"}[which]
    path = str(package_cache("otel-api-" + which, [requirement]))
    env = agent_env(receiver, service_name, PYTHONPATH=path)
    result = run(otel_run(PYTHON, SCRIPTS / "api_metrics.py"), env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["meter_provider"] == "otel_autoinstrument.bridge.metrics"
    points = receiver.wait_for_metric_points(lambda found: any(p.metric == "shop.orders" for p in found),
                                             service=service_name)
    shop = {}
    for point in points:
        if point.scope_name == "shop":
            shop.setdefault(point.metric, []).append(point)
    assert {p.attributes["shop.payment"]: p.value for p in shop["shop.orders"]} == {"card": 2, "cash": 1}
    assert all(p.monotonic and p.temporality == "cumulative" for p in shop["shop.orders"])
    assert [p.value for p in shop["shop.basket.items"]] == [3]
    (latency,) = shop["shop.checkout.duration"]
    assert (latency.count, latency.sum) == (2, 2.25)
    # The bridge's meter takes the advisory boundaries whatever the API's version.
    assert seen["advisory"] is True and latency.bounds == [0.1, 1.0]
    assert {(e.trace_id, e.span_id) for e in latency.exemplars} == {tuple(seen["span"])}
    assert {p.attributes["shop.item"]: p.value for p in shop["shop.stock"]} == {"apple": 7, "pear": 3}
    assert [p.value for p in shop["shop.visits"]] == [42] and [p.value for p in shop["shop.uptime"]] == [12.5]
    assert seen["gauge"] is seen["create_gauge"] is (which == "newest")  # the synchronous gauge came with API 1.23
    assert seen["meters_by_scope"]
    if which == "newest":
        assert [(p.attributes, p.value) for p in shop["shop.temperature"]] == [({"room": "store"}, 21.5)]
    else:
        assert "shop.temperature" not in shop
    message = next(m for m in receiver.messages("/v1/metrics")
                   if any(sm.scope.name == "shop" for rm in m.resource_metrics for sm in rm.scope_metrics))
    (scope_metrics,) = [sm for rm in message.resource_metrics for sm in rm.scope_metrics if sm.scope.name == "shop"]
    assert scope_metrics.scope.version == "2.0"
    assert {a.key: a.value.string_value for a in scope_metrics.scope.attributes} == {"scope.attr": "yes"}
    assert scope_metrics.schema_url == "https://opentelemetry.io/schemas/1.21.0"


def test_with_metrics_off_the_metrics_api_still_keeps_its_meters_apart(receiver, service_name):
    """OTEL_METRICS_EXPORTER=none: every scope shares the core's one no-op meter, yet the
    API's meters keep their own names and versions, and nothing raises."""
    path = str(package_cache("otel-api-newest", ["opentelemetry-api==1.45.3"]))
    env = agent_env(receiver, service_name, PYTHONPATH=path, OTEL_METRICS_EXPORTER="none")
    result = run(otel_run(PYTHON, SCRIPTS / "api_metrics.py"), env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["meters_by_scope"] and seen["gauge"]
    receiver.wait_for_spans(count=1, service=service_name)  # the script's span: it has exported
    assert receiver.metric_points(service=service_name) == []

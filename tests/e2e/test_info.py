"""`otel-run --info`: run for real in a subprocess, against real endpoints and plugins.

The plugins come from tests/plugins/info_plugins, a folder laid out like a
`pip install --target` (modules plus *.dist-info with entry points): on PYTHONPATH it
registers one instrumentor per status --info reports.
"""

import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

import pytest
import trustme

from support.agent import agent_env, otel_run
from support.processes import TESTS_DIR, free_port, run

PLUGINS = TESTS_DIR / "plugins" / "info_plugins"
HEADER_SECRET = "sekret-token-8c1f"
URL_PASSWORD = "pa55-word-77d2"
API_KEY = "apikey-4c0ffee"


def info(env, *args):
    """Run `otel-run --info ARGS` -> (text output, exit status)."""
    result = run(otel_run("--info", *args), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


def info_json(env, *args):
    out, _ = info(env, "--json", *args)
    return json.loads(out)  # one JSON document, nothing else on stdout


def warning_codes(report):
    return {w["code"] for w in report["warnings"]}


@pytest.fixture
def plugin_env(receiver, tmp_path):
    return agent_env(receiver, "info-test", PYTHONPATH=str(PLUGINS),
                     OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="info-disabled",
                     INFO_IMPORT_MARKER=str(tmp_path / "imported"))


def test_instrumentor_statuses_without_importing_libraries(plugin_env, tmp_path):
    report = info_json(plugin_env)
    rows = {r["name"]: r for r in report["instrumentors"]}
    flask_version = version("flask")

    assert rows["info-flask"]["status"] == "will_patch"
    assert rows["info-flask"]["installed"] == {"flask": flask_version}
    assert rows["info-missing"]["status"] == "not_installed"
    assert "surely-not-installed-lib" in rows["info-missing"]["detail"]
    too_old = rows["info-too-old"]
    assert too_old["status"] == "unsupported_version"
    assert flask_version in too_old["detail"] and ">= 1.0, < 2.0" in too_old["detail"]
    assert rows["info-disabled"]["status"] == "disabled"
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS" in rows["info-disabled"]["detail"]
    assert rows["info-broken"]["status"] == "failed"
    assert "ImportError" in rows["info-broken"]["detail"]
    assert "a dependency of the plugin is missing" in rows["info-broken"]["detail"]
    # Decided from metadata and import specs: the library itself was never imported.
    assert rows["info-watched"]["status"] == "will_patch"
    assert rows["info-alternative"]["status"] == "will_patch"  # one of its distributions is installed
    assert rows["info-watched"]["installed"] == {"info-watched-lib": "2.1"}
    assert not (tmp_path / "imported").exists()

    text, _ = info(plugin_env)
    lines = {line.split()[0]: line for line in text.splitlines()[1:] if line.startswith("  info-")}
    assert "will patch on import of flask" in lines["info-flask"]
    assert "library not installed" in lines["info-missing"]
    assert "version not supported" in lines["info-too-old"]
    assert "disabled by configuration" in lines["info-disabled"]
    assert "failed to load" in lines["info-broken"]


def test_report_contents_and_endpoint_check_against_the_receiver(receiver):
    env = agent_env(receiver, None, OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=staging",
                    OTEL_TRACES_SAMPLER="traceidratio", OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
    before = len(receiver.requests)
    report = info_json(env, "--service-name", "checkout")

    assert report["agent"]["version"] == version("otel-autoinstrument")
    config = {r["name"]: r for r in report["configuration"]}
    assert config["OTEL_SERVICE_NAME"] == {"name": "OTEL_SERVICE_NAME", "value": "checkout",
                                           "source": "command line"}
    assert config["OTEL_TRACES_SAMPLER"]["source"] == "environment"
    assert config["OTEL_BSP_MAX_QUEUE_SIZE"] == {"name": "OTEL_BSP_MAX_QUEUE_SIZE", "value": "262144",
                                                 "source": "default"}
    assert report["resource"]["service.name"] == "checkout"
    assert report["resource"]["deployment.environment.name"] == "staging"
    assert report["exporters"]["traces"]["otlp"]["endpoint"] == receiver.url + "/v1/traces"
    assert report["exporters"]["logs"]["otlp"]["protocol"] == "http/json"

    checks = {c["signal"]: c for c in report["endpoint_checks"]}
    assert set(checks) == {"traces", "logs", "metrics"}
    for signal, check in checks.items():
        assert (check["ok"], check["reachable"], check["http_status"]) == (True, True, 200), check
        assert check["endpoint"] == "%s/v1/%s" % (receiver.url, signal)
    paths = sorted(r.path for r in receiver.requests[before:])
    assert paths == ["/v1/logs", "/v1/metrics", "/v1/traces"]
    assert report["warnings"] == []

    text, _ = info(env)
    assert "OK    %s/v1/traces" % receiver.url in text
    assert "OTEL_TRACES_SAMPLER" in text and "[environment]" in text


def test_secrets_never_appear(receiver):
    url = receiver.url.replace("http://", "http://collector:%s@" % URL_PASSWORD)
    env = agent_env(None, "info-secrets",
                    OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%%20%s,x-api-key=%s" % (HEADER_SECRET, API_KEY),
                    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=url + "/v1/traces?token=" + API_KEY,
                    OTEL_EXPORTER_OTLP_ENDPOINT=url)
    text, err = info(env)
    raw_json, err_json = info(env, "--json")
    for output in (text, err, raw_json, err_json):
        for secret in (HEADER_SECRET, URL_PASSWORD, API_KEY):
            assert secret not in output
    report = json.loads(raw_json)
    assert report["exporters"]["logs"]["otlp"]["headers"] == {"authorization": "***", "x-api-key": "***"}
    assert "authorization=***" in text
    # The checks still ran with the real credentials and reached the receiver.
    assert [c["http_status"] for c in report["endpoint_checks"]] == [200, 200, 200]


def test_closed_port_is_diagnosed():
    port = free_port()
    env = agent_env(None, "info-closed", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % port,
                    OTEL_LOGS_EXPORTER="none", OTEL_METRICS_EXPORTER="none")
    report = info_json(env)
    (check,) = report["endpoint_checks"]
    assert check["signal"] == "traces"
    assert (check["ok"], check["reachable"], check["http_status"]) == (False, False, None)
    assert "nothing listens on 127.0.0.1:%d" % port in check["diagnosis"]
    assert "collector running" in check["diagnosis"] and "4318" in check["diagnosis"]
    text, _ = info(env)
    assert "FAIL  http://127.0.0.1:%d/v1/traces" % port in text


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client hanging up on a certificate it does not trust is expected here


@pytest.fixture
def tls_endpoint(tmp_path):
    """An OTLP-ish HTTPS server on 127.0.0.1 with a certificate from its own CA."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = _QuietServer(("127.0.0.1", 0), _Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    right, wrong = tmp_path / "right-ca.pem", tmp_path / "wrong-ca.pem"
    ca.cert_pem.write_to_path(str(right))
    trustme.CA().cert_pem.write_to_path(str(wrong))
    try:
        yield "https://127.0.0.1:%d" % server.server_address[1], right, wrong
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_tls_endpoint_with_wrong_and_right_ca(tls_endpoint):
    url, right, wrong = tls_endpoint
    base = dict(OTEL_EXPORTER_OTLP_ENDPOINT=url, OTEL_LOGS_EXPORTER="none", OTEL_METRICS_EXPORTER="none")

    (check,) = info_json(agent_env(None, "info-tls", OTEL_EXPORTER_OTLP_CERTIFICATE=wrong, **base))["endpoint_checks"]
    assert (check["ok"], check["reachable"], check["tls"]) == (False, True, "failed"), check
    assert "certificate verification failed" in check["diagnosis"]
    assert "OTEL_EXPORTER_OTLP_CERTIFICATE=%s" % wrong in check["diagnosis"]

    (check,) = info_json(agent_env(None, "info-tls", OTEL_EXPORTER_OTLP_CERTIFICATE=right, **base))["endpoint_checks"]
    assert (check["ok"], check["tls"], check["http_status"]) == (True, "ok", 200), check


def test_traps_sitecustomize_and_python_flags(receiver, tmp_path):
    own = tmp_path / "site"
    own.mkdir()
    (own / "sitecustomize.py").write_text("APP_CUSTOMIZED = True\n")
    env = agent_env(receiver, "info-traps", PYTHONPATH=str(own))
    report = info_json(env, "--", "python", "-I", "app.py")
    notes = {w["code"]: w for w in report["warnings"]}
    assert str(own / "sitecustomize.py") in notes["sitecustomize"]["message"]
    assert "chained" in notes["sitecustomize"]["message"]
    assert notes["python-flags"]["level"] == "warning" and "-I" in notes["python-flags"]["message"]
    assert report["command"]["kind"] == "python"


def test_trap_uwsgi_without_threads(receiver):
    env = agent_env(receiver, "info-uwsgi")
    report = info_json(env, "--", "uwsgi", "--http", ":8000", "--module", "app:app")
    (trap,) = [w for w in report["warnings"] if w["code"] == "uwsgi-threads"]
    assert "--enable-threads" in trap["message"] and "--lazy-apps is not needed" in trap["message"]

    report = info_json(env, "--", "uwsgi", "--http", ":8000", "--enable-threads", "--module", "app:app")
    assert "uwsgi-threads" not in warning_codes(report)


def test_trap_other_python_and_no_exporter(tmp_path):
    other = tmp_path / "other-venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(other)], timeout=60)
    script = tmp_path / "tool"
    script.write_text("#!%s\nprint('hi')\n" % (other / "bin" / "python"))
    script.chmod(0o755)
    env = agent_env(None, "info-other", OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
                    OTEL_METRICS_EXPORTER="none")

    report = info_json(env, "--", str(script))
    assert report["command"]["kind"] == "script"
    assert report["command"]["python_info"]["prefix"] == os.path.realpath(str(other))
    (mismatch,) = [w for w in report["warnings"] if w["code"] == "python-mismatch"]
    assert str(other) in mismatch["message"] and sys.prefix in mismatch["message"]
    assert "no-exporter" in warning_codes(report)
    assert report["endpoint_checks"] == []

    # The same Python as the agent's (a console script of this venv): no such warning.
    gunicorn = Path(sys.executable).parent / "gunicorn"
    report = info_json(agent_env(None, "info-same"), "--", "gunicorn", "--no-control-socket", "app:app")
    assert report["command"]["executable"] == str(gunicorn)
    assert report["command"]["kind"] == "script"
    assert not warning_codes(report) & {"python-mismatch", "python-other", "python-unknown"}


def test_other_python_with_the_agent_is_inspected_from_inside(receiver, tmp_path):
    """A command run by another Python that has the agent too: --info asks that Python."""
    import sysconfig

    other = tmp_path / "sibling-venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(other)], timeout=60)
    purelib = run([str(other / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  timeout=30).stdout.strip()
    # This venv sees ours through a .pth line, as an environment sharing installed packages would.
    Path(purelib, "share_agent.pth").write_text(
        "import site; site.addsitedir(%r)\n" % sysconfig.get_paths()["purelib"])
    env = agent_env(receiver, "info-sibling", PYTHONPATH=str(PLUGINS))

    report = info_json(env, "--", str(other / "bin" / "python"), "app.py")
    assert report["inspected_python"]["prefix"] == os.path.realpath(str(other))
    (note,) = [w for w in report["warnings"] if w["code"] == "python-other"]
    assert note["level"] == "note" and str(other) in note["message"]
    rows = {r["name"]: r["status"] for r in report["instrumentors"]}
    assert rows["info-flask"] == "will_patch" and rows["info-missing"] == "not_installed"
    assert report["resource"]["process.executable.path"].startswith(str(other))

"""Encrypted and authenticated export, end to end, against a real TLS OTLP receiver.

The receiver (``support.tls_receiver``) serves https://127.0.0.1 with certificates
made in the test by ``trustme``: a CA, a server certificate for 127.0.0.1 and a client
certificate. A script that makes one span and one log record runs under ``otel-run``:

* the right CA: both arrive; the system trust store alone, or another CA: the handshake
  is refused, and the agent says so in ONE error line;
* a receiver requiring client certificates: the configured client certificate
  satisfies it; none: one error line naming the client-certificate variables;
* a missing or unusable file: one error naming the variable and the path, per-signal
  variables taking precedence over the generic ones;
* a bearer header (percent-decoded) reaches the receiver; a 401 is reported naming
  the endpoint, while header values and URL credentials appear nowhere in the
  agent's output (also with OTEL_LOG_LEVEL=debug, and in ``otel-run --info``).

In every failing case the program's stdout, its own stderr lines and its exit status
are those of a run without the agent, and nothing reaches the receiver.
"""

import json

import pytest

from support.agent import agent_env, otel_run
from support.processes import TESTS_DIR, run
from support.receiver import Receiver
from support.tls_receiver import Certificates, TlsReceiver

SCRIPT = TESTS_DIR / "scripts" / "security_export.py"
EXIT_STATUS = 3
TOKEN = "s3cr3t-t0ken-4711"
URL_PASSWORD = "pw-9b1e77c2"
QUERY_KEY = "qk-55f0d1aa"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory):
    """A second CA that signed nothing the receiver presents."""
    return Certificates(tmp_path_factory.mktemp("other-certs"))


@pytest.fixture(scope="module")
def uninstrumented():
    """The script's behaviour without the agent: what every run must reproduce."""
    result = run(["python", SCRIPT, EXIT_STATUS], env=agent_env())
    assert result.returncode == EXIT_STATUS and result.stdout == "done\n", result
    return result


def run_script(env):
    return run(otel_run("python", SCRIPT, EXIT_STATUS), env=env, timeout=30)


def agent_lines(stderr, level=None):
    prefix = "otel-autoinstrument" + (" " + level if level else "")
    return [line for line in stderr.splitlines() if line.startswith(prefix)]


def app_lines(stderr):
    return [line for line in stderr.splitlines() if not line.startswith("otel-autoinstrument")]


def assert_app_unchanged(result, uninstrumented):
    assert result.returncode == uninstrumented.returncode, result.stderr
    assert result.stdout == uninstrumented.stdout
    assert app_lines(result.stderr) == app_lines(uninstrumented.stderr)


def assert_nothing_exported(receiver, result):
    assert receiver.spans() == [] and receiver.logs() == []
    summaries = agent_lines(result.stderr, "WARNING")
    assert any("traces" in line and "dropped 1" in line for line in summaries), result.stderr
    assert any("logs" in line and "dropped 1" in line for line in summaries), result.stderr


def the_error(result):
    errors = agent_lines(result.stderr, "ERROR")
    assert len(errors) == 1, result.stderr
    return errors[0]


def tls_env(receiver, service, **overrides):
    return agent_env(receiver, service, **overrides)


# --- server verification ------------------------------------------------------------------

def test_export_over_tls_with_the_right_ca(certs, uninstrumented, service_name):
    with TlsReceiver(certs) as receiver:
        result = run_script(tls_env(receiver, service_name, OTEL_EXPORTER_OTLP_CERTIFICATE=certs.ca))
        assert_app_unchanged(result, uninstrumented)
        (span,) = receiver.wait_for_spans(count=1, service=service_name)
        (record,) = receiver.wait_for_logs(count=1, service=service_name)
        assert span.name == "checkout" and record.body == "checkout done"
        assert record.trace_id == span.trace_id
        assert agent_lines(result.stderr, "ERROR") == [] and receiver.tls_errors == []


@pytest.mark.parametrize("trust", ["other CA", "system trust store"])
def test_an_untrusted_server_certificate_fails_cleanly(certs, other_certs, uninstrumented, service_name, trust):
    overrides = {"OTEL_EXPORTER_OTLP_CERTIFICATE": other_certs.ca} if trust == "other CA" else {}
    with TlsReceiver(certs) as receiver:
        result = run_script(tls_env(receiver, service_name, **overrides))
        assert_app_unchanged(result, uninstrumented)
        assert_nothing_exported(receiver, result)
        assert receiver.tls_errors  # the handshake was attempted, and refused by the agent
        error = the_error(result)
        assert "TLS with %s failed: certificate verify failed" % receiver.url in error
        if trust == "other CA":
            assert "OTEL_EXPORTER_OTLP_CERTIFICATE=%s" % other_certs.ca in error
        else:
            assert "set OTEL_EXPORTER_OTLP_CERTIFICATE" in error


# --- mutual TLS ------------------------------------------------------------------------------

def test_mutual_tls_required_and_satisfied(certs, uninstrumented, service_name):
    with TlsReceiver(certs, require_client_cert=True) as receiver:
        result = run_script(tls_env(receiver, service_name, OTEL_EXPORTER_OTLP_CERTIFICATE=certs.ca,
                                    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=certs.client_cert,
                                    OTEL_EXPORTER_OTLP_CLIENT_KEY=certs.client_key))
        assert_app_unchanged(result, uninstrumented)
        receiver.wait_for_spans(count=1, service=service_name)
        receiver.wait_for_logs(count=1, service=service_name)
        assert agent_lines(result.stderr, "ERROR") == [] and receiver.tls_errors == []


def test_mutual_tls_required_without_a_client_certificate_fails_cleanly(certs, uninstrumented, service_name):
    with TlsReceiver(certs, require_client_cert=True) as receiver:
        result = run_script(tls_env(receiver, service_name, OTEL_EXPORTER_OTLP_CERTIFICATE=certs.ca))
        assert_app_unchanged(result, uninstrumented)
        assert_nothing_exported(receiver, result)
        assert any("certificate" in e.lower() for e in receiver.tls_errors), receiver.tls_errors
        error = the_error(result)
        assert "TLS with %s failed" % receiver.url in error
        assert "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY" in error


# --- files that are missing or unusable -------------------------------------------------------

def test_a_missing_file_is_one_error_naming_the_variable_and_path(certs, uninstrumented, service_name, tmp_path):
    missing = tmp_path / "no-such-ca.pem"
    with TlsReceiver(certs) as receiver:
        result = run_script(tls_env(receiver, service_name, OTEL_EXPORTER_OTLP_CERTIFICATE=missing))
        assert_app_unchanged(result, uninstrumented)
        assert_nothing_exported(receiver, result)
        error = the_error(result)
        assert "OTEL_EXPORTER_OTLP_CERTIFICATE=%s: file missing or unreadable" % missing in error
        assert receiver.requests == [] and receiver.tls_errors == []  # nothing was even tried


def test_per_signal_files_take_precedence_and_a_bad_key_disables_only_that_signal(
        certs, uninstrumented, service_name, tmp_path):
    garbage = tmp_path / "not-a-key.pem"
    garbage.write_text("this is not PEM\n")
    with TlsReceiver(certs, require_client_cert=True) as receiver:
        result = run_script(tls_env(
            receiver, service_name,
            OTEL_EXPORTER_OTLP_CERTIFICATE=certs.ca,
            # The generic pair is wrong on purpose: each signal's own pair must be used.
            OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=tmp_path / "unused-cert.pem",
            OTEL_EXPORTER_OTLP_CLIENT_KEY=tmp_path / "unused-key.pem",
            OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE=certs.client_cert,
            OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY=certs.client_key,
            OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE=certs.client_cert,
            OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY=certs.client_key,
            OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE=certs.client_cert,
            OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=garbage))
        assert_app_unchanged(result, uninstrumented)
        receiver.wait_for_logs(count=1, service=service_name)  # logs: their own, valid pair
        assert receiver.spans() == []
        error = the_error(result)
        assert "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE=%s: cannot load" % certs.client_cert in error
        assert "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=%s" % garbage in error
        assert any("traces" in line and "exporter misconfigured" in line
                   for line in agent_lines(result.stderr, "WARNING")), result.stderr


# --- authentication headers and what is never printed -----------------------------------------

def test_bearer_header_is_sent_percent_decoded(certs, service_name):
    with TlsReceiver(certs) as receiver:
        run_script(tls_env(receiver, service_name, OTEL_EXPORTER_OTLP_CERTIFICATE=certs.ca,
                           OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%%20%s,X-Tenant=acme%%2Ceu" % TOKEN))
        receiver.wait_for_spans(count=1, service=service_name)
        for request in receiver.requests:
            assert request.headers["authorization"] == "Bearer " + TOKEN
            assert request.headers["x-tenant"] == "acme,eu"


def test_a_rejected_token_names_the_endpoint_but_no_secret(uninstrumented, service_name):
    receiver = Receiver().start()
    try:
        receiver.behave(status=401)
        base = receiver.url.replace("http://", "http://agent:%s@" % URL_PASSWORD)
        env = agent_env(None, service_name, OTEL_LOG_LEVEL="debug",
                        OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%%20%s" % TOKEN,
                        OTEL_EXPORTER_OTLP_ENDPOINT=base,
                        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="%s/v1/traces?api-key=%s" % (receiver.url, QUERY_KEY))
        result = run_script(env)
        assert_app_unchanged(result, uninstrumented)
        receiver.wait_for_requests(2)
        errors = agent_lines(result.stderr, "ERROR")
        assert len(errors) == 2, result.stderr  # one per endpoint
        assert any("127.0.0.1:%d/v1/traces answered HTTP 401" % receiver.port in e for e in errors)
        assert any("127.0.0.1:%d/v1/logs answered HTTP 401" % receiver.port in e for e in errors)
        assert all("OTEL_EXPORTER_OTLP_HEADERS" in e for e in errors)
        info_text = run(otel_run("--info"), env=env, timeout=30)
        info_json = run(otel_run("--info", "--json"), env=env, timeout=30)
        assert json.loads(info_json.stdout)["agent"]  # the report is whole (no key was masked)
        for output in (result.stdout, result.stderr, info_text.stdout, info_text.stderr,
                       info_json.stdout, info_json.stderr):
            for secret in (TOKEN, URL_PASSWORD, QUERY_KEY):
                assert secret not in output
    finally:
        receiver.stop()

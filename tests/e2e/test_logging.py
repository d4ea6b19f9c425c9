"""Logging under otel-run: records exported over OTLP with the active span's ids, and the
application's own logging output unchanged, byte for byte.

Programs run to completion (or servers are stopped) before the receiver is read: the
agent flushes at exit, so whatever was going to be exported has arrived.
"""

import collections
import os
import re

import pytest

from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, Server, base_env, free_port, http_get, run

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "scripts")
FLASK_APP = APPS_DIR / "flask_app"
DJANGO_PROJECT = APPS_DIR / "django_project"
ZERO_TRACE, ZERO_SPAN = "0" * 32, "0" * 16
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def script(name):
    return os.path.join(SCRIPTS, name)


def span_line(stdout):
    """(trace_id, span_id) from the script's "SPAN <trace> <span>" line."""
    (match,) = re.findall(r"^SPAN ([0-9a-f]{32}) ([0-9a-f]{16})$", stdout, re.M)
    return match


def by_body(records):
    counts = collections.Counter(str(r.body) for r in records)
    assert all(n == 1 for n in counts.values()), "exported more than once: %s" % counts
    return {str(r.body): r for r in records}


# --- a real request ---------------------------------------------------------------------


def gunicorn(port, app):
    return [os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "1", "-b", "127.0.0.1:%d" % port, app]


def test_flask_request_logs_carry_the_request_span(receiver, service_name):
    port = free_port()
    env = agent_env(receiver, service_name)
    with Server(otel_run(*gunicorn(port, "app:app")), env=env, cwd=FLASK_APP, port=port) as server:
        assert http_get(server.url + "/log")[0] == 200
        assert http_get(server.url + "/error")[0] == 500
    records = by_body(receiver.wait_for_logs(service=service_name, predicate=lambda rs: len(rs) >= 3))
    spans = receiver.spans(service=service_name)
    (log_span,) = [s for s in spans if s.kind == "SERVER" and s.attributes.get("url.path") == "/log"]
    (error_span,) = [s for s in spans if s.kind == "SERVER" and s.attributes.get("url.path") == "/error"]

    info, failed = records["handling log"], records["failed"]
    for record in (info, failed):
        assert (record.trace_id, record.span_id) == (log_span.trace_id, log_span.span_id)
        assert record.flags & 1 == 1
        assert record.scope_name == "shop"
        assert record.attributes["code.file.path"] == str(FLASK_APP / "app.py")
        assert record.attributes["code.function.name"] == "log"
        assert isinstance(record.attributes["code.line.number"], int)
        assert isinstance(record.attributes["thread.id"], int) and record.attributes["thread.name"]
        assert record.time_ns <= record.observed_time_ns
        assert log_span.resource["service.name"] == record.resource["service.name"] == service_name
    assert (info.severity_number, info.severity_text) == (9, "INFO")
    assert info.attributes["code.line.number"] < failed.attributes["code.line.number"]
    assert "exception.type" not in info.attributes
    assert (failed.severity_number, failed.severity_text) == (17, "ERROR")
    assert failed.attributes["exception.type"] == "ZeroDivisionError"
    assert failed.attributes["exception.message"] == "division by zero"
    assert "1 / 0" in failed.attributes["exception.stacktrace"]
    assert failed.attributes["exception.stacktrace"].endswith("ZeroDivisionError: division by zero")

    # Flask logs the unhandled exception itself: the request span is still current then.
    flask_error = records["Exception on /error [GET]"]
    assert (flask_error.trace_id, flask_error.span_id) == (error_span.trace_id, error_span.span_id)
    assert flask_error.attributes["exception.type"] == "RuntimeError"
    assert flask_error.scope_name == "app"


def test_django_not_found_warning_carries_the_request_span(receiver, service_name, tmp_path):
    db = str(tmp_path / "db.sqlite3")
    env = agent_env(receiver, service_name, APP_DB_PATH=db, DJANGO_SETTINGS_MODULE="mysite.settings")
    port = free_port()
    with Server(otel_run(*gunicorn(port, "mysite.wsgi")), env=env, cwd=DJANGO_PROJECT, port=port) as server:
        assert http_get(server.url + "/nope/")[0] == 404
    records = receiver.wait_for_logs(service=service_name, predicate=lambda rs: any(
        r.scope_name == "django.request" for r in rs))
    (record,) = [r for r in records if r.scope_name == "django.request"]
    (span,) = receiver.spans(service=service_name)
    # gunicorn's own error log does not propagate to the root logger: exported all the same.
    booting = [r for r in records if r.scope_name == "gunicorn.error" and "Booting worker" in r.body]
    assert len(booting) == 1 and booting[0].trace_id == ""
    assert record.body == "Not Found: /nope/"
    assert record.scope_name == "django.request"
    assert (record.severity_number, record.severity_text) == (13, "WARNING")
    assert (record.trace_id, record.span_id) == (span.trace_id, span.span_id)
    assert span.kind == "SERVER" and span.attributes["http.response.status_code"] == 404
    # Django's extra= values: an int as it is, the request object as its str().
    assert record.attributes["status_code"] == 404
    assert record.attributes["request"] == "<WSGIRequest: GET '/nope/'>"


# --- a script with a manual span ------------------------------------------------------------


def test_records_around_a_manual_span(receiver, service_name):
    result = run(otel_run("python", script("logging_manual.py")), env=agent_env(receiver, service_name))
    assert result.returncode == 0, result.stderr
    trace_id, span_id = span_line(result.stdout)
    (work,) = receiver.wait_for_spans(count=1, service=service_name)
    assert (work.trace_id, work.span_id) == (trace_id, span_id)
    records = by_body(receiver.logs(service=service_name))

    outside = records["outside any span"]
    assert (outside.trace_id, outside.span_id, outside.flags) == ("", "", 0)
    assert (outside.severity_number, outside.severity_text, outside.scope_name) == (9, "INFO", "script")

    inside = records["inside work"]
    assert (inside.trace_id, inside.span_id) == (trace_id, span_id)
    assert (inside.severity_number, inside.severity_text) == (13, "WARNING")
    assert inside.attributes["order_id"] == 42
    assert inside.attributes["customer"] == "customer #7"
    assert inside.attributes["paid"] is True
    assert inside.attributes["code.function.name"] == "<module>"
    assert inside.attributes["code.file.path"] == script("logging_manual.py")

    notice = records["custom notice"]
    assert (notice.severity_number, notice.severity_text) == (12, "NOTICE")  # level 25: INFO4

    failed = records["division failed"]
    assert (failed.trace_id, failed.span_id) == (trace_id, span_id)
    assert failed.attributes["exception.type"] == "ZeroDivisionError"
    assert "1 / 0" in failed.attributes["exception.stacktrace"]

    # A handler that logs from inside emit: each of its records exported once, no loop.
    audited = sorted(body for body in records if body.startswith("audited: "))
    assert audited == ["audited: custom notice", "audited: debug is below the export level",
                       "audited: division failed", "audited: inside work", "audited: outside any span"]
    assert records["audited: inside work"].span_id == span_id
    assert records["audited: inside work"].scope_name == "audit"

    assert "debug is below the export level" not in records  # OTEL_PYTHON_LOG_LEVEL defaults to info
    after = records["logged after dictConfig"]  # dictConfig replaced every handler
    assert after.scope_name == "after.config" and after.trace_id == ""
    assert "script logger was disabled by dictConfig" not in records  # not handled, not exported
    assert "after: logged after dictConfig" in result.stdout.splitlines()

    # The same ids in the plain-text log, through a %(otelTraceID)s format.
    lines = result.stdout.splitlines()
    assert ("WARNING trace=%s span=%s sampled=True service=%s inside work" % (trace_id, span_id, service_name)
            in lines)
    assert ("INFO trace=%s span=%s sampled=False service=%s outside any span" % (ZERO_TRACE, ZERO_SPAN, service_name)
            in lines)


def test_export_level_is_settable(receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_PYTHON_LOG_LEVEL="error")
    result = run(otel_run("python", script("logging_manual.py")), env=env)
    assert result.returncode == 0, result.stderr
    receiver.wait_for_spans(count=1, service=service_name)
    assert [str(r.body) for r in receiver.logs(service=service_name)] == ["division failed"]


def test_logs_exporter_none_exports_no_logs(receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_LOGS_EXPORTER="none")
    result = run(otel_run("python", script("logging_manual.py")), env=env)
    assert result.returncode == 0, result.stderr
    trace_id, _ = span_line(result.stdout)
    (work,) = receiver.wait_for_spans(count=1, service=service_name)  # traces still go out...
    assert work.trace_id == trace_id
    assert receiver.logs(service=service_name) == []  # ...logs do not (the process has exited)
    assert "WARNING trace=%s" % trace_id in result.stdout  # text correlation still works


def test_default_correlation_format_only_while_the_app_configures_nothing(receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_PYTHON_LOG_CORRELATION="true")
    result = run(otel_run("python", script("logging_correlation.py")), env=env)
    assert result.returncode == 0, result.stderr
    trace_id, span_id = span_line(result.stdout)
    before, after = result.stderr.split("--- basicConfig ---\n")
    outside, inside = before.splitlines()
    assert outside.endswith(" WARNING [corr] [logging_correlation.py:10] [trace_id=%s span_id=%s "
                            "resource.service.name=%s trace_sampled=False] - outside a span"
                            % (ZERO_TRACE, ZERO_SPAN, service_name))
    assert inside.endswith(" WARNING [corr] [logging_correlation.py:13] [trace_id=%s span_id=%s "
                           "resource.service.name=%s trace_sampled=True] - inside a span"
                           % (trace_id, span_id, service_name))
    assert after == "app: WARNING configured by the app\n"


# --- the application's output is unchanged --------------------------------------------------


@pytest.mark.parametrize("mode", ["lastresort", "basicconfig"])
def test_output_is_identical_to_an_uninstrumented_run(receiver, service_name, tmp_path, mode):
    plain_file, agent_file = tmp_path / "plain.log", tmp_path / "agent.log"
    plain = run([PYTHON, script("logging_output.py"), mode, plain_file], env=base_env())
    agent = run(otel_run("python", script("logging_output.py"), mode, agent_file),
                env=agent_env(receiver, service_name))
    assert plain.returncode == agent.returncode == 0, agent.stderr
    assert agent.stdout == plain.stdout
    assert agent.stderr == plain.stderr
    if mode == "basicconfig":
        assert agent_file.read_bytes() == plain_file.read_bytes() == b"WARNING app to the file and the console\n"
    bodies = {str(r.body) for r in receiver.wait_for_logs(service=service_name, count=1)}
    expected = {"lastresort": {"shown by lastResort", "lookup failed", "child error 3"},
                "basicconfig": {"before basicConfig", "after basicConfig", "to the file and the console",
                                "library message", "module-level warning"}}[mode]
    assert bodies == expected


def flask_debug_output(env, before_stop=lambda: None):
    port = free_port()
    command = [os.path.join(BIN, "flask"), "--app", "app", "run", "--debug", "--port", port]
    if "OTEL_EXPORTER_OTLP_ENDPOINT" in env:
        command = otel_run(*command)
    server = Server(command, env=env, cwd=FLASK_APP, port=port)
    with server:
        assert http_get(server.url + "/")[0] == 200
        assert http_get(server.url + "/log")[0] == 200
        assert http_get(server.url + "/nope")[0] == 404
        before_stop()  # the development server dies on SIGTERM without running atexit
    out, err = server.output()
    normalised = set()
    for line in (out + err).splitlines():
        line = re.sub(r"Debugger PIN: [\d-]+", "Debugger PIN: <pin>", line)
        line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", line)
        line = re.sub(r"\[\d\d/\w+/\d{4} \d\d:\d\d:\d\d\]", "[<time>]", line)
        normalised.add(line)
    return normalised


def test_flask_run_debug_prints_what_it_prints_uninstrumented(receiver, service_name):
    exported, spans = [], []

    def wait_for_the_requests_telemetry():  # werkzeug's access log, the app's records, the spans
        exported.extend(receiver.wait_for_logs(service=service_name, predicate=lambda rs: any(
            r.body == "failed" for r in rs) and any("GET /nope HTTP/1.1" in str(r.body) for r in rs)))
        spans.extend(receiver.wait_for_spans(service=service_name, predicate=lambda ss: any(
            s.attributes.get("url.path") == "/log" for s in ss)))

    plain = flask_debug_output(base_env())
    instrumented = flask_debug_output(agent_env(receiver, service_name), wait_for_the_requests_telemetry)
    assert instrumented == plain
    plain = {ANSI.sub("", line) for line in plain}  # werkzeug colours some lines
    for expected in (" * Debug mode: on", " * Running on http://127.0.0.1:<port>", " * Restarting with stat",
                     " * Debugger is active!", " * Debugger PIN: <pin>",
                     '127.0.0.1 - - [<time>] "GET / HTTP/1.1" 200 -',
                     '127.0.0.1 - - [<time>] "GET /nope HTTP/1.1" 404 -', "failed"):
        assert expected in plain, "%r not in %s" % (expected, sorted(plain))
    (failed,) = [r for r in exported if r.body == "failed"]
    (served,) = [s for s in spans if s.attributes.get("url.path") == "/log"]
    assert (failed.trace_id, failed.span_id) == (served.trace_id, served.span_id)


def test_the_agent_does_not_import_logging_itself(receiver, service_name):
    result = run(otel_run("python", "-c", "import sys; print('logging' in sys.modules)"),
                 env=agent_env(receiver, service_name))
    assert (result.returncode, result.stdout, result.stderr) == (0, "False\n", "")

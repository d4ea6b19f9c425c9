"""Isolation: whatever fails inside the agent or at the collector, the application's
output, responses and exit status are those of a run without the agent.

Faults: a receiver that answers 500, hangs, closes the connection or is absent; an
exporter that raises (the console exporter writing into a closed pipe); an
instrumentor whose patching raises and a wrapper that raises at every call (the
plugins in tests/plugins/fault_plugin). And the test mode: with
AUTOINSTRUMENT_STRICT=1 each of those swallowed errors is a failure instead.
"""

import os
import re
import subprocess
import time

import pytest

from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, TESTS_DIR, Server, base_env, free_port, free_ports, http_get, run

SCRIPTS = TESTS_DIR / "scripts"
FAULT_PLUGIN = TESTS_DIR / "plugins" / "fault_plugin"
EXIT_BOUND_MS = 1000


def app_lines(text):
    """The application's own lines: the agent's one-line messages taken out."""
    return [line for line in text.splitlines() if not line.startswith("otel-autoinstrument ")]


def plain(script, *args, **env):
    return run([PYTHON, SCRIPTS / script, *args], env=base_env(**env), timeout=60)


@pytest.fixture(scope="module")
def uninstrumented_exit_runs():
    return {mode: plain("reliability_exit.py", mode) for mode in ("normal", "sys.exit", "exception")}


FAULTS = {
    "500": dict(status=500),
    "hang": dict(hang_seconds=30),
    "close": dict(close_connection=True),
    "absent": None,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_receiver_changes_nothing_for_the_application(own_receiver, service_name, fault,
                                                                uninstrumented_exit_runs):
    if FAULTS[fault] is None:
        own_receiver.stop()
    else:
        own_receiver.behave(**FAULTS[fault])
    env = agent_env(own_receiver, service_name, OTEL_PYTHON_EXIT_TIMEOUT=EXIT_BOUND_MS)
    for mode, expected in uninstrumented_exit_runs.items():
        started = time.monotonic()
        result = run(otel_run("python", SCRIPTS / "reliability_exit.py", mode), env=env, timeout=60)
        elapsed = time.monotonic() - started
        assert result.returncode == expected.returncode, (mode, result.stderr)
        assert result.stdout == expected.stdout, mode
        assert app_lines(result.stderr) == app_lines(expected.stderr), (mode, result.stderr)
        # Nothing was delivered, and the agent said so, with the count and the reason.
        assert re.search(r"traces \(pid \d+\): created 6, exported 0, dropped 6", result.stderr), (mode, result.stderr)
        assert re.search(r"logs \(pid \d+\): created 1, exported 0, dropped 1", result.stderr), (mode, result.stderr)
        # The hanging receiver holds the connection 30 s; the process waits at most the
        # exit bound for it (1 s here, plus start-up).
        assert elapsed < 15, (mode, elapsed)
    assert not own_receiver.spans(service=service_name)


def test_an_exporter_that_raises_changes_nothing(service_name):
    """The console exporter writing into a closed pipe raises BrokenPipeError in the
    export thread: counted, reported once, and the application does not notice."""
    script = ("import sys, time\n"
              "from otel_autoinstrument import get_tracer\n"
              "tracer = get_tracer('faults')\n"
              "for i in range(5):\n"
              "    with tracer.start_as_current_span('s%d' % i):\n"
              "        pass\n"
              "time.sleep(0.3)\n"
              "sys.stderr.write('app done\\n')\n"
              "sys.exit(5)\n")
    results = []
    for command, env in ((otel_run("python", "-c", script),
                          agent_env(None, service_name, OTEL_TRACES_EXPORTER="console", OTEL_LOGS_EXPORTER="none",
                                    AUTOINSTRUMENT_STRICT="0")),
                         ([PYTHON, "-c", script.replace("from otel_autoinstrument import get_tracer\n", "")
                           .replace("tracer = get_tracer('faults')\n", "")
                           .replace("    with tracer.start_as_current_span('s%d' % i):\n        pass\n",
                                    "    pass\n")], base_env())):
        read_end, write_end = os.pipe()
        os.close(read_end)  # whoever writes to stdout gets EPIPE
        proc = subprocess.Popen([str(c) for c in command], env=env, stdin=subprocess.DEVNULL, stdout=write_end,
                                stderr=subprocess.PIPE, start_new_session=True)
        os.close(write_end)
        _, err = proc.communicate(timeout=60)
        results.append((proc.returncode, err.decode()))
    (traced_status, traced_err), (plain_status, plain_err) = results
    assert traced_status == plain_status == 5
    assert [line for line in app_lines(traced_err) if line == "app done"] == ["app done"]
    assert "created 5, exported 0, dropped 5: 5 export failed" in traced_err
    assert traced_err.count("internal error in exporting traces") == 1  # reported once, then counted
    assert app_lines(plain_err) == ["app done"]


def test_broken_plugins_are_contained(receiver, service_name):
    """fault-patch fails while patching (disabled, with one error naming it);
    fault-wrapper's start and finish raise at every call, yet the application gets
    its results and its own exception unchanged, and the spans still end."""
    expected = plain("reliability_faults_app.py", PYTHONPATH=FAULT_PLUGIN)
    env = agent_env(receiver, service_name, PYTHONPATH=FAULT_PLUGIN, AUTOINSTRUMENT_STRICT="0")
    result = run(otel_run("python", SCRIPTS / "reliability_faults_app.py"), env=env)
    assert (result.returncode, result.stdout) == (expected.returncode, expected.stdout) == (4, (
        "hello world\ncaught ValueError: the library's own error\n"))
    assert "instrumentor fault-patch disabled: instrumenting failed" in result.stderr
    # Each place failed twice: logged once with its traceback, the repeat counted and
    # summed up at exit.
    for place in ("fault-wrapper start", "fault-wrapper finish"):
        assert result.stderr.count("internal error in %s (the application is not affected)" % place) == 1
        assert result.stderr.count("internal error in %s happened 1 more time(s)" % place) == 1
    assert result.stderr.count("Traceback") == 2
    spans = receiver.wait_for_spans(count=2, service=service_name)
    assert sorted(s.name for s in spans) == ["fail", "greet"]


def test_strict_mode_turns_a_swallowed_error_into_a_failure(receiver, service_name):
    """The test suite's safety net: AUTOINSTRUMENT_STRICT=1 re-raises what production
    swallows, so a bug inside the agent (here: a plugin's) cannot hide in a test."""
    env = agent_env(receiver, service_name, PYTHONPATH=FAULT_PLUGIN)  # strict, as every test runs
    patching = run(otel_run("python", SCRIPTS / "reliability_faults_app.py"), env=env)
    assert patching.returncode == 1
    assert "STRICT: internal error in the import hook of fault_target" in patching.stderr
    assert "RuntimeError: fault-patch: patching failed on purpose" in patching.stderr
    env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "fault-patch"
    wrapping = run(otel_run("python", SCRIPTS / "reliability_faults_app.py"), env=env)
    assert wrapping.returncode == 1 and wrapping.stdout == ""
    assert "STRICT: internal error in fault-wrapper start" in wrapping.stderr
    assert "RuntimeError: fault-wrapper: start failed on purpose" in wrapping.stderr


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server.url


def gunicorn(port):
    return [os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "2", "-b", "127.0.0.1:%d" % port, "app:app"]


def test_a_web_app_answers_the_same_whatever_the_receiver_does(own_receiver, service_name, upstream):
    """One gunicorn server while its receiver answers 500, closes connections, hangs
    and goes away: every response is the uninstrumented one, and the server stops
    within the exit bound."""
    port, plain_port = free_ports(2)
    env = agent_env(own_receiver, service_name, UPSTREAM_URL=upstream, OTEL_EXPORTER_OTLP_TIMEOUT=500,
                    OTEL_BSP_EXPORT_TIMEOUT=1000, OTEL_BLRP_EXPORT_TIMEOUT=1000,
                    OTEL_PYTHON_EXIT_TIMEOUT=EXIT_BOUND_MS)
    plain_env = base_env(UPSTREAM_URL=upstream, PATH=BIN + os.pathsep + os.environ["PATH"])
    cwd = APPS_DIR / "reliability_app"
    with Server(gunicorn(plain_port), env=plain_env, cwd=cwd, port=plain_port) as reference, \
            Server(otel_run(*gunicorn(port)), env=env, cwd=cwd, port=port) as server:
        for fault in ("500", "close", "hang", "absent"):
            if FAULTS[fault] is None:
                own_receiver.stop()
            else:
                own_receiver.behave(**FAULTS[fault])
            for path in ("/", "/work", "/nope"):
                for _ in range(3):
                    assert http_get(server.url + path)[::2] == http_get(reference.url + path)[::2], (fault, path)
        started = time.monotonic()
        status = server.stop()
        stopped_in = time.monotonic() - started
    assert status == 0
    assert stopped_in < 10  # SIGTERM, workers flush within the 1 s bound, master exits
    assert "Traceback" not in server.output()[1]

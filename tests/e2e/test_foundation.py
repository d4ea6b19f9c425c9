"""The foundation end to end: scripts run as ``otel-run python ...`` in subprocesses,
exporting to the real OTLP receiver; assertions are on what the receiver decoded.

Covered: exec semantics (same PID, exit status and signals pass through), the resource,
a user's own sitecustomize, OTEL_SDK_DISABLED, bad values, third-party plugins (good,
raising, unimportable, wrong version), http/json, gzip, every span of a short script
arriving at exit, a dead or hanging endpoint never holding the exit past the bound, and
child Python processes.
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from support.agent import agent_env, otel_run
from support.plugin_site import installed_site
from support.processes import TESTS_DIR, free_port, run

SCRIPTS = TESTS_DIR / "scripts"
APP = SCRIPTS / "foundation_app.py"
PLUGINS = TESTS_DIR / "plugins"
PLUGIN_DISTRIBUTIONS = ("good_plugin", "bad_plugin")
EXIT_BOUND_S = 3.0    # OTEL_PYTHON_EXIT_TIMEOUT's default
MARGIN_S = 5.0        # generous: this is a bound check, not a speed test


def plain_env(**overrides):
    """The same program without the agent (for side-by-side comparisons)."""
    env = agent_env()
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def only_json_line(stdout):
    return json.loads(stdout.strip().splitlines()[0])


def agent_lines(stderr, needle):
    return [line for line in stderr.splitlines() if line.startswith("otel-autoinstrument") and needle in line]


# --- exec semantics and the resource ------------------------------------------------------

def test_spans_resource_pid_and_exit_status(receiver, service_name):
    env = agent_env(receiver, service_name,
                    OTEL_RESOURCE_ATTRIBUTES="deployment.environment=prod%20eu,team=a%2Cb,service.name=ignored")
    result = run(otel_run("python", APP, "3"), env=env)
    assert result.returncode == 3, result.stderr        # sys.exit(3) passes through
    shown = only_json_line(result.stdout)
    assert shown["agent"] is True
    spans = receiver.wait_for_spans(count=2, service=service_name)
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"request", "query"}
    request, query = by_name["request"], by_name["query"]
    assert query.parent_span_id == request.span_id and query.trace_id == request.trace_id
    assert request.parent_span_id == "" and request.trace_id == shown["trace_id"]
    assert (request.kind, query.kind) == ("SERVER", "CLIENT")
    assert request.attributes == {"app.step": "outer"} and query.attributes == {"db.rows": 3}
    assert request.scope_name == "foundation.app" and request.scope_version == "0.1"
    resource = request.resource
    assert resource["process.pid"] == shown["pid"]       # exec: the app is otel-run's process
    assert resource["service.name"] == service_name      # OTEL_SERVICE_NAME wins
    assert resource["deployment.environment"] == "prod eu" and resource["team"] == "a,b"
    assert resource["telemetry.sdk.name"] == "otel-autoinstrument"
    assert resource["telemetry.sdk.language"] == "python"
    from otel_autoinstrument.version import __version__
    assert resource["telemetry.sdk.version"] == __version__
    assert resource["process.runtime.name"] == "cpython"
    assert resource["process.runtime.version"] == "%d.%d.%d" % sys.version_info[:3]
    assert resource["host.name"]


def test_service_name_default_and_from_resource_attributes(receiver, service_name):
    env = agent_env(receiver, None, OTEL_RESOURCE_ATTRIBUTES="service.name=%s" % service_name)
    assert run(otel_run("python", APP), env=env).returncode == 0
    assert receiver.wait_for_spans(count=2, service=service_name)
    marker = service_name + "-unset"
    env = agent_env(receiver, None, OTEL_RESOURCE_ATTRIBUTES="marker=" + marker)
    assert run(otel_run("python", APP), env=env).returncode == 0
    spans = receiver.wait_for_spans(predicate=lambda spans: any(
        s.resource.get("marker") == marker for s in spans))
    mine = [s for s in spans if s.resource.get("marker") == marker]
    assert mine[0].resource["service.name"].startswith("unknown_service:")


def _start(cmd, env):
    # Unbuffered: select() must see every line that readline() has not consumed yet.
    return subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True, bufsize=0)


def _read_until(proc, text, timeout=20.0):
    """Lines of stdout up to and including ``text`` (bounded)."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline().decode()
            if not line:
                break
            lines.append(line.strip())
            if line.strip() == text:
                return lines
    proc.kill()
    raise AssertionError("no %r within %ss: %r; stderr: %s" % (text, timeout, lines, proc.stderr.read()))


def test_a_signal_reaches_the_command_and_ends_it_the_same_way(receiver, service_name):
    statuses = {}
    for label, cmd, env in (("plain", ["python", APP, "wait"], plain_env()),
                            ("agent", otel_run("python", APP, "wait"), agent_env(receiver, service_name))):
        proc = _start(cmd, env)
        try:
            lines = _read_until(proc, "ready")
            assert json.loads(lines[0])["pid"] == proc.pid     # the same process: exec, no wrapper
            os.kill(proc.pid, signal.SIGTERM)
            statuses[label] = proc.wait(20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            proc.stdout.close()
            proc.stderr.close()
    assert statuses["agent"] == statuses["plain"] == -signal.SIGTERM


# --- the bootstrap --------------------------------------------------------------------------

USER_SITECUSTOMIZE = """
import os
MARK = "user sitecustomize ran in %d" % os.getpid()
print(MARK)
"""

SHOW_SITE = "import sitecustomize, os; print(sitecustomize.MARK == 'user sitecustomize ran in %d' % os.getpid())"

# otel-run is itself a Python console script: its own interpreter runs the user's
# sitecustomize too (site.py imports it before otel-run's main() can do anything), just
# before it execs the command. So the launcher's copy of any output comes first, and the
# app's own behaviour is what is compared below.


def test_a_user_sitecustomize_still_runs(receiver, service_name, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(USER_SITECUSTOMIZE)
    script = tmp_path / "check_site.py"
    script.write_text(SHOW_SITE + "\nimport runpy\nrunpy.run_path(%r, run_name='__main__')\n" % str(APP))
    env = agent_env(receiver, service_name, PYTHONPATH=str(tmp_path))
    result = run(otel_run("python", script), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    shown = json.loads(lines[-1])
    assert shown["agent"] is True
    assert lines[-3:-1] == ["user sitecustomize ran in %d" % shown["pid"], "True"]
    assert receiver.wait_for_spans(count=2, service=service_name)   # and the agent is on too


@pytest.mark.parametrize("body", [
    "raise ValueError('broken user customisation')",
    "import no_such_module_in_user_sitecustomize",
])
def test_a_failing_user_sitecustomize_behaves_as_without_the_agent(tmp_path, body):
    (tmp_path / "sitecustomize.py").write_text(body + "\n")
    command = ["python", "-c", "print('app ran')"]
    plain = run(command, env=plain_env(PYTHONPATH=str(tmp_path)))
    agent = run(otel_run(*command), env=agent_env(None, "x", PYTHONPATH=str(tmp_path),
                                                  OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none"))
    assert (agent.returncode, agent.stdout) == (plain.returncode, plain.stdout) == (0, "app ran\n")
    assert plain.stderr.startswith("Error in sitecustomize")
    assert agent.stderr.endswith(plain.stderr)       # the app reports it exactly as without the agent
    assert agent.stderr.count(plain.stderr) <= 2     # (plus, at most, the launcher's own copy)


def test_sdk_disabled_exports_nothing_and_the_app_runs(receiver, service_name):
    result = run(otel_run("python", APP, "0"), env=agent_env(receiver, service_name, OTEL_SDK_DISABLED="true"))
    assert result.returncode == 0, result.stderr
    shown = only_json_line(result.stdout)
    assert shown["agent"] is False
    # Export at exit is synchronous: had the agent run, its spans would be here already.
    assert receiver.spans(service=service_name) == []
    assert result.stderr == ""


def test_bad_values_warn_once_and_the_app_runs_with_defaults(receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_TRACES_SAMPLER="sometimes", OTEL_BSP_MAX_QUEUE_SIZE="lots",
                    OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    result = run(otel_run("python", APP, "0"), env=env)
    assert result.returncode == 0, result.stderr
    assert only_json_line(result.stdout)["agent"] is True
    for needle in ("OTEL_TRACES_SAMPLER='sometimes'", "OTEL_BSP_MAX_QUEUE_SIZE='lots'",
                   "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"):
        assert len(agent_lines(result.stderr, needle)) == 1, result.stderr
    assert len(result.stderr.strip().splitlines()) == 3, result.stderr
    assert len(receiver.wait_for_spans(count=2, service=service_name)) == 2


# --- third-party plugins ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def plugin_site():
    """The test plugin distributions, installed with pip into a folder of their own."""
    return installed_site("plugin-site", [PLUGINS / name for name in PLUGIN_DISTRIBUTIONS])


def _plugins_env(receiver, service, site, **overrides):
    # Not strict: the point is the production safety net around broken plugins.
    return agent_env(receiver, service, PYTHONPATH=str(site), AUTOINSTRUMENT_STRICT="0", **overrides)


def test_plugins_good_one_works_broken_ones_are_contained(receiver, service_name, plugin_site):
    plain = run(["python", SCRIPTS / "foundation_plugins.py", "5"], env=plain_env(PYTHONPATH=str(plugin_site)))
    assert (plain.returncode, plain.stdout) == (5, "42\n"), plain.stderr
    result = run(otel_run("python", SCRIPTS / "foundation_plugins.py", "5"),
                 env=_plugins_env(receiver, service_name, plugin_site))
    assert (result.returncode, result.stdout) == (plain.returncode, plain.stdout), result.stderr
    # One line each for the plugin that cannot be imported, the one that raises while
    # instrumenting, the one that wants another version and the one whose version range
    # cannot be parsed; nothing else.
    load = agent_lines(result.stderr, "instrumentor bad_import disabled")
    raising = agent_lines(result.stderr, "instrumentor bad_instrument disabled")
    picky = agent_lines(result.stderr, "instrumentor picky disabled")
    assert len(load) == 1 and "no_such_dependency_for_bad_plugin" in load[0], result.stderr
    assert len(raising) == 1 and "bad plugin exploded while instrumenting" in raising[0], result.stderr
    assert len(picky) == 1 and "good-target-dist 1.0.0" in picky[0] and ">= 99" in picky[0], result.stderr
    unparsable = agent_lines(result.stderr, "instrumentor bad_requires disabled")
    assert len(unparsable) == 1 and ">> 2" in unparsable[0], result.stderr
    assert len(result.stderr.strip().splitlines()) == 4, result.stderr
    spans = receiver.wait_for_spans(count=2, service=service_name)
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"plugins-main", "good_target.work"}
    work = by_name["good_target.work"]
    assert work.parent_span_id == by_name["plugins-main"].span_id
    assert work.attributes == {"good.n": 21, "good.result": 42}
    assert work.scope_name == "otel_autoinstrument.good"


def test_a_disabled_plugin_stays_off(receiver, service_name, plugin_site):
    result = run(otel_run("python", SCRIPTS / "foundation_plugins.py"),
                 env=_plugins_env(receiver, service_name, plugin_site,
                                  OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="good,bad_import"))
    assert (result.returncode, result.stdout) == (0, "42\n"), result.stderr
    assert agent_lines(result.stderr, "bad_import") == []          # disabled: not even loaded
    assert len(agent_lines(result.stderr, "instrumentor bad_instrument disabled")) == 1
    spans = receiver.wait_for_spans(count=1, service=service_name)
    assert [s.name for s in spans] == ["plugins-main"]             # and no good_target.work


# --- export: protocols, compression, completeness, bounds ------------------------------------

@pytest.mark.parametrize("protocol, compression, content_type", [
    ("http/json", "none", "application/json"),
    ("http/protobuf", "gzip", "application/x-protobuf"),
    ("http/json", "gzip", "application/json"),
])
def test_protocol_and_compression(receiver, service_name, protocol, compression, content_type):
    env = agent_env(receiver, service_name, OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
                    OTEL_EXPORTER_OTLP_COMPRESSION=compression)
    result = run(otel_run("python", APP), env=env)
    assert result.returncode == 0, result.stderr
    spans = receiver.wait_for_spans(count=2, service=service_name)
    by_name = {s.name: s for s in spans}
    assert by_name["query"].parent_span_id == by_name["request"].span_id
    assert by_name["request"].resource["process.pid"] == only_json_line(result.stdout)["pid"]
    mine = [r for r in receiver.requests if r.path == "/v1/traces" and r.message is not None
            and any(kv.value.string_value == service_name
                    for rs in r.message.resource_spans for kv in rs.resource.attributes)]
    assert mine
    for request in mine:
        assert request.content_type == content_type
        assert request.headers.get("content-encoding", "") == ("gzip" if compression == "gzip" else "")
        if compression == "gzip":
            assert request.raw_body[:2] == b"\x1f\x8b" and request.body != request.raw_body


def _count_arrived(receiver, service, n):
    spans = receiver.spans(service=service)
    indexes = [s.attributes["i"] for s in spans]
    assert len(indexes) == len(set(indexes)), "a span arrived twice"
    assert set(indexes) <= set(range(n))
    return len(indexes)


def test_every_span_of_a_short_script_arrives_at_exit(receiver, service_name):
    n = 5000
    env = agent_env(receiver, service_name, OTEL_BSP_MAX_QUEUE_SIZE=str(2 * n))
    del env["OTEL_BSP_SCHEDULE_DELAY"]          # the default batch settings otherwise
    result = run(otel_run("python", SCRIPTS / "foundation_many.py", n), env=env)
    assert result.returncode == 0 and result.stdout == "made %d\n" % n, result.stderr
    # Export at exit is synchronous: everything that will arrive has arrived.
    assert _count_arrived(receiver, service_name, n) == n
    assert result.stderr == ""


def test_with_default_queue_every_span_is_exported_or_reported(receiver, service_name):
    n = 5000
    env = agent_env(receiver, service_name)
    del env["OTEL_BSP_SCHEDULE_DELAY"]
    result = run(otel_run("python", SCRIPTS / "foundation_many.py", n), env=env)
    assert result.returncode == 0, result.stderr
    arrived = _count_arrived(receiver, service_name, n)
    report = re.search(r"created (\d+), exported (\d+), dropped (\d+)", result.stderr)
    if report is None:                     # nothing dropped: no warning, everything arrived
        assert arrived == n, result.stderr
    else:
        created, exported, dropped = map(int, report.groups())
        assert created == n and exported == arrived and arrived + dropped == n, result.stderr


def _timed_run(cmd, env):
    start = time.monotonic()
    result = run(cmd, env=env, timeout=60)
    return result, time.monotonic() - start


def test_a_dead_endpoint_does_not_hold_the_exit(service_name):
    env = agent_env(None, service_name, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % free_port())
    result, took = _timed_run(otel_run("python", APP, "4"), env)
    assert result.returncode == 4 and only_json_line(result.stdout)["agent"] is True, result.stderr
    assert took < EXIT_BOUND_S + MARGIN_S, (took, result.stderr)


def test_a_hanging_endpoint_does_not_hold_the_exit(own_receiver, service_name):
    own_receiver.behave(hang_seconds=30)
    env = agent_env(own_receiver, service_name)
    result, took = _timed_run(otel_run("python", APP, "0"), env)
    assert result.returncode == 0 and only_json_line(result.stdout)["agent"] is True, result.stderr
    assert took < EXIT_BOUND_S + MARGIN_S, (took, result.stderr)
    assert own_receiver.requests                     # it did try, and the receiver hung
    assert "dropped" in result.stderr                # and it says what it could not deliver


def test_a_shorter_exit_bound_is_honoured(own_receiver, service_name):
    own_receiver.behave(hang_seconds=30)
    env = agent_env(own_receiver, service_name, OTEL_PYTHON_EXIT_TIMEOUT="500")
    result, took = _timed_run(otel_run("python", APP, "0"), env)
    assert result.returncode == 0, result.stderr
    assert took < 0.5 + MARGIN_S, (took, result.stderr)


# --- child processes --------------------------------------------------------------------------

def test_child_python_processes_are_instrumented_too(receiver, service_name):
    result = run(otel_run("python", SCRIPTS / "foundation_parent.py"), env=agent_env(receiver, service_name))
    assert result.returncode == 0, result.stderr
    shown = only_json_line(result.stdout)
    assert shown["status"] == 0 and shown["child"]["agent"] is True
    assert shown["child"]["pid"] != shown["parent_pid"]
    spans = receiver.wait_for_spans(count=2, service=service_name)
    by_name = {s.name: s for s in spans}
    parent, child = by_name["parent-work"], by_name["child-work"]
    assert parent.resource["process.pid"] == shown["parent_pid"]
    assert child.resource["process.pid"] == shown["child"]["pid"]
    assert child.trace_id == parent.trace_id and child.parent_span_id == parent.span_id
    assert (parent.kind, child.kind) == ("PRODUCER", "CONSUMER")

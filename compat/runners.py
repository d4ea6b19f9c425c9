"""How a suite is run (pytest, or Django's own runtests.py), the three modes it is run
in, and one bounded run.

Modes: ``plain`` (no agent), ``agent-none`` (``otel-run``, nothing exported: the
patches alone) and ``agent-otlp-closed`` (``otel-run`` exporting over OTLP to a port
on 127.0.0.1 where nothing listens: the export thread, its retries and the exit flush
as they behave when the collector is down). The closed port is held bound, without
listening, for the whole run, so a connection is refused at once and no test server
can be handed that port by chance.
"""

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, List

from outcomes import AGENT_LINE, from_junit, from_unittest_verbose

# -- runners ----------------------------------------------------------------------------


class PytestRunner:
    # pytest-timeout bounds each test, so one hanging test costs its own result and not
    # the whole run's (a killed pytest writes no JUnit file at all).
    requires = ("pytest-timeout",)

    def command(self, lib, python, outdir):
        return ([python] + list(lib.python_flags) + [
            "-m", "pytest", "-p", "no:cacheprovider", "--junitxml=%s" % (outdir / "junit.xml"),
            "--timeout=%d" % lib.test_timeout, "-rfE"] + list(lib.args) + list(lib.tests))

    def outcomes(self, outdir, output):
        path = outdir / "junit.xml"
        return from_junit(path) if path.exists() else {}


class DjangoRunner:
    """Django's suite runs only through tests/runtests.py (its settings, apps, labels).
    One process (--parallel 1): the outcomes are read from its verbose output, which
    worker processes would interleave."""

    requires = ()

    def command(self, lib, python, outdir):
        return ([python] + list(lib.python_flags) + ["tests/runtests.py", "-v", "2", "--parallel", "1",
                                                     "--noinput"] + list(lib.args) + list(lib.tests))

    def outcomes(self, outdir, output):
        return from_unittest_verbose(output)


RUNNERS = {"pytest": PytestRunner(), "django": DjangoRunner()}


# -- modes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    name: str
    agent: bool  # run under otel-run
    env: Dict[str, str]  # "{port}" is the closed port
    description: str


PLAIN = Mode("plain", False, {}, "no agent")
MODES = [
    PLAIN,
    Mode("agent-none", True, {"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
                              "OTEL_METRICS_EXPORTER": "none"},
         "otel-run, exporters none"),
    Mode("agent-otlp-closed", True, {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp",
                                     "OTEL_METRICS_EXPORTER": "otlp",
                                     "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:{port}"},
         "otel-run, OTLP to a closed port on 127.0.0.1"),
]
MODE_NAMES = [m.name for m in MODES]

# Inherited variables that would change what a run does: the agent's own, another
# Python setup, proxies (nothing but 127.0.0.1 is to be reached), Django settings.
_DROPPED_PREFIXES = ("OTEL_", "PYTHON", "DJANGO_", "AUTOINSTRUMENT_")
_DROPPED = {"VIRTUAL_ENV", "http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
            "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}


def environment(lib, mode, bindir, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED}
    env["PATH"] = str(bindir) + os.pathsep + env.get("PATH", os.defpath)
    env.update(lib.env)
    if mode.agent:
        env["OTEL_SERVICE_NAME"] = "compat-" + lib.name.lower()
        env.update({k: v.format(port=port) for k, v in mode.env.items()})
    return env


@contextmanager
def closed_port():
    """A port on 127.0.0.1 that refuses connections while the block runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connect() gets a reset
        yield sock.getsockname()[1]
    finally:
        sock.close()


# -- one run ----------------------------------------------------------------------------


@dataclass
class Run:
    mode: str
    label: str  # the mode, or "plain#2"... for repeated plain runs
    exit_code: int
    duration_s: float
    timed_out: bool
    outcomes: Dict[str, str]
    agent_messages: Dict[str, int]  # the agent's own log lines in the output, by level
    agent_errors: List[str]  # the distinct ERROR lines among them (internal errors)
    log: str  # path of the output file


def run_suite(lib, runner, mode, label, bindir, root, outdir, port, timeout_factor=1.0):
    outdir.mkdir(parents=True, exist_ok=True)
    junit = outdir / "junit.xml"
    if junit.exists():
        junit.unlink()
    command = runner.command(lib, str(bindir / "python"), outdir)
    if mode.agent:
        command = [str(bindir / "otel-run")] + command
    log_path = outdir / "output.log"
    timeout = lib.timeout * timeout_factor
    print("  %-18s %s" % (label, " ".join(command[:8]) + (" ..." if len(command) > 8 else "")), flush=True)
    with open(log_path, "w") as out:
        started = time.monotonic()
        # A session of its own: on a timeout the whole tree (servers, workers the
        # tests started) is ended, and nothing else.
        process = subprocess.Popen(command, cwd=str(root), env=environment(lib, mode, bindir, port),
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        timed_out = False
        try:
            exit_code = process.wait(timeout=timeout)
        except BaseException as exc:  # the timeout, or this script interrupted
            if not isinstance(exc, subprocess.TimeoutExpired):
                _kill_group(process.pid, signal.SIGKILL)
                raise
            timed_out = True
            _kill_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid, signal.SIGKILL)
                process.wait()
            exit_code = process.returncode
        duration = time.monotonic() - started
        _kill_group(process.pid, signal.SIGKILL)  # what the suite left running
    output = log_path.read_text(errors="replace")
    outcomes = runner.outcomes(outdir, output)
    levels, errors = _agent_messages(output)
    run = Run(mode.name, label, exit_code, round(duration, 2), timed_out, outcomes, levels, errors, str(log_path))
    print("  %-18s exit %s in %.1f s, %d tests%s" % (label, exit_code, duration, len(outcomes),
                                                   " (TIMED OUT)" if timed_out else ""), flush=True)
    return run


def _kill_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _agent_messages(output):
    """({level: count}, [distinct ERROR/CRITICAL lines]) of the agent's own log lines."""
    counts, errors = {}, []
    for match in AGENT_LINE.finditer(output):
        line = match.group(0).strip()
        level = line.split(" ", 2)[1].rstrip(":")
        counts[level] = counts.get(level, 0) + 1
        if level in ("ERROR", "CRITICAL") and line not in errors:
            errors.append(line)
    return counts, errors

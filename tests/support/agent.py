"""How the end-to-end tests run programs under the agent.

``agent_env()`` is the environment of an instrumented test program: no OTEL_* from the
developer's shell, the venv's ``bin`` first on PATH (so ``python``, ``gunicorn`` and
``otel-run`` are the ones the agent is installed with), export to the test receiver
with short batch delays, and strict mode so an error the agent would swallow in
production fails the test instead.
"""

import os
import re
import sys

from support.processes import base_env

BIN = os.path.dirname(sys.executable)
OTEL_RUN = os.path.join(BIN, "otel-run")
PYTHON = sys.executable


def agent_env(receiver=None, service=None, **overrides):
    env = base_env(
        PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
        AUTOINSTRUMENT_STRICT="1",
        OTEL_LOG_LEVEL="warning",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_BLRP_SCHEDULE_DELAY="100",
    )
    if receiver is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
    if service:
        env["OTEL_SERVICE_NAME"] = service
    env.pop("PYTHONPATH", None)
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def otel_run(*command):
    """``[otel-run, *command]`` as an argv list."""
    return [OTEL_RUN] + [str(c) for c in command]


EXIT_SUMMARY = re.compile(r"(traces|logs) \(pid (\d+)\): created (\d+), exported (\d+), dropped (\d+)(?:: (.*))?")


def exit_summary(stderr, signal="traces"):
    """The agent's exit summary for one signal (exactly one in ``stderr``):
    created, exported, dropped, {reason: count}; checks that the numbers add up."""
    found = [m for m in EXIT_SUMMARY.finditer(stderr) if m.group(1) == signal]
    assert len(found) == 1, stderr
    m = found[0]
    reasons = {}
    for part in (m.group(6) or "").split(", "):
        if part:
            count, reason = part.split(" ", 1)
            reasons[reason] = int(count)
    created, exported, dropped = int(m.group(3)), int(m.group(4)), int(m.group(5))
    assert created == exported + dropped and dropped == sum(reasons.values()), m.group(0)
    return created, exported, dropped, reasons

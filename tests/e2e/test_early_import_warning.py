"""A library imported before the agent started is named in a warning, not missed silently."""

from support.agent import PYTHON, agent_env
from support.processes import run

SCRIPT = """
import flask
from otel_autoinstrument.agent.startup import start
start()
print("app ran")
"""


# ``python -c`` puts the working directory first on sys.path: run it outside the
# repository so the installed agent is imported, not the source tree.

def test_library_imported_before_start_is_named(receiver, service_name, tmp_path):
    env = agent_env(receiver, service_name, AUTOINSTRUMENT_STRICT="0")
    result = run([PYTHON, "-c", SCRIPT], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app ran\n"
    warnings = [line for line in result.stderr.splitlines() if "imported before the agent started" in line]
    assert len(warnings) == 1, result.stderr
    assert "flask" in warnings[0] and "logging" in warnings[0]  # flask imports logging itself


def test_no_warning_when_the_agent_starts_first(receiver, service_name, tmp_path):
    result = run([PYTHON, "-c", "from otel_autoinstrument.agent.startup import start; start()\nimport flask"],
                 env=agent_env(receiver, service_name), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported before the agent started" not in result.stderr

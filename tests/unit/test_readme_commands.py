"""The README's Quick start is two commands, the demo and the tests, and CI runs exactly
those (`.ci/run`): a Quick start that drifts from what CI proves is caught here."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_start_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_the_quick_start_is_the_demo_then_the_tests():
    demo, tests = quick_start_commands()
    assert "pip install '.[demo]'" in demo and "otel-run" in demo and "examples/demo_app.py" in demo
    assert "pip install -e '.[test]'" in tests and tests.endswith("pytest")


def test_ci_runs_the_readme_commands_verbatim():
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in quick_start_commands():
        assert any(line == command or line.startswith(command + " ") for line in lines), command

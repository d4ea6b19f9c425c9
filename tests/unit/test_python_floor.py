"""Python 3.9 is the floor: no syntax, standard-library call or annotation newer than 3.9
in the agent or its instrumentors. vermin is the gate everywhere; where a Python 3.9
interpreter exists (this machine has one under pyenv), every module is also compiled by
it, which catches any syntax vermin might miss."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ["otel_autoinstrument", "instrumentors"]
PYTHON39_CANDIDATES = [os.environ.get("PYTHON39", ""), "/root/.pyenv/versions/3.9.18/bin/python3.9"]


def _vermin():
    here = Path(sys.executable).parent / "vermin"
    return str(here) if here.exists() else shutil.which("vermin")


def test_vermin_finds_nothing_newer_than_3_9():
    vermin = _vermin()
    assert vermin, "vermin is in the test extra: pip install -e .[test]"
    result = subprocess.run(
        [vermin, "-t=3.9-", "--no-tips", "--violations", "--eval-annotations"] + PACKAGES,
        cwd=str(REPO), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Target versions not met" not in result.stdout


def _python39():
    for candidate in PYTHON39_CANDIDATES + [shutil.which("python3.9") or ""]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


COMPILE_ALL = """
import py_compile, sys, tempfile, os
failed = []
with tempfile.TemporaryDirectory() as out:
    for i, path in enumerate(sys.argv[1:]):
        try:
            py_compile.compile(path, cfile=os.path.join(out, "%d.pyc" % i), doraise=True)
        except py_compile.PyCompileError as exc:
            failed.append(str(exc))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_compiles_under_python_3_9_when_it_is_here():
    python39 = _python39()
    if python39 is None:
        return  # CI without a 3.9 interpreter: the vermin check above is the gate
    files = sorted(str(p) for package in PACKAGES for p in (REPO / package).rglob("*.py"))
    assert len(files) > 20
    result = subprocess.run([python39, "-c", COMPILE_ALL] + files, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr

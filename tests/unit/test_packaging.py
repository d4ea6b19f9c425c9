"""A plain (non-editable) install carries every module of the source tree.

The test suite runs against the working tree (``pip install -e``), which would not
notice a package left out of ``pyproject.toml``; the wheel built here would."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_module_and_the_builtin_entry_points(tmp_path):
    # Built from a clean copy: setuptools builds in the source tree, and a build/ folder
    # left there by an earlier build would carry modules that no longer exist.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", ".venv*", "__pycache__", ".cache", ".work", ".venvs"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(source)], check=True, timeout=300, cwd=str(tmp_path))
    wheel = next(tmp_path.glob("otel_autoinstrument-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(p.relative_to(ROOT)) for p in (ROOT / "otel_autoinstrument").rglob("*.py")}
    expected |= {"otel_autoinstrument/instrumentors/" + p.name for p in (ROOT / "instrumentors").glob("*.py")}
    assert sorted(n for n in names if n.endswith(".py")) == sorted(expected)
    # Typed: the marker and the stubs of the plugin API's helpers ship too.
    typed = {str(p.relative_to(ROOT)) for p in (ROOT / "otel_autoinstrument").rglob("*.pyi")}
    assert typed and typed | {"otel_autoinstrument/py.typed"} <= names
    assert not any(n.startswith(("tests/", "tools/", "instrumentors/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "otel-run = otel_autoinstrument.cli.launcher:main" in text
    for name in ("flask", "django", "requests", "sqlalchemy", "logging"):
        assert "%s = otel_autoinstrument.instrumentors.%s:" % (name, name) in text

"""Packages from the registry installed for a few tests only, beside the venv.

``package_cache(name, requirements)`` resolves ``requirements`` against the test venv
(pip's own resolver: what the venv already has, at a version that fits, is not
installed again) and installs only the missing distributions, at the resolved versions,
into ``tests/.cache/<name>``, once; the tests put that folder on the application's
PYTHONPATH. The venv itself, and so every other test, never sees these packages
(the SDK, contrib instrumentations, aiohttp; the OpenTelemetry API too, except the
release FastAPI, a test dependency, brings into the venv).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

CACHE = Path(__file__).resolve().parent.parent / ".cache"
_PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def package_cache(name, requirements):
    """The folder holding what ``requirements`` needs beyond the venv (installed once)."""
    target = CACHE / name
    done = target / ".requirements.json"
    if done.is_file() and json.loads(done.read_text()) == list(requirements):
        return target
    resolved = subprocess.run(_PIP + ["install", "--dry-run", "--quiet", "--report", "-", *requirements],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert resolved.returncode == 0, resolved.stderr
    pins = ["%s==%s" % (item["metadata"]["name"], item["metadata"]["version"])
            for item in json.loads(resolved.stdout)["install"]]
    partial = CACHE / ("%s.partial-%d" % (name, os.getpid()))
    if pins:
        installed = subprocess.run(_PIP + ["install", "--quiet", "--no-deps", "--target", str(partial), *pins],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                   timeout=600)
        assert installed.returncode == 0, installed.stderr
    else:  # the venv has it all already (FastAPI brings the OpenTelemetry API): an empty folder
        partial.mkdir(parents=True)
    (partial / ".requirements.json").write_text(json.dumps(list(requirements)))
    if target.exists():
        import shutil

        shutil.rmtree(str(target), ignore_errors=True)
    try:
        os.replace(str(partial), str(target))
    except OSError:  # another run got there first
        assert done.is_file()
    return target

"""The agent's threads never import the application's modules behind its back.

An import in the export thread runs while the application's warning filters apply (a
test suite with ``filterwarnings = error``): if it raised half-way it would leave a
broken module in ``sys.modules`` (``requests`` without ``.exceptions``, when urllib3
warns that PySocks is missing). The export thread imports only this package and the
standard library, and a failed agent-side import is rolled back.
"""

import sys
import types

import pytest

from otel_autoinstrument.export import preload
from support.agent import agent_env, otel_run
from support.processes import run

MANY = 60


def test_a_strict_test_suite_gets_whole_modules(receiver, service_name, tmp_path):
    """Many short tests under ``filterwarnings = error`` make spans and log records while
    the export thread starts and sends; then a test uses ``requests.exceptions``."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings =\n    error\n")
    lines = ["import logging", "import time", "from otel_autoinstrument import get_tracer", ""]
    for i in range(MANY):
        lines += ["def test_short_%d():" % i,
                  "    with get_tracer('suite').start_as_current_span('test %d'):" % i,
                  "        logging.getLogger('suite').warning('step %d')" % i,
                  "    time.sleep(0.01)", ""]
    lines += ["def test_requests_is_whole():",
              "    import requests",
              "    assert issubclass(requests.exceptions.ConnectionError, requests.exceptions.RequestException)", ""]
    (tmp_path / "test_suite.py").write_text("\n".join(lines))
    env = agent_env(receiver, service_name, OTEL_BSP_SCHEDULE_DELAY=20, OTEL_BLRP_SCHEDULE_DELAY=20)
    result = run(otel_run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)),
                 env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "%d passed" % (MANY + 1) in result.stdout
    receiver.wait_for_spans(count=MANY, service=service_name)


def test_a_failed_agent_side_import_leaves_no_orphan_module(tmp_path, monkeypatch):
    """A package whose import fails after one of its submodules completed: the
    submodule does not stay behind without its package."""
    package = tmp_path / "halfpkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import done\nraise RuntimeError('half-way')\n")
    (package / "done.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError):
        preload.modules("halfpkg")
    assert "halfpkg" not in sys.modules and "halfpkg.done" not in sys.modules
    (package / "__init__.py").write_text("from . import done\n")
    import halfpkg  # the application's own import now works, and is whole

    assert isinstance(halfpkg.done, types.ModuleType) and halfpkg.done.VALUE == 1
    for name in ("halfpkg", "halfpkg.done"):
        sys.modules.pop(name, None)

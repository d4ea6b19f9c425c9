"""The plugin API is typed (``py.typed``): mypy checks it, the core types it exposes,
the testing kit and the example plugin with its tests; stubtest checks that the stubs
of the HTTP, DB, WSGI, ASGI and client helpers (``*.pyi``) match the modules. A plugin that misuses
the API gets an error."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TYPED = ["otel_autoinstrument/instrumentation", "otel_autoinstrument/testing", "otel_autoinstrument/trace/context.py",
         "otel_autoinstrument/trace/span.py", "otel_autoinstrument/trace/tracer.py",
         "examples/jinja2-plugin/otel_jinja2", "examples/jinja2-plugin/tests"]
STUBBED = ["otel_autoinstrument.instrumentation.http", "otel_autoinstrument.instrumentation.db",
           "otel_autoinstrument.instrumentation.wsgi", "otel_autoinstrument.instrumentation.asgi",
           "otel_autoinstrument.instrumentation.clients"]


def mypy(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")] + list(args),
                          cwd=str(cwd), capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def test_the_plugin_api_and_the_example_plugin_type_check(tmp_path):
    result = mypy("--cache-dir", str(tmp_path / "cache"), *TYPED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_helper_stubs_match_the_modules(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--ignore-missing-stub", "--mypy-config-file",
         str(ROOT / "pyproject.toml")] + STUBBED,
        cwd=str(ROOT), capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_plugin_that_misuses_the_api_gets_errors(tmp_path):
    (tmp_path / "bad_plugin.py").write_text(
        "from otel_autoinstrument.instrumentation import Instrumentor, SpanKind\n"
        "from otel_autoinstrument.instrumentation.http import HttpClient\n\n"
        "class Bad(Instrumentor):\n"
        "    name = 3\n"
        "    def patches(self) -> list:\n"
        "        span = self.tracer.start_span(42, kind=SpanKind.CLIENT)\n"
        "        span.set_status('error')\n"
        "        HttpClient(self).finish(span, status_code='200')\n"
        "        return []\n")
    result = mypy("--cache-dir", str(tmp_path / "cache"), str(tmp_path / "bad_plugin.py"), cwd=ROOT)
    assert result.returncode == 1
    for line, expected in ((5, 'base class "Instrumentor" defined the type as "str"'), (7, '"start_span"'),
                           (8, '"set_status"'), (9, '"finish" of "HttpClient"')):
        assert "bad_plugin.py:%d: error:" % line in result.stdout and expected in result.stdout, result.stdout

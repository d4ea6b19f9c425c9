"""The export thread's first ``import requests`` runs under the application's warning
filters. Under pytest's ``filterwarnings = error`` (Flask's and Werkzeug's own setting), a
warning raised while requests is imported -- here RequestsDependencyWarning, from a
chardet newer than requests supports -- becomes an exception in the export thread, and
the failed import leaves ``requests.compat`` and ``requests.exceptions`` in sys.modules
without ``requests``. When the application imports requests later, the new package has
no ``exceptions`` attribute: ``requests.exceptions.HTTPError`` raises AttributeError.

    compat/.work/venvs/flask-3.1.3/bin/python compat/repro/half_imported_requests.py

Needs pytest in the venv. Runs a two-test pytest session plainly and under otel-run
(OTLP to a closed port; the log record of the first test is exported within 1 s).
"""
import os
import socket
import subprocess
import sys
import tempfile
import textwrap

TEST = '''
import logging, sys, time, warnings

def test_a_app_logs_while_the_export_thread_starts():
    logging.getLogger("app").warning("hello")  # exported within OTEL_BLRP_SCHEDULE_DELAY (1 s)
    time.sleep(2.5)  # ...while this test runs with filterwarnings = error

def test_b_app_imports_requests():
    print("requests modules before:", sorted(m for m in sys.modules if m.split(".")[0] == "requests"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the application tolerates the dependency warning
        import requests
    assert requests.exceptions.HTTPError is requests.HTTPError
'''


def main():
    otel_run = os.path.join(os.path.dirname(sys.executable), "otel-run")
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "fake", "chardet"))
        with open(os.path.join(tmp, "fake", "chardet", "__init__.py"), "w") as f:
            f.write('__version__ = "9.0.0"  # newer than requests supports: a warning at import\n')
        with open(os.path.join(tmp, "pytest.ini"), "w") as f:
            f.write("[pytest]\nfilterwarnings = error\n")
        with open(os.path.join(tmp, "test_repro.py"), "w") as f:
            f.write(textwrap.dedent(TEST))
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refuses connections
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["PYTHONPATH"] = os.path.join(tmp, "fake")
        agent_env = dict(env, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % closed.getsockname()[1],
                         OTEL_LOG_LEVEL="error")
        pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", "test_repro.py"]
        codes = []
        for label, command, e in (("plain", pytest, env), ("under otel-run", [otel_run] + pytest, agent_env)):
            result = subprocess.run(command, cwd=tmp, env=e, capture_output=True, text=True, timeout=120)
            codes.append(result.returncode)
            print("--- %s (exit %d)\n%s" % (label, result.returncode, (result.stdout + result.stderr).strip()))
        closed.close()
    sys.exit(0 if codes[0] == codes[1] else 1)


if __name__ == "__main__":
    main()

"""The export thread's first ``import requests`` runs while the application's warning
filters are in force, and they are process-wide. Under pytest with ``filterwarnings =
error`` (Flask's and Werkzeug's own setting), pytest replaces the whole filter list at
every test boundary; requests' ``__init__`` adds ``ignore`` for urllib3's
DependencyWarning and then imports ``requests.adapters``, which imports
``urllib3.contrib.socks``: without PySocks installed (the default) that warns. When a
test boundary falls between the two, the warning is an error, ``import requests`` fails
in the export thread and leaves ``requests.exceptions`` and some 60 other ``requests.*``
modules in sys.modules without ``requests``. The application's own ``import requests``
later builds a new package on them, which has no ``exceptions`` attribute:
``requests.exceptions.HTTPError`` raises AttributeError (so does the agent's own export
code, which then fails every export). Flask's suite hit it in compat/run.py's
agent-otlp-closed run.

    compat/.work/venvs/flask-3.1.3/bin/python compat/repro/half_imported_requests.py

Needs pytest in the venv. Runs one pytest session (a log record, 400 short tests, then a
test that imports requests) plainly and under otel-run (OTLP to a closed port; the log
record is exported within OTEL_BLRP_SCHEDULE_DELAY, 1 s, while the short tests run).
"""
import os
import socket
import subprocess
import sys
import tempfile
import textwrap

TEST = '''
import logging, sys, time
import pytest

def test_a_app_logs():
    logging.getLogger("app").warning("hello")  # the log pipeline exports within 1 s

@pytest.mark.parametrize("i", range(400))
def test_b_short(i):  # a test boundary every few ms while the export thread imports requests
    time.sleep(0.005)

def test_c_app_imports_requests():
    left = [m for m in sys.modules if m.split(".")[0] == "requests"]
    print("requests in sys.modules: %s; requests.* modules: %d" % ("requests" in sys.modules, len(left)))
    import requests
    assert requests.exceptions.HTTPError is requests.HTTPError
'''


def main():
    otel_run = os.path.join(os.path.dirname(sys.executable), "otel-run")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "pytest.ini"), "w") as f:
            f.write("[pytest]\nfilterwarnings = error\n")
        with open(os.path.join(tmp, "test_repro.py"), "w") as f:
            f.write(textwrap.dedent(TEST))
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refuses connections
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
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

"""How long gunicorn takes to stop (SIGTERM) plainly, under otel-run exporting nothing,
and under otel-run exporting to a closed port: with the collector down, every process
that has telemetry queued (each worker, then the arbiter) retries until the exit bound
(OTEL_PYTHON_EXIT_TIMEOUT, 3 s) before it exits. This is what makes gunicorn's own
suite slower in the agent-otlp-closed mode (its tests start and stop servers).

    compat/.work/venvs/gunicorn-27.0.1/bin/python compat/repro/gunicorn_stop_time.py
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    bindir = os.path.dirname(sys.executable)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening
    modes = (("plain", [], {}),
             ("agent-none", [os.path.join(bindir, "otel-run")],
              {"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}),
             ("agent-otlp-closed", [os.path.join(bindir, "otel-run")],
              {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % closed.getsockname()[1]}))
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "app.py"), "w") as f:
            f.write(APP)
        for label, prefix, extra in modes:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
            env.update(extra)
            server = subprocess.Popen(prefix + [os.path.join(bindir, "gunicorn"), "-w", "2", "-b",
                                                "127.0.0.1:%d" % port, "app:app"],
                                      cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(100):
                try:
                    urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            print("%-18s SIGTERM to exit: %.2f s" % (label, time.monotonic() - started))
            for line in server.stderr.read().splitlines():
                if "otel-autoinstrument WARNING" in line:
                    print("    " + line)
    closed.close()


if __name__ == "__main__":
    main()

"""Flask/Werkzeug test client: the server span of a request ends when the WSGI response
is closed. A test that never closes its response (most of Flask's own tests) leaves the
span open: it is never exported, and never counted (created/dropped) either.

    compat/.work/venvs/flask-3.1.3/bin/python compat/repro/flask_unclosed_response.py

The run under otel-run uses the console exporter: two requests, one span printed, and
the exit summary (debug) says "created 1, exported 1, dropped 0".
"""
from _twice import twice

twice(__file__, OTEL_TRACES_EXPORTER="console", OTEL_LOG_LEVEL="debug")

from flask import Flask  # noqa: E402

app = Flask(__name__)


@app.get("/<name>")
def hello(name):
    return "hello " + name


client = app.test_client()
print("never closed:", client.get("/unclosed").data)
response = client.get("/closed")
print("closed:", response.data)
response.close()

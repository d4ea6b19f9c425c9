"""In-process WSGI serving for unit tests: a real agent whose spans are kept in memory
(``otel_autoinstrument.testing``), and the shared ``WsgiTracing`` called the way a
server calls it (PEP 3333: call, iterate, close)."""

import wsgiref.util

import pytest

from otel_autoinstrument import _log
from otel_autoinstrument.instrumentation import Instrumentor
from otel_autoinstrument.instrumentation.wsgi import WsgiTracing
from otel_autoinstrument.testing import InMemoryAgent


@pytest.fixture
def strict(monkeypatch):
    """Strict mode: an error the agent would swallow fails the test (import it into a
    test module and ``pytest.mark.usefixtures`` it, or use it as ``pytestmark``)."""
    monkeypatch.setattr(_log, "STRICT", True)


@pytest.fixture
def traced():
    """``(WsgiTracing, InMemoryAgent)`` with the default settings."""
    return make_tracing()


class _Plain(Instrumentor):
    name = "wsgi-test"


def make_tracing(chunks=None, **env):
    """``(WsgiTracing, InMemoryAgent)`` with the agent configured by ``env``; the agent's
    ``spans`` are the ended request spans."""
    memory = InMemoryAgent(env, strict=False)  # the strict fixture sets (and restores) strict mode
    instrumentor = memory.instrument(_Plain())
    return WsgiTracing(instrumentor, "OTEL_PYTHON_FLASK_EXCLUDED_URLS", chunks=chunks), memory


def environ_for(path="/", query="", method="GET", headers=None, **extra):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ.update(extra)
    wsgiref.util.setup_testing_defaults(environ)
    return environ


class Served:
    def __init__(self):
        self.status = None
        self.headers = None
        self.body = b""
        self.result = None
        self.exc_info = None


def serve(tracing, app, environ, consume=True):
    """Call ``app`` through the tracing wrapper as a WSGI server does."""
    served = Served()

    def start_response(status, headers, exc_info=None):
        served.status, served.headers, served.exc_info = status, headers, exc_info
        return served_write

    def served_write(data):
        served.body += data

    result = tracing(app, None, (environ, start_response), {})
    served.result = result
    if consume:
        try:
            for chunk in result:
                served.body += chunk
        finally:
            if hasattr(result, "close"):
                result.close()
    return served


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Custom", "yes")])
    return [b"hello"]

"""The plugin API in-process, with the testing kit: patches call straight through where
instrumentation is suppressed; two instrumentors patching the same method both work
and either can be undone; instrumenting twice never wraps twice; the HTTP helpers and
a plugin's own settings work for variables the agent does not declare."""

import http.server
import sys
import threading
import types

import pytest
import requests

from otel_autoinstrument import _log
from otel_autoinstrument.instrumentation import (
    Instrumentor, SpanKind, capture_internal_errors, get_current_span, suppressed, use_span)
from otel_autoinstrument.instrumentation.http import ExcludedUrls
from otel_autoinstrument.instrumentors.requests import RequestsInstrumentor
from otel_autoinstrument.testing import InMemoryAgent, assert_attributes, assert_child_of

# --- a library and a plugin written like the README's example (no is_suppressed()) -----

LIBRARY = "plugin_api_target"


@pytest.fixture
def library():
    module = types.ModuleType(LIBRARY)

    class Client:
        def call(self, n):
            return n * 2

    module.Client = Client
    module.work = lambda n: n + 1
    sys.modules[LIBRARY] = module
    yield module
    del sys.modules[LIBRARY]


class CallPlugin(Instrumentor):
    name = "call"
    modules = (LIBRARY,)

    def __init__(self, label="call"):
        super().__init__()
        self.label = label
        self.calls = 0

    def patches(self):
        return [(LIBRARY, "Client.call", self._call), (LIBRARY, "work", self._call)]

    def _call(self, wrapped, instance, args, kwargs):
        self.calls += 1
        span = None
        with capture_internal_errors("call plugin: start"):
            span = self.tracer.start_span(self.label, kind=SpanKind.CLIENT)
        if span is None:
            return wrapped(*args, **kwargs)
        with use_span(span, end_on_exit=True):
            return wrapped(*args, **kwargs)


class OtherCallPlugin(CallPlugin):
    name = "other-call"


def test_patches_call_straight_through_where_instrumentation_is_suppressed(library):
    with InMemoryAgent() as agent:
        plugin = agent.instrument(CallPlugin())
        assert library.Client().call(2) == 4 and library.work(1) == 2
        with suppressed():                   # as in the agent's own export thread
            assert library.Client().call(3) == 6 and library.work(2) == 3
        assert plugin.calls == 2             # the wrapper itself never ran while suppressed
        assert [s.name for s in agent.spans] == ["call", "call"]


def test_hooks_are_skipped_where_instrumentation_is_suppressed(library):
    seen = []
    with InMemoryAgent() as agent:
        plugin = agent.instrument(CallPlugin())
        hooked = plugin.hook(lambda *args: seen.append(args) or "result")
        assert hooked(1, 2) == "result"
        with suppressed():
            assert hooked(3) is None
    assert seen == [(1, 2)]


def test_two_instrumentors_on_the_same_method_both_run_once_and_undo_in_any_order(library):
    for undo_first in ("inner", "outer"):
        with InMemoryAgent() as agent:
            inner = agent.instrument(CallPlugin("inner"))
            outer = agent.instrument(OtherCallPlugin("outer"))
            with agent.tracer().start_as_current_span("request"):
                assert library.Client().call(5) == 10
            assert (inner.calls, outer.calls) == (1, 1)
            assert_child_of(agent.span(name="inner"), agent.span(name="outer"))
            agent.clear()
            first, second = (inner, outer) if undo_first == "inner" else (outer, inner)
            agent.uninstrument(first)        # from the middle of the chain, or its top
            assert library.Client().call(1) == 2 and library.work(1) == 2
            assert [s.name for s in agent.spans] == [second.label, second.label]
            agent.uninstrument(second)
            assert "call" not in type(library.Client.__dict__["call"]).__name__.lower()
            assert library.Client.__dict__["call"].__qualname__.endswith("Client.call")
            assert library.work.__name__ == "<lambda>"


def test_instrumenting_again_never_wraps_twice(library):
    with InMemoryAgent() as agent:
        first = agent.instrument(CallPlugin())
        first.instrument(agent.agent)                     # idempotent
        second = agent.instrument(CallPlugin("again"))    # same class, another instance
        assert library.Client().call(1) == 2
        assert (first.calls, second.calls) == (0, 1)
        assert [s.name for s in agent.spans] == ["again"]
        agent.uninstrument(second)
        assert not hasattr(library.Client.__dict__["call"], "__wrapped__")
        first.uninstrument()                              # nothing of its own left: a no-op


def test_a_wrapper_error_is_the_agents_not_the_applications(library, monkeypatch):
    class Broken(CallPlugin):
        def _call(self, wrapped, instance, args, kwargs):
            with capture_internal_errors("broken start"):
                raise RuntimeError("plugin bug")
            return wrapped(*args, **kwargs)

    with InMemoryAgent(strict=False) as agent:
        monkeypatch.setattr(_log, "STRICT", False)
        agent.instrument(Broken())
        assert library.Client().call(4) == 8


# --- stacking with a built-in: requests ------------------------------------------------

class _Echo(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        _Echo.seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def echo_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/" % server.server_address[1]
    server.shutdown()
    server.server_close()


class SendPlugin(Instrumentor):
    """A third-party plugin that also wraps requests' Session.send."""

    name = "send-plugin"

    def __init__(self):
        super().__init__()
        self.calls = 0

    def patches(self):
        return [("requests.sessions", "Session.send", self._send)]

    def _send(self, wrapped, instance, args, kwargs):
        self.calls += 1
        with self.tracer.start_as_current_span("plugin send"):
            return wrapped(*args, **kwargs)


@pytest.mark.parametrize("order", ["builtin first", "plugin first"])
def test_a_plugin_wrapping_session_send_leaves_the_builtin_requests_spans(echo_url, order):
    with InMemoryAgent() as agent:
        made = [RequestsInstrumentor(), SendPlugin()]
        if order == "plugin first":
            made.reverse()
        for instrumentor in made:
            agent.instrument(instrumentor)
        builtin, plugin = sorted(made, key=lambda i: i.name != "requests")
        del _Echo.seen[:]
        assert requests.get(echo_url, timeout=5).text == "ok"
        client = agent.span(kind=SpanKind.CLIENT)
        assert_attributes(client, {"http.request.method": "GET", "http.response.status_code": 200})
        assert plugin.calls == 1 and len(agent.find_spans(name="plugin send")) == 1
        if order == "builtin first":   # the plugin's span is current around the built-in's
            assert_child_of(client, agent.span(name="plugin send"))
        (headers,) = _Echo.seen
        assert headers["traceparent"].split("-")[2] == "%016x" % client.context.span_id
        for undone, kept in ((builtin, plugin), (plugin, builtin)):   # either one, from either place
            agent.uninstrument(undone)
            agent.clear()
            del _Echo.seen[:]
            assert requests.get(echo_url, timeout=5).text == "ok"
            names = [s.name for s in agent.spans]
            if kept is builtin:
                assert names == ["GET"] and "traceparent" in _Echo.seen[0]
            else:
                assert names == ["plugin send"] and "traceparent" not in _Echo.seen[0]
            agent.instrument(undone)                                  # and back: once each
            agent.clear()
            assert requests.get(echo_url, timeout=5).text == "ok"
            assert sorted(s.name for s in agent.spans) == ["GET", "plugin send"]


# --- helpers and settings for a plugin's own variables ------------------------------------

def test_excluded_urls_for_a_variable_the_agent_does_not_declare():
    with InMemoryAgent({"OTEL_PYTHON_URLLIB3_EXCLUDED_URLS": "/health,^https://internal",
                        "OTEL_PYTHON_EXCLUDED_URLS": "/metrics"}) as agent:
        excluded = ExcludedUrls(agent.settings, "OTEL_PYTHON_URLLIB3_EXCLUDED_URLS")
        assert excluded.matches("http://a/health") and excluded.matches("https://internal/x")
        assert excluded.matches("http://a/metrics") and not excluded.matches("http://a/users")


def test_a_plugins_own_typed_settings_warn_once_and_default(capsys):
    environ = {"OTEL_PYTHON_MYLIB_CAPTURE": "TRUE", "OTEL_PYTHON_MYLIB_MAX": "12",
               "OTEL_PYTHON_MYLIB_TIMEOUT": "250", "OTEL_PYTHON_MYLIB_TAGS": "a, b,,c",
               "OTEL_PYTHON_MYLIB_BAD": "maybe", "OTEL_PYTHON_MYLIB_MODE": "fast"}
    with InMemoryAgent(environ) as agent:
        settings = agent.settings
        assert settings.bool_value("OTEL_PYTHON_MYLIB_CAPTURE") is True
        assert settings.int_value("OTEL_PYTHON_MYLIB_MAX", 5) == 12
        assert settings.duration_value("OTEL_PYTHON_MYLIB_TIMEOUT", 1000) == 250
        assert settings.list_value("OTEL_PYTHON_MYLIB_TAGS") == ["a", "b", "c"]
        assert settings.lookup("OTEL_PYTHON_MYLIB_MODE") == "fast"
        assert settings.lookup("OTEL_PYTHON_MYLIB_UNSET", "d") == "d"
        assert settings.int_value("OTEL_PYTHON_MYLIB_UNSET", 7) == 7
        capsys.readouterr()
        assert settings.bool_value("OTEL_PYTHON_MYLIB_BAD", True) is True
        assert settings.bool_value("OTEL_PYTHON_MYLIB_BAD", True) is True
        assert settings.int_value("OTEL_PYTHON_MYLIB_MODE", 3) == 3

        def mode(text):
            if text not in ("fast", "safe"):
                raise ValueError("expected fast or safe")
            return text

        assert settings.plugin_value("OTEL_PYTHON_MYLIB_MODE", mode, "safe") == "fast"
        with pytest.raises(ValueError):
            settings.bool_value("MYLIB_CAPTURE")          # not an OTEL_* variable
    err = capsys.readouterr().err
    bad = [line for line in err.splitlines() if "OTEL_PYTHON_MYLIB_BAD" in line]
    assert len(bad) == 1 and "'maybe'" in bad[0] and "expected true or false" in bad[0]
    assert len([line for line in err.splitlines() if "OTEL_PYTHON_MYLIB_MODE" in line]) == 1


def test_get_current_span_in_a_wrapper_outside_any_span_is_not_none(library):
    seen = []

    class Looking(CallPlugin):
        def _call(self, wrapped, instance, args, kwargs):
            seen.append(get_current_span())
            return wrapped(*args, **kwargs)

    with InMemoryAgent() as agent:
        agent.instrument(Looking())
        library.work(1)
    assert seen[0].is_recording() is False and seen[0].get_span_context().is_valid is False

"""uvicorn: the exit flush of a server stopped by a signal (no spans of its own; the
requests are traced by the ASGI framework's instrumentor).

uvicorn (0.29 and later) catches SIGTERM/SIGINT while it serves, shuts down gracefully,
puts the previous handlers back and then raises the same signal again, so the process
ends the way the signal asks. When the previous handler was the default one (SIGTERM
in a plain process, either signal in a gunicorn ``UvicornWorker``, which resets them)
that ends the process on the spot: no ``atexit``, no ``finally``, so whatever a
worker queued would be lost. ``Server.capture_signals`` is wrapped so that, after the
graceful shutdown and before the signal is raised again, the agent flushes and shuts
down within its exit bound (``OTEL_PYTHON_EXIT_TIMEOUT``), once. This covers
``uvicorn app``, each ``--workers`` process, the ``--reload`` child and gunicorn's
uvicorn workers. A signal the application handles itself is left to it (the process
goes on, and exits the usual way).
"""

from otel_autoinstrument.instrumentation import Instrumentor, internal_error


class UvicornInstrumentor(Instrumentor):
    name = "uvicorn"
    requires = ("uvicorn >= 0.20",)
    modules = ("uvicorn.server",)

    def patches(self):
        from uvicorn.server import Server

        if "capture_signals" not in Server.__dict__:
            return []  # before 0.29: signals are not raised again, atexit flushes
        return [("uvicorn.server", "Server.capture_signals", self._capture_signals)]

    def _capture_signals(self, wrapped, instance, args, kwargs):
        manager = wrapped(*args, **kwargs)
        try:
            return _FlushBeforeSignal(manager, instance, self.agent)
        except Exception:
            internal_error("wrapping uvicorn's signal handling")
            return manager


class _FlushBeforeSignal:
    """uvicorn's ``capture_signals()`` context, flushing before a fatal re-raise."""

    __slots__ = ("manager", "server", "agent", "defaults")

    def __init__(self, manager, server, agent):
        self.manager = manager
        self.server = server
        self.agent = agent
        self.defaults = ()

    def __enter__(self):
        try:
            import signal

            # The handlers uvicorn will put back: which signals will end the process.
            self.defaults = {sig for sig in (signal.SIGINT, signal.SIGTERM)
                             if signal.getsignal(sig) == signal.SIG_DFL}
        except Exception:
            internal_error("reading the signal handlers before uvicorn serves")
        return self.manager.__enter__()

    def __exit__(self, *exc):
        try:
            captured = getattr(self.server, "_captured_signals", ())
            if self.defaults and any(sig in self.defaults for sig in captured):
                self.agent.shutdown()
        except Exception:
            internal_error("flushing before uvicorn raises its signal again")
        return self.manager.__exit__(*exc)

"""Contrib instrumentors (``opentelemetry-instrumentation-*``) running on the agent's core.

``activate``: the application imported a library a contrib package instruments (planned
in ``agent/contrib.py``): the package is loaded and its ``instrument()`` called, as the
official agent does. Its tracer comes from the API's global provider, the agent's, so
its spans are the core's (sampling, limits, redaction, export). Versions were checked
from metadata, so the package's own check (which imports ``importlib.metadata``) is
skipped. Unless the application chose otherwise, ``OTEL_SEMCONV_STABILITY_OPT_IN`` is
``http,database``: contrib spans use the stable conventions the agent's own spans use.

``neutralize``: the application imported a contrib package whose library one of the
agent's own instrumentors traces (``FlaskInstrumentor().instrument_app(app)``,
``RequestsInstrumentor().instrument()`` in the application's code). Under the official
agent such a call is a no-op because auto-instrumentation already instrumented the
library; here the agent's instrumentor did, so the package's instrumenting methods
(``_instrument``, ``instrument_*``) become no-ops that say so once: one span per
operation, never two, and no exception.
"""

import os

from .. import _log

SEMCONV_VARIABLE = "OTEL_SEMCONV_STABILITY_OPT_IN"


def activate(agent, state, module):
    if state.status != "waiting":
        return
    os.environ.setdefault(SEMCONV_VARIABLE, "http,database")
    try:
        instrumentor = state.entry_point.load()()
        instrumentor.instrument(skip_dep_check=True)
    except Exception as exc:
        state.status, state.detail = "failed", "%s: %s" % (type(exc).__name__, exc)
        _log.error("contrib instrumentor %s (%s) disabled: %s: %s; the application runs on without it",
                   state.name, state.entry_point.value, type(exc).__name__, exc)
        if _log.STRICT:
            raise
        return
    state.instrumentor = instrumentor
    state.status, state.detail = "active", "loaded on import of " + module.__name__
    _log.debug("contrib instrumentor %s active", state.name)


def neutralize(agent, state, module):
    cls = module
    for part in state.entry_point.value.partition(":")[2].strip().split("."):
        cls = getattr(cls, part)
    for name, value in list(vars(cls).items()):
        if name in ("_instrument", "_uninstrument") or name.startswith(("instrument_", "uninstrument_")):
            setattr(cls, name, _ignored(value, cls.__name__ + "." + name, state))


def _ignored(value, qualified, state):
    """A no-op in place of an instrumenting method (static, class or plain), logged once.
    ``instrument_connection(conn)`` and the like hand back the object they were given."""
    said = []
    first = 0 if isinstance(value, staticmethod) else 1  # index of the first real argument

    def ignored(*args, **kwargs):
        if not said:
            said.append(True)
            _log.info("%s() ignored: %s (no duplicate spans)", qualified, state.detail)
        if qualified.endswith(("._instrument", "._uninstrument")):
            return None
        return args[first] if len(args) > first else None

    ignored.__name__ = qualified.rpartition(".")[2]
    ignored.__doc__ = getattr(value, "__doc__", None)
    if isinstance(value, staticmethod):
        return staticmethod(ignored)
    if isinstance(value, classmethod):
        return classmethod(ignored)
    return ignored

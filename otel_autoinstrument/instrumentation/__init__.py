"""The plugin API: what an instrumentor is, and everything an instrumentor may import.

Built-in instrumentors and third-party plugins use exactly this module. An
instrumentor is mostly data::

    class FlaskInstrumentor(Instrumentor):
        name = "flask"
        requires = ("flask >= 2.2",)        # distributions and version ranges
        modules = ("flask",)                # importing one of these triggers instrument()

        def patches(self):                  # (module, "Class.attribute", wrapper)
            return [("flask.app", "Flask.wsgi_app", self._wsgi_app)]

Registered in the plugin's own ``pyproject.toml``::

    [project.entry-points."otel_autoinstrument.instrumentors"]
    flask = "my_package.flask:FlaskInstrumentor"

The agent loads the class at start (so keep the module's imports light: import the
library and wrapt inside methods), checks ``requires`` when a module in ``modules`` is
first imported, then calls ``instrument(agent)``. The base ``instrument`` applies
``patches()`` with wrapt where each attribute is defined and remembers the originals;
``uninstrument`` restores them in reverse. Both are idempotent. An instrumentor that
needs more (event listeners, signals) overrides ``_instrument`` / ``_uninstrument``.

``imported_before_start`` is True when a module in ``modules`` was imported before the
agent started (a late ``start()``, a ``.pth`` file): objects the library made before then
may exist, and an instrumentor that keeps state on them (SQLAlchemy's engines) can look
for them; otherwise nothing can exist yet and the search is skipped.

``agent`` gives the instrumentor what it needs from the core: ``agent.tracer``,
``agent.settings`` (the one config object: instrumentors never read os.environ),
``agent.propagator`` and ``agent.logs`` (the log pipeline, or None).

Wrappers follow one shape: a guarded start that may give up (``capture_internal_errors``),
exactly one unguarded call of the original so the application's exceptions pass
through untouched, and a guarded finish.
"""

from .. import _log, semconv  # noqa: F401  (re-exported for plugins)
from .._log import capture_internal_errors, internal_error  # noqa: F401
from ..propagation import Carried  # noqa: F401
from ..trace.context import (  # noqa: F401
    attach, detach, get_baggage, get_current_span, is_suppressed, reset_baggage, set_baggage)
from ..trace.span import (  # noqa: F401
    INVALID_SPAN, NonRecordingSpan, Scope, Span, SpanContext, SpanKind, StatusCode, qualified_type)

# The tracer module (and the ``random`` and ``functools`` it imports) loads with the
# first span, not when the instrumentors are discovered at start-up.
_LAZY = {"current_span": "trace.tracer", "use_span": "trace.tracer", "ExcludedUrls": "instrumentation.http"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module("otel_autoinstrument." + module), name)


class _LazyTracer:
    """``instrumentor.tracer``, built on first use and then a plain instance attribute:
    patching ``logging`` at import must not build the whole export pipeline."""

    def __get__(self, instrumentor, owner=None):
        if instrumentor is None:
            return self
        name = "otel_autoinstrument." + instrumentor.name if instrumentor.name else type(instrumentor).__module__
        tracer = instrumentor.agent.tracer(name)
        instrumentor.__dict__["tracer"] = tracer
        return tracer


class Instrumentor:
    tracer = _LazyTracer()
    name = ""
    requires = ()
    modules = ()
    imported_before_start = False

    def __init__(self):
        self.agent = None
        self.settings = None
        self._applied = []
        self._instrumented = False

    def patches(self):
        """``[(module, "Class.attribute" or "function", wrapper(wrapped, instance, args, kwargs))]``."""
        return []

    def instrument(self, agent):
        if self._instrumented:
            return
        self.agent = agent
        self.settings = agent.settings
        try:
            self._apply_patches()
            self._instrument()
        except Exception:
            self.uninstrument()
            raise
        self._instrumented = True

    def uninstrument(self):
        try:
            self._uninstrument()
        finally:
            while self._applied:
                owner, attribute, original = self._applied.pop()
                setattr(owner, attribute, original)
            self._instrumented = False

    def _instrument(self):
        """Extra work beyond ``patches()``; override in subclasses."""

    def _uninstrument(self):
        """Undo ``_instrument``; override in subclasses."""

    def _apply_patches(self):
        import importlib

        for module_name, path, wrapper in self.patches():
            owner, attribute = _resolve(importlib.import_module(module_name), path)
            original = wrap(owner, attribute, wrapper)
            if original is not None:
                self._applied.append((owner, attribute, original))


def _resolve(module, path):
    """``"Class.method"`` -> (Class, "method"); the attribute must be defined on that
    class itself (wrapping an inherited one would shadow it in the wrong place)."""
    parts = path.split(".")
    owner = module
    for part in parts[:-1]:
        owner = getattr(owner, part)
    attribute = parts[-1]
    if isinstance(owner, type) and attribute not in owner.__dict__:
        raise LookupError("%s is not defined on %s itself" % (path, owner.__qualname__))
    return owner, attribute


_wrapper_type = None


def _agent_wrapper_type():
    """A ``wrapt.FunctionWrapper`` subclass, so the agent recognises its own wrappers."""
    global _wrapper_type
    if _wrapper_type is None:
        import wrapt

        class AgentFunctionWrapper(wrapt.FunctionWrapper):
            """A wrapper installed by otel-autoinstrument."""

        _wrapper_type = AgentFunctionWrapper
    return _wrapper_type


def is_agent_wrapper(obj):
    return _wrapper_type is not None and isinstance(obj, _wrapper_type)


def wrap(owner, attribute, wrapper):
    """Wrap ``owner.attribute`` (as defined there, descriptors included) with
    ``wrapper(wrapped, instance, args, kwargs)``; returns the original, or None if the
    agent had already wrapped it."""
    original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
    wrapper_type = _agent_wrapper_type()
    if isinstance(original, wrapper_type):
        return None
    setattr(owner, attribute, wrapper_type(original, wrapper))
    return original


def version_tuple(text):
    """``"2.2.1rc1"`` -> (2, 2, 1): the numeric release part, enough for range checks."""
    parts = []
    for piece in text.split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    return tuple(parts)


_OPERATORS = (">=", "<=", "==", "!=", "~=", ">", "<")


def satisfies(version, specifier):
    """Does ``version`` meet ``specifier`` (e.g. ``>= 2.2, < 4``)?"""
    have = version_tuple(version)
    for clause in specifier.split(","):
        clause = clause.strip()
        if not clause:
            continue
        op = next((o for o in _OPERATORS if clause.startswith(o)), None)
        want = version_tuple(clause[len(op):].strip()) if op else ()
        if not want:  # no operator, or no version after it (">> 2" is not "> 2")
            raise ValueError("bad version clause %r" % clause)
        width = max(len(have), len(want))
        a = have + (0,) * (width - len(have))
        b = want + (0,) * (width - len(want))
        ok = {">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b, ">": a > b, "<": a < b,
              "~=": a >= b and a[: len(want) - 1] == b[: len(want) - 1]}[op]
        if not ok:
            return False
    return True


def split_requirement(requirement):
    """``"flask >= 2.2"`` -> ("flask", ">= 2.2")."""
    for i, ch in enumerate(requirement):
        if ch in "<>=!~ ;[":
            return requirement[:i].strip(), requirement[i:].split(";", 1)[0].strip()
    return requirement.strip(), ""


def log_pipeline_record():
    """The log record class that ``agent.logs.emit()`` takes."""
    from ..logs.record import LogRecord

    return LogRecord

"""The ``Instrumentor`` base class and the patches it applies.

A patch is a wrapt ``FunctionWrapper`` of the agent's own subclass that remembers the
instrumentor class that applied it. That gives three guarantees no wrapper has to
remember on its own:

* **Suppression.** Where instrumentation is suppressed (the agent's own export thread,
  or a block under ``suppressed()``) every patch calls straight through to the
  original: one context-variable read, before any plugin code runs. So a plugin for
  the HTTP library the exporter uses never traces the agent's own traffic.
* **Stacking.** "Already wrapped" means "already wrapped by this instrumentor class",
  not "wrapped by some agent wrapper": two instrumentors patching the same method
  nest, and each runs once per call. Instrumenting again never wraps twice.
* **Undo from anywhere.** ``uninstrument()`` takes its own wrapper out of the chain
  wherever it sits (outermost or under another instrumentor's), leaving the others.
  Under a wrapper the agent did not make, it is switched off in place instead.
"""

from __future__ import annotations

from ..trace.context import _suppressed

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at start-up
    from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

    from ..config import Settings
    from ..metrics.instruments import Meter
    from ..trace.tracer import Tracer
    from .protocols import AgentAPI

    Wrapper = Callable[[Callable[..., Any], Any, Tuple[Any, ...], Dict[str, Any]], Any]
    Patch = Tuple[str, str, Callable[..., Any]]  # (module, "Class.attribute", a Wrapper)
    F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Instrumentor", "unwrap", "wrap"]


def scope_name(instrumentor: Instrumentor) -> str:
    """The instrumentation scope of an instrumentor's spans and log events."""
    return "otel_autoinstrument." + instrumentor.name if instrumentor.name else type(instrumentor).__module__


class _LazyTracer:
    """``instrumentor.tracer``, built on first use and then a plain instance attribute:
    patching ``logging`` at import must not build the whole export pipeline."""

    def __get__(self, instrumentor: Optional[Instrumentor], owner: Any = None) -> Any:
        if instrumentor is None:
            return self
        tracer = instrumentor.agent.tracer(scope_name(instrumentor))
        instrumentor.__dict__["tracer"] = tracer
        return tracer


class _LazyMeter:
    """``instrumentor.meter``, built on first use (the metrics pipeline with it); a meter
    whose instruments record nothing when metrics are off or the agent has none."""

    def __get__(self, instrumentor: Optional[Instrumentor], owner: Any = None) -> Any:
        if instrumentor is None:
            return self
        get_meter = getattr(instrumentor.agent, "meter", None)
        if get_meter is None:  # an agent of a test or an older core: metrics off
            from ..metrics.instruments import NOOP_METER

            meter: Any = NOOP_METER
        else:
            meter = get_meter(scope_name(instrumentor))
        instrumentor.__dict__["meter"] = meter
        return meter


class Instrumentor:
    """Base class of every instrumentor, built-in or plugin.

    Subclasses set ``name`` (what OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names),
    ``requires`` (PEP 508 requirements on the instrumented distributions, e.g.
    ``"flask >= 2.2"``), ``modules`` (importing one of them triggers ``instrument``)
    and return their patches from ``patches()``; ``_instrument``/``_uninstrument`` do
    anything else (event listeners, signals).
    """

    tracer: Tracer = _LazyTracer()  # type: ignore[assignment]
    meter: Meter = _LazyMeter()  # type: ignore[assignment]
    name: str = ""
    requires: Tuple[str, ...] = ()
    modules: Tuple[str, ...] = ()
    # True when a module in ``modules`` was imported before the agent started (see the
    # plugin API's docstring): objects the library made before then may exist.
    imported_before_start: bool = False

    def __init__(self) -> None:
        self.agent: AgentAPI = None  # type: ignore[assignment]  # set by instrument()
        self.settings: Settings = None  # type: ignore[assignment]
        self._applied: List[Tuple[Any, str, _PatchState]] = []
        self._instrumented = False

    def patches(self) -> Iterable[Patch]:
        """``[(module, "Class.attribute" or "function", wrapper)]``, each wrapper called
        as ``wrapper(wrapped, instance, args, kwargs)``. Called by ``instrument``, after
        ``agent``, ``settings`` and ``tracer`` are available."""
        return []

    def instrument(self, agent: AgentAPI) -> None:
        """Apply ``patches()`` then ``_instrument()``; idempotent. On an exception,
        everything applied so far is undone and the exception propagates."""
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

    def uninstrument(self) -> None:
        """Undo ``_instrument()`` and every patch this instrumentor applied; idempotent."""
        try:
            self._uninstrument()
        finally:
            while self._applied:
                owner, attribute, state = self._applied.pop()
                if state.instrumentor is self:
                    unwrap(owner, attribute, state.key)
            self._instrumented = False

    def _instrument(self) -> None:
        """Extra work beyond ``patches()``; override in subclasses."""

    def _uninstrument(self) -> None:
        """Undo ``_instrument``; override in subclasses."""

    def hook(self, callback: F) -> F:
        """``callback`` (an event listener, a signal receiver) made to do nothing and
        return None where instrumentation is suppressed, as patches do."""
        suppressed = _suppressed.get

        def hooked(*args: Any, **kwargs: Any) -> Any:
            if suppressed():
                return None
            return callback(*args, **kwargs)

        hooked.__wrapped__ = callback  # type: ignore[attr-defined]
        return hooked  # type: ignore[return-value]

    @property
    def patch_key(self) -> str:
        """What identifies this instrumentor's wrappers: its class."""
        cls = type(self)
        return cls.__module__ + "." + cls.__qualname__

    def _apply_patches(self) -> None:
        import importlib

        for module_name, path, wrapper in self.patches():
            owner, attribute = _resolve(importlib.import_module(module_name), path)
            state = wrap(owner, attribute, wrapper, self.patch_key)
            state.instrumentor = self
            self._applied.append((owner, attribute, state))


def _resolve(module: Any, path: str) -> Tuple[Any, str]:
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


# --- the wrappers --------------------------------------------------------------------


class _PatchState:
    """One applied patch: whose it is, and the wrapper function it runs (None: off)."""

    __slots__ = ("key", "wrapper", "instrumentor")

    def __init__(self, key: str, wrapper: Optional[Wrapper]) -> None:
        self.key = key
        self.wrapper = wrapper
        self.instrumentor: Optional[Instrumentor] = None


def _guarded(state: _PatchState) -> Wrapper:
    suppressed = _suppressed.get

    def guarded(wrapped: Callable[..., Any], instance: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        wrapper = state.wrapper
        if wrapper is None or suppressed():
            return wrapped(*args, **kwargs)
        return wrapper(wrapped, instance, args, kwargs)

    return guarded


_wrapper_type: Any = None


def _agent_wrapper_type() -> Any:
    """A ``wrapt.FunctionWrapper`` subclass, so the agent recognises its own wrappers."""
    global _wrapper_type
    if _wrapper_type is None:
        import wrapt

        class AgentFunctionWrapper(wrapt.FunctionWrapper):
            """A wrapper installed by otel-autoinstrument (``_self_otel_state``: whose)."""

        _wrapper_type = AgentFunctionWrapper
    return _wrapper_type


def is_agent_wrapper(obj: Any) -> bool:
    return _wrapper_type is not None and isinstance(obj, _wrapper_type)


def _defined(owner: Any, attribute: str) -> Any:
    """The attribute as defined on ``owner`` (descriptors unbound for a class)."""
    return owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)


def _chain(obj: Any) -> Iterable[Any]:
    """``obj`` and everything it wraps, outermost first (wrapt proxies and functools-style
    ``__wrapped__``), bounded against a proxy that wraps itself."""
    for _ in range(64):
        yield obj
        inner = getattr(obj, "__wrapped__", None) if _is_proxy(obj) else None
        if inner is None:
            return
        obj = inner


def _is_proxy(obj: Any) -> bool:
    import wrapt

    return isinstance(obj, wrapt.ObjectProxy)


def _find(owner: Any, attribute: str, key: str) -> Tuple[Any, Any]:
    """(the wrapper of ``key`` on ``owner.attribute``, the proxy directly around it or None)."""
    outer = None
    for node in _chain(_defined(owner, attribute)):
        if is_agent_wrapper(node) and node._self_otel_state.key == key:
            return node, outer
        outer = node
    return None, None


def wrap(owner: Any, attribute: str, wrapper: Wrapper, key: str) -> _PatchState:
    """Wrap ``owner.attribute`` (as defined there, descriptors included) with
    ``wrapper(wrapped, instance, args, kwargs)``, identified by ``key``.

    If a wrapper of ``key`` is already in the attribute's chain, it now runs ``wrapper``
    instead (instrumenting twice never wraps twice). Returns the patch's state."""
    _agent_wrapper_type()
    existing, _ = _find(owner, attribute, key)
    if existing is not None:
        found: _PatchState = existing._self_otel_state
        found.wrapper = wrapper
        return found
    state = _PatchState(key, wrapper)
    proxy = _wrapper_type(_defined(owner, attribute), _guarded(state))
    proxy._self_otel_state = state
    setattr(owner, attribute, proxy)
    return state


def unwrap(owner: Any, attribute: str, key: str) -> bool:
    """Take the wrapper of ``key`` out of ``owner.attribute``'s chain; returns whether
    one was found. Under a wrapper the agent did not make it is switched off instead
    (that wrapper keeps a reference to it)."""
    found, outer = _find(owner, attribute, key)
    if found is None:
        return False
    found._self_otel_state.wrapper = None  # also off in bound methods the app kept
    if outer is None:
        setattr(owner, attribute, found.__wrapped__)
    elif is_agent_wrapper(outer):
        outer.__wrapped__ = found.__wrapped__
    return True

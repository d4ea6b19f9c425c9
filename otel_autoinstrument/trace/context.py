"""The active span, baggage and instrumentation suppression, kept in ``contextvars``.

Each thread and each asyncio task sees its own values, and ``contextvars.copy_context``
carries them into executors. Three variables rather than one immutable mapping: the
hot path (find the parent, make a span current) touches exactly one of them.
"""

from __future__ import annotations

from contextvars import ContextVar

from .span import INVALID_SPAN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextvars import Token
    from typing import Any, Dict, Optional, Union

    from .span import NonRecordingSpan, Span

    AnySpan = Union[Span, NonRecordingSpan]

_span: ContextVar[Optional[AnySpan]] = ContextVar("otel_autoinstrument.span", default=None)
_baggage: ContextVar[Optional[Dict[str, str]]] = ContextVar("otel_autoinstrument.baggage", default=None)
_suppressed: ContextVar[bool] = ContextVar("otel_autoinstrument.suppressed", default=False)


def get_current_span() -> AnySpan:
    """The span active in this context; outside any span, ``INVALID_SPAN`` (a
    non-recording span with an invalid context), never None, as in OpenTelemetry."""
    span = _span.get()
    return INVALID_SPAN if span is None else span


def attach(span: Optional[AnySpan]) -> Token[Any]:
    """Make ``span`` current; returns a token for ``detach``."""
    return _span.set(span)


def detach(token: Token[Any]) -> None:
    try:
        _span.reset(token)
    except ValueError:
        # A token created in another context (a generator resumed elsewhere, a
        # callback run by another task): the span is already not current there.
        pass


def get_baggage() -> Optional[Dict[str, str]]:
    """The baggage entries (a dict, treat as read-only) of this context, or None."""
    return _baggage.get()


def set_baggage(entries: Optional[Dict[str, str]]) -> Token[Any]:
    """Replace the baggage of this context; returns a token for ``reset_baggage``."""
    return _baggage.set(entries or None)


def reset_baggage(token: Token[Any]) -> None:
    try:
        _baggage.reset(token)
    except ValueError:
        pass


def is_suppressed() -> bool:
    """True where instrumentations must create no spans (the agent's own export).
    Patches applied through ``Instrumentor.patches()`` check it themselves."""
    return _suppressed.get()


def suppress() -> Token[bool]:
    """Suppress instrumentation in this context (the export thread calls it once)."""
    return _suppressed.set(True)


def unsuppress(token: Token[bool]) -> None:
    _suppressed.reset(token)


class suppressed:
    """``with suppressed():`` the block's own calls are not instrumented (a plugin's
    internal work, like the agent's export)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _suppressed.set(True)

    def __exit__(self, *exc: Any) -> None:
        _suppressed.reset(self._token)

# Types of the shared ASGI layer (asgi.py), checked against the module by mypy's stubtest
# (tests/unit/test_types.py).
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple, Union

from ..trace.span import NonRecordingSpan, Span
from ..trace.tracer import Tracer
from .http import HttpServer
from .instrumentor import Instrumentor
from .metrics import ServerRequest

__all__ = ["SCOPE_KEY", "AsgiRequest", "AsgiTracing", "TracedApp"]

SCOPE_KEY: str
DISCONNECT_EVENT: str

_Scope = Dict[str, Any]
_Receive = Callable[[], Awaitable[Dict[str, Any]]]
_Send = Callable[[Dict[str, Any]], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

class AsgiTracing:
    http: HttpServer
    tracer: Tracer
    route: Optional[Callable[[_Scope, Any], Optional[str]]]
    active: bool
    def __init__(self, instrumentor: Instrumentor, excluded_variable: Optional[str] = None,
                 route: Optional[Callable[[_Scope, Any], Optional[str]]] = None) -> None: ...
    def wants(self, scope: _Scope) -> bool: ...
    def wrap_app(self, app: _App, owner: Any = None) -> TracedApp: ...
    def __call__(self, wrapped: Callable[..., Any], instance: Any, args: Tuple[Any, ...],
                 kwargs: Dict[str, Any]) -> Any: ...
    async def handle(self, app: _App, scope: _Scope, receive: _Receive, send: _Send, owner: Any = None) -> Any: ...

class AsgiRequest:
    tracing: AsgiTracing
    span: Union[Span, NonRecordingSpan]
    scope: _Scope
    method: Optional[str]
    route: Optional[str]
    measure: Optional[ServerRequest]  # None: metrics off, or a WebSocket
    def __init__(self, tracing: AsgiTracing, span: Union[Span, NonRecordingSpan], scope: _Scope,
                 method: Optional[str], baggage: Optional[Dict[str, str]], receive: _Receive, send: _Send,
                 owner: Any) -> None: ...
    def set_route(self, route: str) -> None: ...
    def event_facts(self) -> Dict[str, Any]: ...
    def record_exception(self, exc: BaseException) -> None: ...

class TracedApp:
    app: _App
    tracing: AsgiTracing
    owner: Any
    def __init__(self, app: _App, tracing: AsgiTracing, owner: Any = None) -> None: ...
    def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> Awaitable[None]: ...

# Types of the shared WSGI layer (wsgi.py), checked against the module by mypy's
# stubtest (tests/unit/test_types.py).
from typing import Any, Callable, Dict, Optional, Tuple, Union

from ..trace.span import NonRecordingSpan, Span
from ..trace.tracer import Tracer
from .http import ExcludedUrls, HttpServer
from .instrumentor import Instrumentor
from .metrics import ServerRequest
from .protocols import PropagatorAPI

__all__ = ["ENVIRON_KEY", "WsgiRequest", "WsgiTracing"]

ENVIRON_KEY: str

class WsgiTracing:
    http: HttpServer
    tracer: Tracer
    propagator: PropagatorAPI
    excluded: Optional[ExcludedUrls]
    enduser: Optional[Callable[[], Any]]
    chunks: Optional[Callable[[Any, WsgiRequest], Any]]
    route_of: Optional[Callable[[WsgiRequest], Optional[str]]]
    def __init__(self, instrumentor: Instrumentor, excluded_variable: Optional[str] = None,
                 chunks: Optional[Callable[[Any, WsgiRequest], Any]] = None,
                 route_of: Optional[Callable[[WsgiRequest], Optional[str]]] = None) -> None: ...
    def __call__(self, wrapped: Callable[..., Any], instance: Any, args: Tuple[Any, ...],
                 kwargs: Dict[str, Any]) -> Any: ...
    def span_name(self, method: str, route: Optional[str]) -> str: ...
    def proxy_header(self, environ: Dict[str, Any]) -> Optional[str]: ...

class WsgiRequest:
    tracing: WsgiTracing
    span: Union[Span, NonRecordingSpan]
    environ: Optional[Dict[str, Any]]
    route: Optional[str]
    measure: Optional[ServerRequest]  # the request's metrics, when on
    def __init__(self, tracing: WsgiTracing, span: Union[Span, NonRecordingSpan], method: str,
                 baggage: Optional[Dict[str, str]], environ: Optional[Dict[str, Any]] = None) -> None: ...
    def set_route(self, route: str) -> None: ...
    def event_facts(self) -> Dict[str, Any]: ...
    def record_exception(self, exc: BaseException) -> None: ...
    def traced_next(self, next_function: Callable[[], Any]) -> Callable[[], Any]: ...
    def watched_next(self, next_function: Callable[[], Any]) -> Callable[[], Any]: ...

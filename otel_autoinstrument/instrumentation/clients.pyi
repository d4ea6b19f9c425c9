# Types of the client call bookkeeping (clients.py), checked against the module by mypy's
# stubtest (tests/unit/test_types.py).
from contextvars import Token
from typing import Any, Callable, Dict, Optional, Tuple

from ..trace.span import NonRecordingSpan, Span

__all__ = ["ClientCall", "ClientCalls", "client_request_handled", "handle_client_request",
           "release_client_request"]

def client_request_handled() -> bool: ...
def handle_client_request() -> Token[bool]: ...
def release_client_request(token: Token[bool]) -> None: ...

class ClientCall:
    parent: Optional[Any]
    first: Optional[Any]
    sent: int
    def __init__(self, parent: Optional[Any]) -> None: ...

class ClientCalls:
    def __init__(self, library: str) -> None: ...
    def current(self) -> Optional[ClientCall]: ...
    def wrapper(self, wrapped: Callable[..., Any], instance: Any, args: Tuple[Any, ...],
                kwargs: Dict[str, Any]) -> Any: ...
    def async_wrapper(self, wrapped: Callable[..., Any], instance: Any, args: Tuple[Any, ...],
                      kwargs: Dict[str, Any]) -> Any: ...

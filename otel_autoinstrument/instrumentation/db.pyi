# Types of the database helpers (db.py), the stable part of the plugin API; checked
# against the module by mypy's stubtest (tests/unit/test_types.py).
from typing import Any, Dict, Optional, Tuple, Union

from ..config import Settings
from ..trace.span import NonRecordingSpan, Span
from ..trace.tracer import Tracer

_AnySpan = Union[Span, NonRecordingSpan]

__all__ = ["DbSpans", "db_system_name", "sanitize_sql", "span_name_for", "summarize_sql"]

def db_system_name(dialect_or_vendor: str) -> str: ...
def sanitize_sql(statement: str) -> str: ...
def summarize_sql(statement: str) -> Tuple[Optional[str], Optional[str]]: ...
def span_name_for(operation: Optional[str], collection: Optional[str], system: Optional[str]) -> str: ...

class DbSpans:
    tracer: Tracer
    sanitize: bool
    length_limit: Optional[int]
    def __init__(self, tracer: Tracer, settings: Settings) -> None: ...
    def target(self, system: str, namespace: Optional[str] = None, address: Optional[str] = None,
               port: Any = None) -> Dict[str, Any]: ...
    def start(self, target: Dict[str, Any], statement: Union[str, bytes, Any]) -> _AnySpan: ...
    @staticmethod
    def finish(span: _AnySpan, error: Optional[BaseException] = None) -> None: ...

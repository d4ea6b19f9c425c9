"""The agent as the plugin API types it: what ``instrumentor.agent`` provides.

For type checkers only (the agent itself is ``agent.startup.Agent``); nothing imports
this module at run time.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, Union

from ..config import Settings
from ..logs.record import LogPipeline
from ..metrics.instruments import Meter, NoopMeter
from ..propagation import Carried
from ..resource import Resource
from ..trace.span import NonRecordingSpan, Span
from ..trace.tracer import Tracer

__all__ = ["AgentAPI", "PropagatorAPI"]


class PropagatorAPI(Protocol):
    """The configured propagators (OTEL_PROPAGATORS) as one."""

    fields: tuple[str, ...]

    def extract(self, get: Callable[[str], Optional[str]]) -> Carried:
        """The remote parent and baggage a carrier holds; ``get(header name) -> value or None``."""

    def inject(self, set_header: Callable[[str, str], Any], span: Optional[Union[Span, NonRecordingSpan]] = None) -> None:
        """Write the propagation headers of ``span`` (default: the current span) and baggage."""


class AgentAPI(Protocol):
    """What an instrumentor receives from the core."""

    settings: Settings

    def tracer(self, name: str, version: str = "") -> Tracer:
        """A tracer whose spans carry the instrumentation scope ``name``."""

    def meter(self, name: str, version: str = "", schema_url: str = "",
              attributes: Optional[dict[str, Any]] = None) -> Union[Meter, NoopMeter]:
        """A meter of the instrumentation scope ``name`` (``enabled`` False when metrics are off)."""

    @property
    def propagator(self) -> PropagatorAPI: ...

    @property
    def logs(self) -> Optional[LogPipeline]:
        """The log pipeline (``emit(log_pipeline_record()(...))``), or None when logs are off."""

    @property
    def resource(self) -> Resource: ...

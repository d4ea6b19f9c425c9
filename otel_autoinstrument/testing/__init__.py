"""A testing kit for instrumentors: the real agent with spans and log records kept in
memory, and assertions on them, so a plugin's tests need no OTLP receiver::

    from otel_autoinstrument.testing import InMemoryAgent, assert_child_of

    def test_render_is_traced():
        with InMemoryAgent() as agent:
            agent.instrument(Jinja2Instrumentor())
            with agent.tracer().start_as_current_span("request") as request:
                render("page.html")
            assert_child_of(agent.span(name="jinja2.render page.html"), request)

See docs/plugins.md. Imported only by tests, never by the running agent.
"""

from .agent import InMemoryAgent, MemoryProcessor, UnsupportedVersion
from .spans import (
    assert_attributes, assert_child_of, assert_root, assert_same_trace, describe, find_span, find_spans)

__all__ = ["InMemoryAgent", "MemoryProcessor", "UnsupportedVersion", "assert_attributes", "assert_child_of",
           "assert_root", "assert_same_trace", "describe", "find_span", "find_spans"]

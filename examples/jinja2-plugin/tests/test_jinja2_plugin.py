"""The Jinja2 plugin's tests, with otel-autoinstrument's testing kit: no receiver."""

from typing import Iterator

import jinja2
import pytest

from otel_autoinstrument.testing import InMemoryAgent, assert_attributes, assert_child_of
from otel_jinja2 import Jinja2Instrumentor

TEMPLATES = {"page.html": "<h1>{{ title }}</h1>{% include 'footer.html' %}", "footer.html": "<p>{{ year }}</p>",
             "broken.html": "{{ 1 / 0 }}"}


@pytest.fixture
def agent() -> Iterator[InMemoryAgent]:
    with InMemoryAgent() as agent:
        agent.instrument(Jinja2Instrumentor())
        yield agent


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES))


def test_rendering_a_template_from_a_loader(agent: InMemoryAgent) -> None:
    env = environment()
    with agent.tracer().start_as_current_span("request") as request:
        assert env.get_template("page.html").render(title="Hi", year=2026) == "<h1>Hi</h1><p>2026</p>"
    render = agent.span(name="jinja2.render")
    assert_attributes(render, {"jinja2.template_name": "page.html"})
    assert_child_of(render, request)
    load = agent.span(name="jinja2.load", attributes={"jinja2.template_name": "page.html"})
    assert_child_of(load, request)
    # The include is loaded and compiled while the page renders.
    assert_child_of(agent.span(name="jinja2.load", attributes={"jinja2.template_name": "footer.html"}), render)
    assert len(agent.find_spans(name="jinja2.compile")) == 2


def test_a_template_from_a_string_has_no_name(agent: InMemoryAgent) -> None:
    assert jinja2.Template("{{ 6 * 7 }}").render() == "42"
    assert "jinja2.template_name" not in agent.span(name="jinja2.render").attributes


def test_an_error_while_rendering_is_the_applications(agent: InMemoryAgent) -> None:
    with pytest.raises(ZeroDivisionError):
        environment().get_template("broken.html").render()
    render = agent.span(name="jinja2.render")
    assert render.status_code == 2 and render.attributes["error.type"] == "ZeroDivisionError"


def test_loading_spans_can_be_turned_off() -> None:
    with InMemoryAgent({"OTEL_PYTHON_JINJA2_TRACE_LOADING": "false"}) as agent:
        agent.instrument(Jinja2Instrumentor())
        environment().get_template("page.html").render(title="x", year=1)
        assert [s.name for s in agent.spans] == ["jinja2.render"]


def test_uninstrumented_after_the_agent_closes() -> None:
    with InMemoryAgent() as agent:
        agent.instrument(Jinja2Instrumentor())
    jinja2.Template("x").render()
    assert agent.spans == []

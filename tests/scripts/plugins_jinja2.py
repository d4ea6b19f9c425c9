"""Render a page (with an include) under the Jinja2 example plugin."""

import jinja2

from otel_autoinstrument import get_tracer

environment = jinja2.Environment(loader=jinja2.DictLoader({
    "page.html": "<h1>{{ title }}</h1>{% include 'footer.html' %}", "footer.html": "<p>bye</p>"}))
with get_tracer("plugins.jinja2").start_as_current_span("request"):
    print(environment.get_template("page.html").render(title="hello"), flush=True)

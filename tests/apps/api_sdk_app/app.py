"""The SDK tutorial set-up, with the official Flask and requests instrumentations called
by hand: under otel-run it must run, without an exception and without duplicate spans."""

import os

import requests
from flask import Flask
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

trace.set_tracer_provider(TracerProvider())
trace.get_tracer_provider().add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))

app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)
RequestsInstrumentor().instrument()
tracer = trace.get_tracer(__name__)


@app.route("/")
def index():
    with tracer.start_as_current_span("fetch"):
        requests.get(os.environ["UPSTREAM_URL"] + "/users/1", timeout=10)
    return "ok"

from flask import Flask
from opentelemetry import trace
app = Flask(__name__)
tracer = trace.get_tracer(__name__)

@app.route('/')
def hello():
    with tracer.start_as_current_span("example-span"):
        return "Hello, OpenTelemetry!"

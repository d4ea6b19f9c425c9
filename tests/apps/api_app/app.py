"""A Flask app that uses the OpenTelemetry API the ways applications do: reading the
current span, manual spans around a requests call and a SQLAlchemy query, baggage sent
downstream, a decorated function, a recorded exception, contrib-instrumented sqlite3 and
aiohttp calls, and a record through the logs API."""

import asyncio
import json
import os
import sqlite3

import requests
import sqlalchemy
from flask import Flask, request
from opentelemetry import baggage, context, trace
from opentelemetry.trace import format_span_id, format_trace_id

app = Flask(__name__)
tracer = trace.get_tracer("api_app", "2.0")
engine = sqlalchemy.create_engine("sqlite://")


@app.route("/ids")
def ids():
    span = trace.get_current_span()
    span.set_attribute("app.read", "yes")
    ctx = span.get_span_context()
    return {"trace_id": format_trace_id(ctx.trace_id), "span_id": format_span_id(ctx.span_id),
            "valid": ctx.is_valid, "recording": span.is_recording(), "sampled": ctx.trace_flags.sampled}


@app.route("/work")
def work():
    with tracer.start_as_current_span("work", attributes={"app.step": "work"}) as span:
        requests.get(os.environ["UPSTREAM_URL"] + "/users/1", timeout=10)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1")).fetchall()
        span.add_event("done", {"rows": 1})
    return "ok"


@app.route("/baggage")
def send_baggage():
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        response = requests.get(request.args["downstream"] + "/downstream", timeout=10)
    finally:
        context.detach(token)
    return response.text


@app.route("/downstream")
def downstream():
    tenant = baggage.get_baggage("tenant")
    trace.get_current_span().set_attribute("app.tenant", str(tenant))
    return str(tenant)


@tracer.start_as_current_span("decorated", kind=trace.SpanKind.INTERNAL)
def decorated():
    trace.get_current_span().set_attribute("app.decorated", True)
    return "decorated"


@app.route("/decorated")
def call_decorated():
    return decorated()


@app.route("/error")
def error():
    try:
        with tracer.start_as_current_span("failing"):
            raise ValueError("boom")
    except ValueError:
        return "handled"


async def _fetch(url):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            return await response.text()


@app.route("/contrib")
def contrib():
    connection = sqlite3.connect(":memory:")
    cursor = connection.cursor()
    cursor.execute("SELECT 42")
    value = cursor.fetchone()[0]
    connection.close()
    text = asyncio.run(_fetch(os.environ["AIOHTTP_URL"] + "/hello?token=secret-token"))
    return json.dumps({"value": value, "text": text})


@app.route("/log")
def log():
    from opentelemetry._logs import SeverityNumber, get_logger

    get_logger("api_app.events", "2.0").emit(severity_number=SeverityNumber.WARN, severity_text="WARN",
                                           body="stock low", attributes={"item": "widget"})
    return "logged"

"""A small Flask app for the metrics tests, knowing nothing about telemetry except
``app.hits``: a counter of its own (through otel_autoinstrument.get_meter, exported with
the agent's metrics) so tests can compare what the app counted with what arrived.

Routes: ``/ok``, ``/items/<int:item_id>`` (404 for an odd id), ``/fail`` (500, an
exception), ``/slow`` (sleeps 50 ms), ``/pid`` (the worker's pid).
"""

import os
import time

from flask import Flask, abort

from otel_autoinstrument import get_meter

app = Flask(__name__)
hits = get_meter("metrics_app").counter("app.hits", "{request}", "Requests the app saw")


@app.get("/ok")
def ok():
    hits.add(1, {"route": "/ok"})
    return "ok"


@app.get("/items/<int:item_id>")
def item(item_id):
    hits.add(1, {"route": "/items/<int:item_id>"})
    if item_id % 2:
        abort(404)
    return {"id": item_id}


@app.get("/fail")
def fail():
    hits.add(1, {"route": "/fail"})
    raise RuntimeError("boom")


@app.get("/slow")
def slow():
    hits.add(1, {"route": "/slow"})
    time.sleep(0.05)
    return "slow"


@app.get("/pid")
def pid():
    return str(os.getpid())

"""A small Flask shop used by the end-to-end tests.

It knows nothing about OpenTelemetry: the agent must instrument it from the
outside. Run it with `PORT=8000 python app.py`, `flask --app app run` or any
WSGI server pointing at `app:app`.

Environment: PORT (for `python app.py`), APP_DB_PATH (SQLite file; default
in-memory), UPSTREAM_URL (base URL used by /upstream).
"""

import logging
import os
import time

import requests
from flask import Flask, Response, jsonify, request, send_file
from sqlalchemy import create_engine, text

app = Flask(__name__)

# No logging.basicConfig(): handlers are the agent's business. The level is
# set so INFO records are emitted at all (the root logger defaults to WARNING).
logger = logging.getLogger("shop")
logger.setLevel(logging.INFO)

_db_path = os.environ.get("APP_DB_PATH")
engine = create_engine("sqlite:///" + _db_path if _db_path else "sqlite://")


@app.get("/")
def index():
    return "hello"


@app.get("/health")
def health():
    return "ok"


@app.get("/users/<int:user_id>")
def user(user_id):
    return jsonify({"id": user_id})


@app.get("/error")
def error():
    raise RuntimeError("boom")


@app.get("/stream")
def stream():
    def chunks():
        for chunk in ("a", "b", "c"):
            yield chunk

    return Response(chunks(), mimetype="text/plain")


@app.get("/slow-stream")
def slow_stream():
    # ?delay= seconds slept before each chunk after the first (default 0.1).
    delay = float(request.args.get("delay", "0.1"))

    def chunks():
        for i, chunk in enumerate(("a", "b", "c")):
            if i:
                time.sleep(delay)
            yield chunk

    return Response(chunks(), mimetype="text/plain")


@app.get("/file")
def file():
    # Served through wsgi.file_wrapper (sendfile under gunicorn).
    return send_file(__file__, mimetype="text/plain")


@app.get("/log")
def log():
    logger.info("handling %s", "log")
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("failed")
    return "logged"


@app.get("/db")
def db():
    with engine.connect() as connection:
        value = connection.execute(text("SELECT 1")).scalar()
    return str(value)


@app.get("/upstream")
def upstream():
    # ?path= picks another upstream path, e.g. /status/500 for error spans.
    path = request.args.get("path", "/users/7")
    response = requests.get(os.environ["UPSTREAM_URL"] + path, timeout=10)
    return jsonify({"status": response.status_code, "body": response.text})


@app.post("/echo")
def echo():
    return Response(
        request.get_data(),
        content_type=request.content_type or "application/octet-stream",
    )


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]))

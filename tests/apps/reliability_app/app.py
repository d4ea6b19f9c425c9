"""The application of the reliability tests: every request to /work does what a real
handler does (a database query, an outgoing HTTP request, a log line).

It knows nothing about OpenTelemetry. At import it warms its database up with one
query, so under a pre-forking server that imports the app in the master (gunicorn
--preload, uWSGI without --lazy-apps) the master makes a span and starts its export
thread before forking the workers: the workers must start fresh, export nothing twice
and never wait on that thread.

Environment: UPSTREAM_URL (base URL /work calls; /work skips the call when unset),
APP_DB_PATH (SQLite file; default in-memory).
"""

import logging
import os

import requests
from flask import Flask
from sqlalchemy import create_engine, text

logger = logging.getLogger("reliability")
logger.setLevel(logging.INFO)

_db_path = os.environ.get("APP_DB_PATH")
engine = create_engine("sqlite:///" + _db_path if _db_path else "sqlite://")
with engine.connect() as connection:
    connection.execute(text("SELECT 1"))  # warm-up, at import

app = Flask(__name__)
application = app  # uWSGI's default callable name
session = requests.Session()
session.trust_env = False


@app.get("/")
def index():
    return "ok"


@app.get("/work")
def work():
    with engine.connect() as connection:
        value = connection.execute(text("SELECT 1")).scalar()
    upstream = os.environ.get("UPSTREAM_URL")
    status = session.get(upstream + "/users/7", timeout=10).status_code if upstream else 0
    logger.info("work done: db=%s upstream=%s", value, status)
    return "db=%s upstream=%s" % (value, status)


@app.get("/pid")
def pid():
    return str(os.getpid())

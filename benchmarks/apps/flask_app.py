"""Flask app for the web scenarios (served by gunicorn: `gunicorn -w 1 flask_app:app`).

/trivial    returns a short string
/realistic  one SQLAlchemy query on SQLite, one `requests` call to the local
            upstream, one log line
Configured by env: BENCH_SQLITE_PATH (seeded by the harness), BENCH_UPSTREAM_URL.
"""
import itertools
import logging
import os
import sys

import requests
from flask import Flask
from sqlalchemy import create_engine, text

DB = os.environ.get("BENCH_SQLITE_PATH", "bench.sqlite")
UPSTREAM = os.environ.get("BENCH_UPSTREAM_URL", "http://127.0.0.1:9/")

engine = create_engine("sqlite:///" + DB)
ids = itertools.cycle(range(1, 101))

# Deterministic logging for every contender: an INFO-level stderr handler on the
# root logger (an agent may add its own handler next to it).
root = logging.getLogger()
root.setLevel(logging.INFO)
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
root.addHandler(_handler)
log = logging.getLogger("bench.flask")

app = Flask(__name__)


@app.route("/trivial")
def trivial():
    return "ok"


@app.route("/realistic")
def realistic():
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, name, value FROM item WHERE id = :id"),
                           {"id": next(ids)}).first()
    up = requests.get(UPSTREAM, timeout=10)
    log.info("served item %s (upstream %s)", row[0], up.status_code)
    return {"id": row[0], "name": row[1], "value": row[2], "upstream": up.status_code}

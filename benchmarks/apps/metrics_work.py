"""In-process cost of the operations that record metrics, run under a contender's launcher.

  python metrics_work.py UPSTREAM N_WSGI N_SQL N_HTTP WARMUP

Times, in this one process (no network anywhere, so the figures are steady enough to
show a few microseconds): N_WSGI requests through a Flask app's WSGI callable (environ
built per request, the body iterated and closed, as a server does), N_SQL SQLAlchemy
statements on an in-memory SQLite, N_HTTP ``requests`` calls through a session whose
transport adapter answers in process (``Session.send``, which every agent instruments,
runs in full; UPSTREAM only names the URL). One JSON line: µs of CPU per operation
(the process's CPU time, all its threads: what other load on a shared machine does to
the wall clock does not count). The harness runs it with metrics on and off and takes
the differences.
"""
import argparse
import io
import json
import time

import requests
from requests.adapters import BaseAdapter
from flask import Flask
from sqlalchemy import create_engine, text

app = Flask(__name__)


@app.get("/items/<int:item_id>")
def item(item_id):
    return "ok"


ENVIRON = {
    "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/items/7", "QUERY_STRING": "",
    "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http", "wsgi.multithread": False, "wsgi.multiprocess": True,
    "wsgi.run_once": False,
}


def _start_response(status, headers, exc_info=None):
    return None


def wsgi_request():
    environ = dict(ENVIRON)
    environ["wsgi.input"] = io.BytesIO(b"")
    environ["wsgi.errors"] = io.StringIO()
    body = app(environ, _start_response)
    for _ in body:
        pass
    close = getattr(body, "close", None)
    if close is not None:
        close()


class InProcessAdapter(BaseAdapter):
    """Answers every request with 200 "ok" without a socket."""

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response._content = b"ok"
        response.headers["Content-Type"] = "text/plain"
        response.url = request.url
        response.request = request
        response.raw = io.BytesIO(b"ok")
        response.raw.version = 11
        return response

    def close(self):
        pass


def timed(function, n, warmup):
    for _ in range(warmup):
        function()
    t0 = time.process_time()
    for _ in range(n):
        function()
    return (time.process_time() - t0) / max(n, 1) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream")
    ap.add_argument("n_wsgi", type=int)
    ap.add_argument("n_sql", type=int)
    ap.add_argument("n_http", type=int)
    ap.add_argument("warmup", type=int)
    args = ap.parse_args()

    wsgi_us = timed(wsgi_request, args.n_wsgi, args.warmup)

    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(text("INSERT INTO item (id, name) VALUES (:id, :name)"),
                     [{"id": i, "name": "item-%d" % i} for i in range(1, 101)])
        query = text("SELECT id, name FROM item WHERE id = :id")
        sql_us = timed(lambda: conn.execute(query, {"id": 7}).fetchall(), args.n_sql, args.warmup)

    session = requests.Session()
    session.trust_env = False  # no proxy or netrc lookups per call: the agent is what is measured
    session.mount(args.upstream, InProcessAdapter())
    http_us = timed(lambda: session.get(args.upstream, timeout=10).content, args.n_http, args.warmup)
    print(json.dumps({"wsgi_us": wsgi_us, "sql_us": sql_us, "http_us": http_us}), flush=True)


if __name__ == "__main__":
    main()

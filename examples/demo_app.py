"""A small web service with no telemetry code in it, for the Quick start.

A Flask app answers ``GET /users/<id>``: it reads the user from SQLite through
SQLAlchemy, asks an "inventory" service for stock over HTTP with ``requests``, and logs
a warning when the inventory is unavailable. The inventory (a plain standard-library
server) and the app run here on free 127.0.0.1 ports; the demo sends itself a few
requests, prints each answer, and exits.

Run it under the agent (README, Quick start) and every request is printed as a
waterfall of server, database and client spans, with the warning next to its trace id:

    otel-run --traces-exporter console --logs-exporter console python examples/demo_app.py
"""

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from flask import Flask, abort
from sqlalchemy import create_engine, text
from sqlalchemy.pool import StaticPool
from werkzeug.serving import WSGIRequestHandler, make_server

log = logging.getLogger("demo")
app = Flask("demo")
engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
INVENTORY = {"url": ""}


@app.route("/users/<int:user_id>")
def user(user_id):
    with engine.connect() as connection:
        row = connection.execute(text("SELECT name FROM users WHERE id = :id"), {"id": user_id}).first()
    if row is None:
        abort(404)
    stock = requests.get("%s/stock/%d" % (INVENTORY["url"], user_id), timeout=5)
    if stock.status_code != 200:
        log.warning("inventory unavailable for %s (status %d)", row.name, stock.status_code)
        return {"user": row.name, "stock": None}, 502
    return {"user": row.name, "stock": stock.json()["count"]}


class Inventory(BaseHTTPRequestHandler):
    """The "other service": stock for user 1, 503 (overloaded) for anyone else."""

    def do_GET(self):
        ok = self.path.endswith("/1")
        time.sleep(0.003)
        body = json.dumps({"count": 3}).encode() if ok else b""
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    setup = engine.raw_connection()  # the schema, straight on the driver: not part of the demo
    setup.executescript("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
                        "INSERT INTO users (name) VALUES ('ada'), ('grace');")
    setup.close()
    inventory = serve(ThreadingHTTPServer(("127.0.0.1", 0), Inventory))
    INVENTORY["url"] = "http://127.0.0.1:%d" % inventory.server_address[1]
    # One request at a time: shutdown() returns once the last one is fully handled.
    web = serve(make_server("127.0.0.1", 0, app, request_handler=QuietHandler))
    for path in ("/users/1", "/users/2", "/users/9"):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (web.server_port, path), timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        print("demo: GET %s -> %d" % (path, status), flush=True)
    web.shutdown()
    inventory.shutdown()
    # The agent prints (or sends) what is left when the program exits.


if __name__ == "__main__":
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    main()

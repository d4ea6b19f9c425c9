"""A tiny self-contained service for the Quick start: standard library only.

Run it under the agent and the console exporter prints each request as a waterfall::

    otel-run --traces-exporter console --logs-exporter console python examples/demo.py

``handle()`` plays a web request handler: it queries SQLite, calls an "inventory"
service over real HTTP (a stdlib server on a free 127.0.0.1 port, started here), and
renders a page. The spans are made with the agent's manual API so that the demo needs
no web framework; in a real Flask or Django app with requests and SQLAlchemy, the
agent makes the same spans by itself, with no line of code.
"""

import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from otel_autoinstrument import SpanKind, StatusCode, get_tracer

tracer = get_tracer("examples.demo")
log = logging.getLogger("demo")

db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
db.execute("INSERT INTO users (name) VALUES ('ada'), ('grace')")


class Inventory(BaseHTTPRequestHandler):
    """The "other service": 200 for user 1, 503 (overloaded) for anyone else."""

    def do_GET(self):
        status = 200 if self.path.endswith("/1") else 503
        time.sleep(0.003)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def call_inventory(url):
    with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes={
            "http.request.method": "GET", "url.full": url}) as span:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(StatusCode.ERROR)
        return status


def handle(user_id, inventory):
    """What a web framework's handler for GET /users/<id> would do."""
    with tracer.start_as_current_span("GET /users/{id}", kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "http.route": "/users/{id}",
            "url.path": "/users/%d" % user_id}) as span:
        query = "SELECT name FROM users WHERE id = ?"
        with tracer.start_as_current_span("SELECT users", kind=SpanKind.CLIENT, attributes={
                "db.system.name": "sqlite", "db.query.text": query}):
            row = db.execute(query, (user_id,)).fetchone()
        stock = call_inventory("%s/stock/%d" % (inventory, user_id))
        with tracer.start_as_current_span("render"):
            time.sleep(0.002)  # stands in for template rendering
        status = 200 if stock == 200 else 502
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(StatusCode.ERROR)
            log.error("inventory unavailable for user %s", row[0])
        return status


def main():
    server = HTTPServer(("127.0.0.1", 0), Inventory)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    inventory = "http://127.0.0.1:%d" % server.server_address[1]
    for user_id in (1, 2):
        print("demo: GET /users/%d -> %d" % (user_id, handle(user_id, inventory)))
    server.shutdown()
    # The agent prints (or sends) what is left when the program exits.


if __name__ == "__main__":
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    main()

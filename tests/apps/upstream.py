"""A tiny plain-http.server upstream for HTTP client tests.

Usage: python upstream.py PORT   (binds 127.0.0.1 only)

  /status/<code>   answers <code> with body "status <code>"
  /redirect        302 to /status/200
  /users/<id>      200 {"id": <id>}
  /echo-headers    200 with the request headers as a JSON object
  /sleep/<secs>    200 "slept" after sleeping (capped at 30 s), for timeouts
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real upstreams

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        self._drain_body()
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        route, arg = parts[0], (parts[1] if len(parts) > 1 else "")
        if route == "status" and arg.isdigit():
            self._send(int(arg), "status %s" % arg)
        elif route == "redirect":
            self._send(302, "", {"Location": "/status/200"})
        elif route == "users" and arg.isdigit():
            self._send(200, json.dumps({"id": int(arg)}), content_type="application/json")
        elif route == "echo-headers":
            headers = {name.lower(): value for name, value in self.headers.items()}
            self._send(200, json.dumps(headers), content_type="application/json")
        elif route == "sleep":
            time.sleep(min(float(arg or 0), 30.0))
            self._send(200, "slept")
        else:
            self._send(404, "not found")

    do_POST = do_PUT = do_DELETE = do_GET

    def _drain_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def _send(self, status, body, headers=None, content_type="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

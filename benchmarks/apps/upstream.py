"""A tiny local upstream for `requests` calls: GET anything -> small JSON, keep-alive.
Prints `PORT <n>` once listening; exits by itself after --max-seconds."""
import argparse
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'{"status": "ok", "items": [1, 2, 3]}'
# one write per response, and TCP_NODELAY: no Nagle/delayed-ACK stalls on keep-alive
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(BODY)) + BODY


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self.wfile.write(RESPONSE)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    t = threading.Timer(args.max_seconds, srv.shutdown)
    t.daemon = True
    t.start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    srv.server_close()


if __name__ == "__main__":
    main()

"""The scrape endpoint: a minimal HTTP/1.1 server on one daemon thread.

``GET /metrics`` (or ``/``) answers the text exposition format, gzip-compressed when the
scraper accepts it; ``HEAD`` the same without a body; anything else 404 or 405. One
connection at a time, its request read within 5 s in all (a client sending a byte now and
then cannot hold the one thread) and closed after the answer: a
Prometheus server scrapes a target with one request at a time. No ``http.server`` (it
imports the e-mail package): the request line is all the endpoint needs.
"""

import socket

from ... import _log
from .text import CONTENT_TYPE

_READ_TIMEOUT_S = 5.0
_MAX_REQUEST = 16 * 1024


def listen(host, port):
    """A listening socket on ``host:port`` (raises OSError when the port is taken)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebind past TIME_WAIT, never share
        sock.bind(address)
        sock.listen(16)
    except OSError:
        sock.close()
        raise
    return sock


class ScrapeServer:
    def __init__(self, sock, render):
        self.sock = sock
        self.render = render  # () -> exposition text
        self.thread = None
        self._stopping = False

    @property
    def address(self):
        return self.sock.getsockname()[:2]

    def start(self):
        import threading

        self.sock.settimeout(1.0)  # wake up now and then to notice close()
        self.thread = threading.Thread(target=self._serve, name="otel-prometheus", daemon=True)
        self.thread.start()

    def _serve(self):
        from ...export.batch import block_process_signals
        from ...trace.context import suppress

        suppress()
        block_process_signals()
        while not self._stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stopping:
                    return
                continue
            try:
                self._answer(conn)
            except Exception:
                _log.internal_error("answering a prometheus scrape")
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def _answer(self, conn):
        from time import monotonic

        deadline = monotonic() + _READ_TIMEOUT_S
        request = b""
        try:
            while b"\r\n\r\n" not in request and b"\n\n" not in request and len(request) < _MAX_REQUEST:
                left = deadline - monotonic()
                if left <= 0:
                    return
                conn.settimeout(left)
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
        except OSError:
            return
        head = request.split(b"\n", 1)[0].decode("latin-1").split()
        if len(head) < 2:
            return
        method, path = head[0], head[1].split("?", 1)[0]
        if path not in ("/metrics", "/"):
            return self._send(conn, "404 Not Found", b"not found\n", "text/plain; charset=utf-8")
        if method not in ("GET", "HEAD"):
            return self._send(conn, "405 Method Not Allowed", b"GET only\n", "text/plain; charset=utf-8")
        body = self.render().encode("utf-8")
        encoding = None
        if b"gzip" in _header(request, b"accept-encoding"):
            import gzip

            body, encoding = gzip.compress(body, compresslevel=6), "gzip"
        self._send(conn, "200 OK", body, CONTENT_TYPE, encoding, head_only=method == "HEAD")

    @staticmethod
    def _send(conn, status, body, content_type, encoding=None, head_only=False):
        headers = ["HTTP/1.1 " + status, "Content-Type: " + content_type, "Content-Length: %d" % len(body),
                   "Connection: close"]
        if encoding:
            headers.append("Content-Encoding: " + encoding)
        conn.sendall(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body))

    def close(self):
        """Stop serving (in the process that serves)."""
        self._stopping = True
        try:
            # shutdown() wakes the thread blocked in accept() at once (close() alone does
            # not, on Linux: it would wait out the accept timeout at exit).
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        thread = self.thread
        if thread is not None and thread.is_alive():
            thread.join(2.0)

    def forget(self):
        """In a forked child: close our copy of the parent's socket, touch nothing else."""
        try:
            import os

            os.close(self.sock.detach())
        except OSError:
            pass


def _header(request, name):
    for line in request.split(b"\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().lower()
    return b""

"""HTTP/1.1 POST on the standard library's ``socket`` and ``ssl``: the export transport.

Made for the export thread, not for general use:

* one kept-alive connection per exporter and process, checked before reuse and
  dropped after an error, after ``fork()`` or when the collector asks to close it;
* one deadline for the whole request: connecting, the TLS handshake, sending and each
  read of the answer get what remains of it as their socket timeout, so a collector
  that answers a byte at a time cannot hold the thread past it;
* at most ``MAX_ANSWER_BYTES`` of an answer body are read (a partial-success message is
  small) and at most ``MAX_HEAD_BYTES`` of its status line and headers; a longer answer
  is cut short and its connection closed;
* redirects are never followed: the answer is returned as it is, for the exporter to
  report;
* TLS with the system's CA store or a given CA bundle, and a client certificate for
  mutual TLS; no proxy, whatever the environment says.

Standard library only (``socket``, ``ssl``, ``select``), so the export thread
never imports one of the application's third-party libraries behind its back.
"""

import socket
import struct
import sys
import time

MAX_ANSWER_BYTES = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024
_READ_SIZE = 65536
_MAX_INFORMATIONAL = 8  # "100 Continue" and friends skipped before the real answer
_CHECK_IDLE_S = 1.0  # a connection idle longer is checked for a close by the collector
# Linux: a plain connection is a blocking socket whose reads and writes are bounded by
# SO_RCVTIMEO/SO_SNDTIMEO (set from the deadline before each call). A socket with a
# Python timeout polls before each call, and every system call gives up the GIL: while
# the application keeps the CPU busy, each costs the export thread a switch interval.
_OS_TIMEOUTS = sys.platform.startswith("linux") and hasattr(socket, "SO_RCVTIMEO")
_timeval = struct.Struct("@ll").pack


class TransportError(Exception):
    """No usable answer. ``connect``: the connection itself could not be made (refused,
    unreachable, unresolvable, or no answer to connecting in time); ``timeout``: the
    collector did not answer within the deadline."""

    def __init__(self, message, connect=False, timeout=False, cause=None):
        super().__init__(message)
        self.connect = connect
        self.timeout = timeout
        self.cause = cause


class TlsError(TransportError):
    """The TLS handshake (or a TLS alert after it) failed: ``cause`` is the ``ssl`` error."""


class _Closed(TransportError):
    """The collector closed the connection; ``answered`` says whether any byte came back."""

    def __init__(self, answered):
        super().__init__("the connection was closed before a complete answer")
        self.answered = answered


class Answer:
    __slots__ = ("status", "headers", "body", "truncated")

    def __init__(self, status, headers, body, truncated):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body
        self.truncated = truncated


class Connection:
    """POSTs to one URL over a connection kept for the next request."""

    def __init__(self, url, headers, tls_context=None):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.tls_context = tls_context
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        host = "[%s]" % self.host if ":" in self.host else self.host
        if parts.port is not None:
            host += ":%d" % parts.port
        fields = {"Host": host}
        if parts.username is not None and not any(name.lower() == "authorization" for name in headers):
            import base64

            pair = "%s:%s" % (unquote(parts.username), unquote(parts.password or ""))
            fields["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        fields.update(headers)
        lines = ["POST %s HTTP/1.1" % path] + ["%s: %s" % item for item in fields.items()]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._sock = None
        self._used = 0.0

    def post(self, body, deadline):
        """Send ``body`` and return the ``Answer``; raises ``TransportError`` otherwise.
        ``deadline`` (time.monotonic()) bounds everything, connecting included."""
        request = self._head + b"%d\r\n\r\n" % len(body) + body
        sock = self._reusable()
        if sock is not None:
            try:
                return self._exchange(sock, request, deadline)
            except _Closed as exc:
                self.close()
                if exc.answered:
                    raise
                # The collector closed the idle connection as we reused it: it never saw
                # the request, which goes once more on a new connection.
            except BaseException:
                self.close()
                raise
        sock = self._connect(deadline)
        try:
            return self._exchange(sock, request, deadline)
        except BaseException:
            self.close()
            raise

    def close(self):
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def forget(self):
        """After fork: the parent's connection is not this process's to use or to end."""
        self._sock = None

    def _reusable(self):
        """The kept connection, unless the collector has closed it meanwhile. Only a
        connection idle for a while is checked: the check is a system call, and each
        one costs the export thread its turn at the GIL while the application is busy."""
        sock = self._sock
        if sock is None:
            return None
        if time.monotonic() - self._used < _CHECK_IDLE_S:
            return sock
        import select

        try:
            readable = select.select([sock], [], [], 0)[0]
        except (OSError, ValueError):
            readable = True
        if readable:  # closed by the collector (or unexpected bytes): not reusable
            self.close()
            return None
        return sock

    def _connect(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError("timed out before connecting", timeout=True)
        try:
            sock = socket.create_connection((self.host, self.port), timeout=remaining)
        except socket.timeout as exc:
            raise TransportError("no answer to connecting within the timeout", connect=True, timeout=True,
                                 cause=exc) from None
        except OSError as exc:
            raise TransportError(_os_error_text(exc), connect=True, cause=exc) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                sock = self._handshake(sock, deadline)
            elif _OS_TIMEOUTS:
                sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        return sock

    def _handshake(self, sock, deadline):
        import ssl

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError("timed out before the TLS handshake", timeout=True)
        sock.settimeout(remaining)
        try:
            return self.tls_context.wrap_socket(sock, server_hostname=self.host)
        except ssl.SSLError as exc:
            raise TlsError(str(exc), cause=exc) from None
        except socket.timeout as exc:
            raise TransportError("no TLS handshake within the timeout", timeout=True, cause=exc) from None
        except ssl.CertificateError as exc:
            raise TlsError(str(exc), cause=exc) from None

    def _exchange(self, sock, request, deadline):
        import ssl

        io = _BlockingIo(sock, deadline) if _OS_TIMEOUTS and not self.https else _TimeoutIo(sock, deadline)
        try:
            io.send(request)
            answer, reusable = _Reader(io).answer()
        except ssl.SSLError as exc:
            raise TlsError(str(exc), cause=exc) from None
        except socket.timeout as exc:
            raise TransportError("no complete answer within the timeout", timeout=True, cause=exc) from None
        except TransportError:
            raise
        except OSError as exc:
            raise TransportError(_os_error_text(exc), cause=exc) from None
        if reusable:
            self._used = time.monotonic()
        else:
            self.close()
        return answer


def _remaining(deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TransportError("no complete answer within the timeout", timeout=True)
    return remaining


class _TimeoutIo:
    """Reads and writes bounded by the socket's Python timeout (TLS, other systems)."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline

    def send(self, data):
        self.sock.settimeout(_remaining(self.deadline))
        self.sock.sendall(data)  # the timeout bounds the whole sendall (Python >= 3.5)

    def recv(self):
        self.sock.settimeout(_remaining(self.deadline))
        return self.sock.recv(_READ_SIZE)


class _BlockingIo(_TimeoutIo):
    """Reads and writes of a blocking socket, each bounded by SO_RCVTIMEO/SO_SNDTIMEO."""

    def _arm(self, option):
        remaining = max(0.001, _remaining(self.deadline))  # 0 would mean "no timeout"
        seconds = int(remaining)
        self.sock.setsockopt(socket.SOL_SOCKET, option, _timeval(seconds, int((remaining - seconds) * 1e6)))

    def send(self, data):
        view = memoryview(data)
        while view:
            self._arm(socket.SO_SNDTIMEO)
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                raise TransportError("could not send within the timeout", timeout=True) from None
            view = view[sent:]

    def recv(self):
        self._arm(socket.SO_RCVTIMEO)
        try:
            return self.sock.recv(_READ_SIZE)
        except BlockingIOError:
            raise TransportError("no complete answer within the timeout", timeout=True) from None


class _Reader:
    """Reads one answer through ``io``, each read bounded by what is left of the deadline."""

    def __init__(self, io):
        self.io = io
        self.buffer = bytearray()
        self.received = 0

    def _more(self):
        data = self.io.recv()
        if not data:
            raise _Closed(self.received > 0)
        self.received += len(data)
        self.buffer += data

    def answer(self):
        for _ in range(_MAX_INFORMATIONAL):
            version, status, headers = self._head()
            if not 100 <= status < 200:
                break
        else:
            raise TransportError("too many informational answers")
        body, truncated, complete = self._body(status, headers)
        keep = complete and version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        return Answer(status, headers, body, truncated), keep

    def _head(self):
        end = self.buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise TransportError("the answer's headers exceed %d bytes" % MAX_HEAD_BYTES)
            start = max(0, len(self.buffer) - 3)
            self._more()
            end = self.buffer.find(b"\r\n\r\n", start)
        if end > MAX_HEAD_BYTES:
            raise TransportError("the answer's headers exceed %d bytes" % MAX_HEAD_BYTES)
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[:end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/") or not (code.isdigit() and code.isascii()):
            raise TransportError("not an HTTP answer: %r" % lines[0][:80])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                name = name.strip().lower()
                value = value.strip()
                headers[name] = headers[name] + ", " + value if name in headers else value
        return version, int(code), headers

    def _body(self, status, headers):
        """(body, truncated, complete): at most MAX_ANSWER_BYTES; ``complete`` when the
        connection is left at the end of the answer (and so may be reused)."""
        if status in (204, 304):
            return b"", False, True
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._chunked()
        length = headers.get("content-length")
        if length is not None:
            if not (length.isdigit() and length.isascii()):
                raise TransportError("bad Content-Length %r" % length[:40])
            length = int(length)
            if length > MAX_ANSWER_BYTES:
                return b"", True, False
            while len(self.buffer) < length:
                self._more()
            return bytes(self.buffer[:length]), False, len(self.buffer) == length
        # No length: the body ends when the collector closes the connection.
        try:
            while len(self.buffer) <= MAX_ANSWER_BYTES:
                self._more()
        except _Closed:
            return bytes(self.buffer), False, False
        return bytes(self.buffer[:MAX_ANSWER_BYTES]), True, False

    def _chunked(self):
        body = bytearray()
        while True:
            end = self._line_end()
            size_text = bytes(self.buffer[:end]).split(b";", 1)[0].strip()
            # Hex digits only: int() would also take a sign, "-1" included (which
            # would let the body grow past MAX_ANSWER_BYTES), underscores and "0x".
            if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
                raise TransportError("bad chunk size %r" % size_text[:40])
            size = int(size_text, 16)
            del self.buffer[:end + 2]
            if size == 0:
                while True:  # trailers, up to the empty line
                    end = self._line_end()
                    del self.buffer[:end + 2]
                    if end == 0:
                        return bytes(body), False, not self.buffer
            if len(body) + size > MAX_ANSWER_BYTES:
                return bytes(body), True, False
            while len(self.buffer) < size + 2:
                self._more()
            body += self.buffer[:size]
            del self.buffer[:size + 2]

    def _line_end(self):
        end = self.buffer.find(b"\r\n")
        while end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise TransportError("a chunk header exceeds %d bytes" % MAX_HEAD_BYTES)
            self._more()
            end = self.buffer.find(b"\r\n")
        return end


def _os_error_text(exc):
    text = exc.strerror or str(exc) or type(exc).__name__
    return "%s (%s)" % (text, type(exc).__name__) if exc.strerror else text

"""The export transport against small raw-socket servers on 127.0.0.1 that answer exactly
as told: framing (length, chunked, until close), informational answers skipped, answers
cut at their bound, redirects returned as they are, a kept connection reused and
replaced when the server closed it, URL credentials as Basic auth, and one deadline for
the whole request whether the server stops reading or stops writing."""

import socket
import threading
import time

import pytest

from otel_autoinstrument.export import http_transport
from otel_autoinstrument.export.http_transport import MAX_ANSWER_BYTES, Connection, TransportError


class Server:
    """Accepts connections; for each request read, sends the next scripted answer
    (bytes, or a callable given the socket). Records the raw requests."""

    def __init__(self, answers, read_requests=True):
        self.answers = list(answers)
        self.read_requests = read_requests
        self.requests = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return  # closed by close()
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            self._answer(conn)
        except OSError:
            pass  # the client hung up, as some tests make it

    def _answer(self, conn):
        conn.settimeout(10)
        with conn:
            while self.answers and not self.stop.is_set():
                if self.read_requests:
                    request = self._read_request(conn)
                    if request is None:
                        return
                    self.requests.append(request)
                answer = self.answers.pop(0)
                if callable(answer):
                    if answer(conn) == "close":
                        return
                else:
                    conn.sendall(answer)
            self.stop.wait(10)

    @staticmethod
    def _read_request(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
        while len(body) < length:
            body += conn.recv(65536)
        return head.decode("latin-1"), body

    def url(self, path="/v1/traces", userinfo=""):
        return "http://%s127.0.0.1:%d%s" % (userinfo, self.port, path)

    def close(self):
        self.stop.set()
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def serve():
    made = []

    def make(answers, **kwargs):
        server = Server(answers, **kwargs)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def ok(body=b"", extra=b""):
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def post(url, body=b"x", seconds=5.0, headers=None):
    return Connection(url, headers or {"Content-Type": "application/x-protobuf"}).post(body, time.monotonic() + seconds)


def test_framings_and_informational_answers(serve):
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
    until_close = b"HTTP/1.0 202 Accepted\r\n\r\nto the end"

    def then_close(conn):
        conn.sendall(until_close)
        return "close"

    server = serve([b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"hi"), chunked, then_close])
    connection = Connection(server.url(), {"Content-Type": "application/x-protobuf"})
    answers = [connection.post(b"body %d" % i, time.monotonic() + 5) for i in range(3)]
    assert [(a.status, a.body) for a in answers] == [(200, b"hi"), (200, b"abcde"), (202, b"to the end")]
    assert server.connections == 1  # kept alive through the first two answers
    head, body = server.requests[0]
    assert head.startswith("POST /v1/traces HTTP/1.1\r\n") and "Host: 127.0.0.1:%d" % server.port in head
    assert body == b"body 0"


def test_an_answer_beyond_the_bound_is_cut_and_the_connection_dropped(serve):
    big = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (100 * MAX_ANSWER_BYTES) + b"\0" * MAX_ANSWER_BYTES
    server = serve([big, ok(b"next")])
    connection = Connection(server.url(), {})
    answer = connection.post(b"x", time.monotonic() + 5)
    assert (answer.status, answer.truncated, answer.body) == (200, True, b"")
    assert connection.post(b"y", time.monotonic() + 5).body == b"next"
    assert server.connections == 2


def test_redirects_are_returned_not_followed(serve):
    server = serve([b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://elsewhere/v1/traces\r\n"
                    b"Content-Length: 0\r\n\r\n"])
    answer = post(server.url())
    assert answer.status == 307 and answer.headers["location"] == "http://elsewhere/v1/traces"
    assert len(server.requests) == 1


def test_a_connection_the_server_closed_while_idle_is_replaced(serve, monkeypatch):
    monkeypatch.setattr(http_transport, "_CHECK_IDLE_S", 3600)  # reuse without the idle check

    def answer_and_close(conn):
        conn.sendall(ok(b"first"))
        conn.shutdown(socket.SHUT_RDWR)
        return "close"

    server = serve([answer_and_close, ok(b"second")])
    connection = Connection(server.url(), {})
    assert connection.post(b"1", time.monotonic() + 5).body == b"first"
    time.sleep(0.2)
    assert connection.post(b"2", time.monotonic() + 5).body == b"second"
    assert [body for _, body in server.requests] == [b"1", b"2"] and server.connections == 2


def test_url_credentials_become_basic_auth_unless_a_header_says_otherwise(serve):
    server = serve([ok(), ok()])
    post(server.url(userinfo="bob:s%40cret@"))
    post(server.url(userinfo="bob:pw@"), headers={"authorization": "Bearer t"})
    assert "Authorization: Basic Ym9iOnNAY3JldA==" in server.requests[0][0]
    assert "authorization: Bearer t" in server.requests[1][0] and "Basic" not in server.requests[1][0]


def test_the_deadline_bounds_a_server_that_stops_reading(serve):
    server = serve([], read_requests=False)  # accepts, never reads: the send blocks
    started = time.monotonic()
    with pytest.raises(TransportError) as raised:
        post(server.url(), body=b"\0" * (64 * 1024 * 1024), seconds=0.5)
    assert raised.value.timeout and not raised.value.connect
    assert time.monotonic() - started < 3


def test_the_deadline_bounds_a_server_that_answers_slowly(serve):
    def drip(conn):
        for byte in ok(b"late"):
            time.sleep(0.05)
            conn.sendall(bytes((byte,)))

    server = serve([drip])
    started = time.monotonic()
    with pytest.raises(TransportError) as raised:
        post(server.url(), seconds=0.5)
    assert raised.value.timeout and time.monotonic() - started < 2


def test_connecting_to_a_closed_port_is_a_connect_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError) as raised:
        post("http://127.0.0.1:%d/v1/traces" % port)
    assert raised.value.connect and isinstance(raised.value.cause, ConnectionRefusedError)


@pytest.mark.parametrize("answer", [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", b"garbage\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                    # a negative size: int() takes it, and the body would grow past its bound
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n" + b"x" * 200000,
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x10\r\n"])
def test_a_broken_answer_is_an_error_not_a_hang(serve, answer):
    def send_and_close(conn):
        conn.sendall(answer)
        return "close"

    server = serve([send_and_close])
    with pytest.raises(TransportError):
        post(server.url())


def test_a_negative_chunk_size_is_refused_not_a_way_past_the_answer_bound():
    from otel_autoinstrument.export import http_transport

    class Wire:  # the whole answer in one read, then the end
        def __init__(self, data):
            self.data = data

        def recv(self):
            data, self.data = self.data, b""
            return data

    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"-1\r\nX" * 40000 + b"0\r\n\r\n"
    with pytest.raises(TransportError, match="bad chunk size"):
        http_transport._Reader(Wire(answer)).answer()

"""The scrape endpoint's one thread: a client that trickles its request cannot hold it
past the read bound, and closing the server does not wait out the accept timeout."""

import socket
import threading
import time
import urllib.request

from otel_autoinstrument.metrics.prometheus import server


def start(monkeypatch, read_timeout):
    monkeypatch.setattr(server, "_READ_TIMEOUT_S", read_timeout)
    scrape = server.ScrapeServer(server.listen("127.0.0.1", 0), lambda: "up 1\n")
    scrape.start()
    return scrape


def test_a_trickling_client_holds_the_thread_no_longer_than_the_read_bound(monkeypatch):
    scrape = start(monkeypatch, 0.5)
    host, port = scrape.address
    stop = threading.Event()

    def trickle():
        with socket.create_connection((host, port)) as sock:
            while not stop.is_set():  # one byte every 0.2 s: each read alone is in time
                try:
                    sock.sendall(b"G")
                except OSError:
                    return
                time.sleep(0.2)

    slow = threading.Thread(target=trickle)
    slow.start()
    try:
        time.sleep(0.1)
        started = time.monotonic()
        with urllib.request.urlopen("http://%s:%d/metrics" % (host, port), timeout=10) as response:
            assert response.read() == b"up 1\n"
        waited = time.monotonic() - started
    finally:
        stop.set()
        slow.join()
        scrape.close()
    assert waited < 3, waited  # the trickler was cut off at 0.5 s, not after 10 s or never


def test_close_returns_without_waiting_for_the_accept_timeout(monkeypatch):
    scrape = start(monkeypatch, 5.0)
    time.sleep(0.1)  # the thread is blocked in accept()
    started = time.monotonic()
    scrape.close()
    assert not scrape.thread.is_alive()
    assert time.monotonic() - started < 0.5

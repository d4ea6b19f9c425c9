"""Fixtures shared by the whole suite: the real OTLP receiver and per-test names."""

import re
import uuid

import pytest

from support.receiver import Receiver

# The plugin distributions' own tests import their plugin as installed: tests/e2e/test_plugins.py
# installs each and runs them there.
collect_ignore_glob = ["plugins/*/tests/*"]


@pytest.fixture(scope="session")
def receiver():
    """One real OTLP/HTTP receiver for the session; tests tell their data apart by
    service name. Tests that change its behaviour use ``own_receiver`` instead."""
    with Receiver() as r:
        r.start()
        yield r


@pytest.fixture
def own_receiver():
    """A receiver of this test's own, free to fail, hang or refuse."""
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def service_name(request):
    """A service.name unique to this test."""
    base = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name)[:40].strip("-")
    return "%s-%s" % (base, uuid.uuid4().hex[:6])


@pytest.fixture(autouse=True)
def fresh_internal_error_places(monkeypatch):
    """The agent logs an internal error once per place and process, then counts it:
    each test starts as a fresh process would."""
    from otel_autoinstrument import _log

    monkeypatch.setattr(_log, "_places", {})


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL server for the session (tests use their own tables)."""
    from support.servers import Postgres

    server = Postgres()
    if not server.available:
        pytest.skip("PostgreSQL binaries (initdb, postgres) not installed: apt-get install postgresql")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """One real Redis server for the session (tests use their own keys or database index)."""
    from support.servers import Redis

    server = Redis()
    if not server.available:
        pytest.skip("redis-server not installed: apt-get install redis-server")
    try:
        yield server.start()
    finally:
        server.stop()

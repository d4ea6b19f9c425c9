"""Which address is the client's behind proxies: the N-th entry from the right of the
header the trusted proxies append to, never an entry the client could have written."""

import pytest

from otel_autoinstrument import config
from otel_autoinstrument.instrumentation.http import ServerSecurity, forwarded_client


@pytest.mark.parametrize("value, count, rfc7239, expected", [
    ("203.0.113.9", 1, False, "203.0.113.9"),
    ("6.6.6.6, 203.0.113.9", 1, False, "203.0.113.9"),
    ("6.6.6.6, 203.0.113.9, 10.0.0.2", 2, False, "203.0.113.9"),
    ("203.0.113.9", 2, False, None),             # fewer hops than trusted proxies: the socket's peer
    ("6.6.6.6,,203.0.113.9:4711", 1, False, "203.0.113.9"),
    ("2001:db8::17, 10.0.0.1", 2, False, "2001:db8::17"),
    ("[2001:db8::17]:4711", 1, False, "2001:db8::17"),
    ("", 1, False, None),
    (None, 1, False, None),
    ("for=192.0.2.60;proto=http;by=203.0.113.43", 1, True, "192.0.2.60"),
    ('for=6.6.6.6, For="[2001:db8:cafe::17]:4711", for=10.0.0.1', 2, True, "2001:db8:cafe::17"),
    ("for=unknown", 1, True, None),
    ("for=_hidden", 1, True, None),
    ("proto=https", 1, True, None),
])
def test_forwarded_client(value, count, rfc7239, expected):
    assert forwarded_client(value, count, rfc7239) == expected


def security(**env):
    return ServerSecurity(config.load(env, set()))


def client_attributes(security, environ):
    """What the WSGI layer passes: the peer and the trusted proxy header's value."""
    attributes = {}
    header = "HTTP_" + security.proxy_header.upper().replace("-", "_")
    security.client_attributes(environ.get("REMOTE_ADDR"), environ.get(header), attributes)
    return attributes


def test_client_address_from_the_socket_unless_proxies_are_trusted():
    environ = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6", "HTTP_FORWARDED": "for=7.7.7.7"}
    assert client_attributes(security(), environ) == {"client.address": "10.0.0.1"}
    assert client_attributes(security(OTEL_PYTHON_TRUSTED_PROXY_COUNT="1"), environ) == {
        "client.address": "6.6.6.6", "network.peer.address": "10.0.0.1"}
    assert client_attributes(security(OTEL_PYTHON_TRUSTED_PROXY_COUNT="1",
                                      OTEL_PYTHON_TRUSTED_PROXY_HEADER="forwarded"), environ) == {
        "client.address": "7.7.7.7", "network.peer.address": "10.0.0.1"}
    assert client_attributes(security(OTEL_PYTHON_TRUSTED_PROXY_COUNT="3"), environ) == {"client.address": "10.0.0.1"}

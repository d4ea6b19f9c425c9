"""The OTLP test receiver over TLS, with certificates made on the spot by ``trustme``.

``Certificates(directory)`` makes a CA, a server certificate for 127.0.0.1 and a client
certificate, and writes the PEM files an exporter is configured with (``ca``,
``client_cert``, ``client_key``). ``TlsReceiver(certificates, require_client_cert=...)``
is a ``Receiver`` whose sockets speak TLS (the handshake runs on the connection's own
thread, bounded by a timeout); handshakes that fail are recorded in ``tls_errors``
instead of being printed.
"""

import os
import ssl
import threading

import trustme

from support.receiver import Receiver, _Handler, _Server

HANDSHAKE_TIMEOUT_S = 5.0


class Certificates:
    """A CA with a server certificate for 127.0.0.1 and a client certificate, as files."""

    def __init__(self, directory):
        self.authority = trustme.CA()
        self.server = self.authority.issue_cert("127.0.0.1")
        self.client = self.authority.issue_cert("otel-agent.client.test")
        self.ca = os.path.join(str(directory), "ca.pem")
        self.client_cert = os.path.join(str(directory), "client-cert.pem")
        self.client_key = os.path.join(str(directory), "client-key.pem")
        self.authority.cert_pem.write_to_path(self.ca)
        with open(self.client_cert, "wb") as f:
            for blob in self.client.cert_chain_pems:
                f.write(blob.bytes())
        self.client.private_key_pem.write_to_path(self.client_key)

    def server_context(self, require_client_cert=False):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.authority.configure_trust(context)
        return context


class _TlsServer(_Server):
    def __init__(self, address, handler, context, on_tls_error):
        super().__init__(address, handler)
        self.context = context
        self.on_tls_error = on_tls_error

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request, client_address):
        # On the connection's thread: a stalled or refused handshake never blocks accept().
        try:
            request.settimeout(HANDSHAKE_TIMEOUT_S)
            request.do_handshake()
            request.settimeout(None)
        except (OSError, ValueError) as exc:
            self.on_tls_error("%s: %s" % (type(exc).__name__, exc))
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        import sys

        exc = sys.exc_info()[1]
        self.on_tls_error("%s: %s" % (type(exc).__name__, exc))


class TlsReceiver(Receiver):
    """A ``Receiver`` on https://127.0.0.1:<port>; mutual TLS when ``require_client_cert``."""

    def __init__(self, certificates, require_client_cert=False, port=0):
        self.certificates = certificates
        self.require_client_cert = require_client_cert
        self._tls_errors = []
        self._tls_lock = threading.Lock()
        super().__init__(port)

    def _make_server(self):
        context = self.certificates.server_context(self.require_client_cert)
        return _TlsServer(("127.0.0.1", self._port), _Handler, context, self._tls_error)

    def _tls_error(self, message):
        with self._tls_lock:
            self._tls_errors.append(message)

    @property
    def tls_errors(self):
        with self._tls_lock:
            return list(self._tls_errors)

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

"""HTTP helpers of the plugin API: what the built-in server and client instrumentations
are made of, published for plugins (a stable part of the API, see docs/plugins.md).

* ``HttpServer``: the settings of one server instrumentation resolved once (excluded
  URLs, header capture, sensitive query parameters, trusted proxies), and the stable
  HTTP server attributes of a request given as plain values, so the WSGI layer, the
  ASGI layer and a plugin for another server framework record the same thing.
* ``HttpClient``: the same for a client library: start a CLIENT span for
  ``(method, url)``, inject the propagation headers, finish it from the status code or
  the exception; ``start_sent`` for each request a library sends for one call
  (redirect hops, retries: see ``clients.ClientCalls``).
* Both record the stable HTTP metrics (``instrumentation.metrics``) when metrics are on:
  ``HttpServer.metrics.request(...)`` per server request (the WSGI and ASGI layers do
  it), and ``http.client.request.duration`` in ``HttpClient.finish``, sampled or not.
* Building blocks: ``ExcludedUrls`` (``OTEL_PYTHON_EXCLUDED_URLS`` plus any
  ``OTEL_PYTHON_<NAME>_EXCLUDED_URLS``), ``redact_url`` / ``redact_query``,
  ``HeaderCapture``, ``SensitiveNames``, ``split_host_port``, ``method_name``, the client
  address behind trusted proxies, and the ``auth.failure`` signal (``ServerSecurity``):
  a span event when the request's span records, and always an OTLP log event, so trace
  sampling cannot hide it.

Everything here is imported when an instrumentor is first activated, never at
start-up, and never raises on odd input: a malformed Host header or URL yields fewer
attributes, not an exception.
"""

from time import time_ns

from .. import _log, semconv
from ..redaction.urls import (  # noqa: F401  (re-exported for plugins)
    ALWAYS_REDACTED_HEADERS, DEFAULT_SENSITIVE_QUERY_PARAMS, HeaderCapture, redact_query, redact_url)
from ..trace.span import Scope, SpanKind, StatusCode, qualified_type, record_error
from .instrumentor import scope_name
from .metrics import HttpClientMetrics, HttpServerMetrics, UnsampledOperation, measured, meter_of, started

__all__ = [
    "ALWAYS_REDACTED_HEADERS", "AUTH_FAILURE_EVENT", "DEFAULT_PORTS", "DEFAULT_SENSITIVE_QUERY_PARAMS",
    "ExcludedUrls", "HeaderCapture", "HttpClient", "HttpServer", "REQUEST_HEADER_PREFIX",
    "RESPONSE_HEADER_PREFIX", "SENSITIVE_NAMES", "SensitiveNames", "ServerSecurity", "forwarded_client",
    "method_name", "record_auth_failure", "redact_query", "redact_url", "sensitive_query_params", "set_enduser",
    "split_host_port",
]

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
REQUEST_HEADER_PREFIX = "http.request.header."
RESPONSE_HEADER_PREFIX = "http.response.header."
AUTH_FAILURE_EVENT = "auth.failure"
AUTH_FAILURE_REASON = "auth.failure.reason"

_KNOWN_METHODS = semconv.KNOWN_HTTP_METHODS
_STATUS_REASONS = {401: "unauthorized", 403: "forbidden"}
_PROTOCOLS = {"HTTP/1.1": "1.1", "HTTP/1.0": "1.0", "HTTP/2": "2", "HTTP/2.0": "2", "HTTP/3": "3",
              "1.1": "1.1", "1.0": "1.0", "2": "2", "3": "3"}
_CACHE_MAX = 256  # bound of every cache keyed by request data (Host header, route, authority, URL)
_CACHED_URL_MAX = 2048  # longer URLs are described on every request, never kept
_ASCII_DIGITS = frozenset("0123456789")


def __getattr__(name):
    # The sensitive-name matcher, re-exported for plugins, loads on first use: this
    # module loads with the built-in instrumentors at start-up.
    if name in ("SENSITIVE_NAMES", "SensitiveNames"):
        from ..redaction import names

        return getattr(names, name)
    raise AttributeError(name)


# --- building blocks ---------------------------------------------------------------------

def method_name(method):
    """``(http.request.method value, span name prefix, original or None)``: a method the
    conventions do not know is recorded as ``_OTHER`` and named ``HTTP``."""
    if method in _KNOWN_METHODS:
        return method, method, None
    upper = method.upper() if isinstance(method, str) else ""
    if upper in _KNOWN_METHODS:
        return upper, upper, method
    return "_OTHER", "HTTP", method


def _port(text, default):
    """An ASCII port number in range, else ``default`` (``"\\xb2"`` passes isdigit())."""
    if text and len(text) <= 5 and _ASCII_DIGITS.issuperset(text):
        port = int(text)
        if 0 < port < 65536:
            return port
    return default


def split_host_port(authority, default_port=None):
    """``example.com:8080`` / ``[::1]:8080`` / ``user@host`` -> ``(host, port)``; the port
    is ``default_port`` when absent or not a valid number. Never raises."""
    if not authority:
        return None, default_port
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        end = host.find("]")
        if end == -1:
            return host[1:] or None, default_port
        rest = host[end + 1:]
        return host[1:end] or None, _port(rest[1:], default_port) if rest.startswith(":") else default_port
    name, colon, port = host.rpartition(":")
    if not colon:
        return host or None, default_port
    if ":" in name:  # a bare IPv6 address: its colons are not a port separator
        return host, default_port
    return name or None, _port(port, default_port)


def url_authority(url):
    """``(scheme, authority)`` of an absolute URL, or ``(None, None)``."""
    start = url.find("://")
    if start == -1:
        return None, None
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start + 3, end)
        if found != -1:
            end = found
    return url[:start].lower(), url[start + 3:end]


def protocol_version(protocol):
    """``network.protocol.version`` from ``HTTP/1.1`` (WSGI) or ``1.1`` (ASGI)."""
    if not protocol:
        return None
    version = _PROTOCOLS.get(protocol)
    if version is None:
        version = protocol[5:] if protocol[:5].upper() == "HTTP/" else protocol
    return version or None


def _request_kind(method, protocol):
    """(``http.request.method``, ``network.protocol.version``) of a server request."""
    return method_name(method)[0], protocol_version(protocol)


def sensitive_query_params(settings):
    """The sensitive-name matcher (``SensitiveNames``: the pattern of name parts) with
    OTEL_PYTHON_URL_SENSITIVE_QUERY_PARAMS applied; ``name in matcher`` tests a name."""
    from ..redaction import names

    return names.from_settings(settings)


class ExcludedUrls:
    """URLs an HTTP instrumentation must not trace: regexes from OTEL_PYTHON_EXCLUDED_URLS
    plus the instrumentation's own variables (e.g. OTEL_PYTHON_FLASK_EXCLUDED_URLS; any
    name works, declared by the agent or not), searched anywhere in the URL as the
    official agent does. Invalid regexes are reported once and ignored."""

    def __init__(self, settings, *variables):
        patterns = list(settings.python_excluded_urls)
        for variable in variables:
            patterns += settings.list_value(variable)
        self._regex = None
        if patterns:
            import re

            valid = []
            for pattern in patterns:
                try:
                    re.compile(pattern)
                    valid.append(pattern)
                except re.error as exc:
                    _log.warning("excluded URL pattern %r ignored: %s", pattern, exc)
            if valid:
                self._regex = re.compile("|".join("(?:%s)" % p for p in valid))

    def __bool__(self):
        return self._regex is not None

    def matches(self, url):
        return self._regex is not None and self._regex.search(url) is not None


# --- security signals ------------------------------------------------------------------------

_PROXY_HEADERS = {"x-forwarded-for": "x-forwarded-for", "forwarded": "forwarded"}


class ServerSecurity:
    """The security signals of one server instrumentation.

    ``client.address``: the socket's peer, or, when OTEL_PYTHON_TRUSTED_PROXY_COUNT says N
    reverse proxies stand in front of the service, the N-th entry from the right of the
    header they append to (OTEL_PYTHON_TRUSTED_PROXY_HEADER). Entries further left were
    written by the client and are never believed; with fewer than N entries the peer is
    kept.

    ``auth_failure``: the ``auth.failure`` event on the request's span when it records,
    and the ``auth.failure`` log event (``emit_event``) always, with the reason, the status
    code, the client address, the route (else the path) and the method: an unsampled
    request's failure still arrives. Without a log pipeline (OTEL_LOGS_EXPORTER=none)
    only the span event remains."""

    __slots__ = ("proxy_count", "proxy_header", "forwarded", "capture_enduser", "agent", "scope")

    def __init__(self, settings, agent=None, scope=None):
        self.proxy_count = settings.python_trusted_proxy_count
        header = settings.python_trusted_proxy_header
        self.proxy_header = _PROXY_HEADERS.get(header, "x-forwarded-for")  # lower-case header name
        self.forwarded = header == "forwarded"
        self.capture_enduser = settings.python_capture_enduser_id
        self.agent = agent
        self.scope = scope

    def client_attributes(self, peer, proxy_header_value, attributes):
        """Add ``client.address`` (and ``network.peer.address`` behind proxies)."""
        if self.proxy_count:
            client = forwarded_client(proxy_header_value, self.proxy_count, self.forwarded)
            if client:
                attributes[semconv.CLIENT_ADDRESS] = client
                if peer:
                    attributes[semconv.NETWORK_PEER_ADDRESS] = peer
                return
        if peer:
            attributes[semconv.CLIENT_ADDRESS] = peer

    def auth_failure(self, span, code=None, reason=None, facts=None):
        """A 401 or 403 answer (``code``) or an explicit ``reason`` (``login_failed``): the
        span event and the log event. ``facts()`` returns the request's attributes for the
        log event (see ``HttpServer.event_facts``). Credentials are never recorded."""
        if reason is None:
            reason = _STATUS_REASONS.get(code)
            if reason is None:
                return
        if span is not None and span.is_recording():
            record_auth_failure(span, code, reason)
        if self.agent is None:
            return
        attributes = {AUTH_FAILURE_REASON: reason}
        if code is not None:
            attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = code
        if facts is not None:
            attributes.update(facts())
        from . import emit_event

        body = "%s: %s" % (AUTH_FAILURE_EVENT, reason)
        emit_event(self.agent, AUTH_FAILURE_EVENT, attributes, body, span, self.scope)


def forwarded_client(value, count, rfc7239=False):
    """The N-th address from the right of a forwarding header, or None."""
    if not value:
        return None
    entries = [e for e in value.split(",") if e.strip()]
    if len(entries) < count:
        return None
    entry = entries[-count].strip()
    if rfc7239:
        entry = _forwarded_for(entry)
        if entry is None:
            return None
    return _address(entry)


def _forwarded_for(element):
    """``for=`` of one RFC 7239 element: ``for=192.0.2.60;proto=http``."""
    for pair in element.split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name.strip().lower() == "for":
            return value.strip().strip('"')
    return None


def _address(text):
    """The address alone: no brackets, no port; None for ``unknown`` and ``_obfuscated``."""
    text = text.strip().strip('"')
    if text.startswith("["):  # [2001:db8::17]:4711
        end = text.find("]")
        return text[1:end] if end > 1 else None
    if text.count(":") == 1:  # 192.0.2.60:4711 (several colons: a bare IPv6 address)
        text = text.partition(":")[0]
    if not text or text.lower() == "unknown" or text.startswith("_"):
        return None
    return text


def record_auth_failure(span, code=None, reason=None):
    """The ``auth.failure`` span event alone: for a 401 or 403 answer (``code``), or with
    an explicit ``reason`` (``login_failed``). Submitted credentials are never recorded.
    ``ServerSecurity.auth_failure`` adds the log event that sampling cannot hide."""
    if reason is None:
        reason = _STATUS_REASONS.get(code)
        if reason is None:
            return
    attributes = {AUTH_FAILURE_REASON: reason}
    if code is not None:
        attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = code
    span.add_event(AUTH_FAILURE_EVENT, attributes)


def set_enduser(span, user_id):
    if user_id is not None and user_id != "":
        span.set_attribute(semconv.ENDUSER_ID, str(user_id))


# --- servers -------------------------------------------------------------------------------------

class HttpServer:
    """One server instrumentation's settings, resolved once, and the request and response
    attributes of its SERVER spans (stable HTTP semantic conventions).

    ``excluded_variable`` is the instrumentation's own excluded-URLs variable
    (``OTEL_PYTHON_<NAME>_EXCLUDED_URLS``), added to OTEL_PYTHON_EXCLUDED_URLS.
    """

    def __init__(self, instrumentor, excluded_variable=None):
        settings = instrumentor.settings
        self.tracer = instrumentor.tracer
        self.propagator = instrumentor.agent.propagator
        excluded = ExcludedUrls(settings, *((excluded_variable,) if excluded_variable else ()))
        self.excluded = excluded if excluded else None
        sanitize = settings.instrumentation_http_capture_headers_sanitize_fields
        self.request_headers = HeaderCapture(settings.instrumentation_http_capture_headers_server_request, sanitize)
        self.response_headers = HeaderCapture(settings.instrumentation_http_capture_headers_server_response, sanitize)
        self.sensitive = sensitive_query_params(settings)
        self.security = ServerSecurity(settings, instrumentor.agent, Scope(scope_name(instrumentor)))
        self.enduser = None  # a framework's () -> this request's user id, when opted in
        meter = meter_of(instrumentor)
        self.metrics = HttpServerMetrics(meter, _request_kind) if meter is not None else None  # None: off
        self._names = {}  # (method, route) -> span name
        self._hosts = {}  # (Host header, scheme) -> (server.address, server.port)
        self._bases = {}  # (method, scheme, Host header, server name, port, protocol) -> attributes
        self._queries = {}  # query string -> url.query (its sensitive values redacted)

    def span_name(self, method, route=None):
        """``{method} {route}``, or the method alone (``HTTP`` for an unknown one)."""
        key = (method, route)
        name = self._names.get(key)
        if name is None:
            prefix = method_name(method)[1]
            name = "%s %s" % (prefix, route) if route else prefix
            if len(self._names) >= _CACHE_MAX:
                self._names.clear()
            self._names[key] = name
        return name

    def set_route(self, span, method, route):
        """The framework matched ``route``: name the span after it and record ``http.route``."""
        span.update_name(self.span_name(method, route))
        span.set_attribute(semconv.HTTP_ROUTE, route)

    def is_excluded(self, scheme, host, path, query=None):
        """Is ``scheme://host/path?query`` excluded? (The URL is built only when some
        excluded-URL pattern is configured.)"""
        if self.excluded is None:
            return False
        url = "%s://%s%s" % (scheme, host or "", path)
        return self.excluded.matches(url + "?" + query if query else url)

    def extract(self, get):
        """``(remote parent span context or None, baggage or None)`` of a request whose
        headers ``get(lower-case name)`` reads."""
        carried = self.propagator.extract(get)
        return carried.span_context, carried.baggage or None

    def server(self, host, scheme, server_name=None, server_port=None):
        """``(server.address, server.port)`` from the Host header, else the server's own
        name and port."""
        if not host:
            port = server_port
            if port is not None and not isinstance(port, int):
                port = _port(str(port), None)
            return server_name or None, port
        key = (host, scheme)
        found = self._hosts.get(key)
        if found is None:
            found = split_host_port(host, DEFAULT_PORTS.get(scheme))
            if len(self._hosts) >= _CACHE_MAX:
                self._hosts.clear()
            self._hosts[key] = found
        return found

    def request_attributes(self, method, scheme, path, query=None, host=None, server_name=None,
                           server_port=None, peer=None, proxy_header=None, protocol=None,
                           user_agent=None, headers=None):
        """The request attributes of a SERVER span. ``headers`` (pairs or a mapping, only
        read when header capture is on) may be a callable returning them."""
        key = (method, scheme, host, server_name, server_port, protocol)
        try:
            base = self._bases.get(key)
        except TypeError:  # an unhashable value from an odd server: described, not cached
            base = key = None
        if base is None:
            base = self._request_base(method, scheme, host, server_name, server_port, protocol, key)
        attributes = base.copy()
        attributes[semconv.URL_PATH] = path or "/"
        if query:
            attributes[semconv.URL_QUERY] = self._redacted_query(query)
        if self.security.proxy_count:
            self.security.client_attributes(peer, proxy_header, attributes)
        elif peer:
            attributes[semconv.CLIENT_ADDRESS] = peer
        if user_agent:
            attributes[semconv.USER_AGENT_ORIGINAL] = user_agent
        if self.request_headers.enabled and headers is not None:
            if callable(headers):
                headers = headers()
            attributes.update(self.request_headers.attributes(REQUEST_HEADER_PREFIX, headers))
        return attributes

    def _redacted_query(self, query):
        """``url.query``: ``query`` with its sensitive values redacted, cached per query
        string (pages are asked for with the same few queries) up to ``_CACHE_MAX``
        strings of at most ``_CACHED_URL_MAX`` characters."""
        found = self._queries.get(query)
        if found is None:
            found = redact_query(query, self.sensitive)
            if len(query) <= _CACHED_URL_MAX and type(query) is str:
                if len(self._queries) >= _CACHE_MAX:
                    self._queries.clear()
                self._queries[query] = found
        return found

    def _request_base(self, method, scheme, host, server_name, server_port, protocol, key):
        """The attributes every request with these values shares (the method, the server's
        address from the Host header, the protocol), cached per value set: a service sees
        a handful of them."""
        value, _, original = method_name(method)
        base = {semconv.HTTP_REQUEST_METHOD: value, semconv.URL_SCHEME: scheme}
        if original is not None:
            base[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = original
        address, port = self.server(host, scheme, server_name, server_port)
        if address:
            base[semconv.SERVER_ADDRESS] = address
        if port:
            base[semconv.SERVER_PORT] = port
        version = protocol_version(protocol)
        if version:
            base[semconv.NETWORK_PROTOCOL_VERSION] = version
        if key is not None:
            if len(self._bases) >= _CACHE_MAX:
                self._bases.clear()
            self._bases[key] = base
        return base

    def response(self, span, status_code, headers=None, error=None, facts=None):
        """Record the response: on a recording SERVER span the status code, ERROR for 5xx
        (``error.type`` the status unless an exception was recorded), enduser.id when opted
        in, captured response headers; and for 401/403, recording or not, the auth.failure
        signal (``facts()``: the request's ``event_facts``). Call it for every response."""
        if status_code == 401 or status_code == 403:
            self.security.auth_failure(span, status_code, facts=facts)
        if not span.is_recording():
            return
        span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status_code)
        if status_code >= 500:
            span.set_status(StatusCode.ERROR)
            if error is None:
                span.set_attribute(semconv.ERROR_TYPE, str(status_code))
        if self.enduser is not None:
            set_enduser(span, self.enduser())
        capture = self.response_headers
        if capture.enabled and headers is not None:
            span.set_attributes(capture.attributes(RESPONSE_HEADER_PREFIX, headers))

    def event_facts(self, method, path, route=None, peer=None, proxy_header=None):
        """The request's attributes on a security log event: method, route (else path),
        client address by the trusted-proxy rules."""
        attributes = {semconv.HTTP_REQUEST_METHOD: method_name(method)[0]}
        if route is not None:
            attributes[semconv.HTTP_ROUTE] = route
        else:
            attributes[semconv.URL_PATH] = path or "/"
        self.security.client_attributes(peer, proxy_header, attributes)
        return attributes

    def error(self, span, exc):
        """An exception escaped the application: exception event, ERROR, ``error.type``."""
        record_error(span, exc)


# --- clients -------------------------------------------------------------------------------------


class HttpClient:
    """One client instrumentation's settings, resolved once, and its CLIENT spans.

    ``start(method, url, headers)`` returns the span (not made current; None when the URL
    is excluded), whose propagation headers ``inject(set_header, span)`` writes into the
    outgoing request only; ``finish(span, ...)`` records the answer or the error and ends it.
    """

    def __init__(self, instrumentor, excluded_variable=None):
        settings = instrumentor.settings
        self.tracer = instrumentor.tracer
        self.propagator = instrumentor.agent.propagator
        excluded = ExcludedUrls(settings, *((excluded_variable,) if excluded_variable else ()))
        self.excluded = excluded if excluded else None
        self.sensitive = sensitive_query_params(settings)
        sanitize = settings.instrumentation_http_capture_headers_sanitize_fields
        self.request_headers = HeaderCapture(settings.instrumentation_http_capture_headers_client_request, sanitize)
        self.response_headers = HeaderCapture(settings.instrumentation_http_capture_headers_client_response, sanitize)
        meter = meter_of(instrumentor)
        self.metrics = HttpClientMetrics(meter) if meter is not None else None  # None: metrics off
        self._servers = {}  # scheme://authority -> (server.address, server.port)
        self._requests = {}  # (method, url) -> (span name, attributes): services call the same URLs

    def is_excluded(self, url):
        return self.excluded is not None and self.excluded.matches(url)

    def server(self, url):
        """``(server.address, server.port)`` of an absolute URL, cached per authority."""
        scheme, authority = url_authority(url)
        if authority is None:
            return None, None
        key = (scheme, authority)
        found = self._servers.get(key)
        if found is None:
            host, port = split_host_port(authority, DEFAULT_PORTS.get(scheme))
            found = (host.lower() if host else None, port)
            if len(self._servers) >= _CACHE_MAX:
                self._servers.clear()
            self._servers[key] = found
        return found

    def attributes(self, method, url, headers=None):
        """``(span name, attributes)`` of a request."""
        if headers is not None and self.request_headers.enabled:
            name, attributes = self._describe(method, url)
            attributes.update(self.request_headers.attributes(REQUEST_HEADER_PREFIX, headers))
            return name, attributes
        name, attributes = self._described(method, url)
        return name, dict(attributes)

    def _described(self, method, url):
        """``_describe()``, cached per (method, URL) up to ``_CACHE_MAX`` pairs of URLs up
        to ``_CACHED_URL_MAX`` characters. The attributes are shared: never change them."""
        key = (method, url)
        try:
            found = self._requests.get(key)
        except TypeError:  # an unhashable URL object: described every time
            return self._describe(method, url)
        if found is None:
            found = self._describe(method, url)
            if isinstance(url, str) and len(url) <= _CACHED_URL_MAX:
                if len(self._requests) >= _CACHE_MAX:
                    self._requests.clear()
                self._requests[key] = found
        return found

    def _describe(self, method, url):
        value, name, original = method_name(method or "GET")
        attributes = {semconv.HTTP_REQUEST_METHOD: value, semconv.URL_FULL: redact_url(url, self.sensitive)}
        if original is not None:
            attributes[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = original
        address, port = self.server(url)
        if address:
            attributes[semconv.SERVER_ADDRESS] = address
        if port:
            attributes[semconv.SERVER_PORT] = port
        return name, attributes

    def start(self, method, url, headers=None, parent=None, **kwargs):
        """The CLIENT span of a request, or None when ``url`` is excluded. ``parent``
        defaults to the current span; extra keyword arguments go to ``start_span``."""
        if self.excluded is not None and self.excluded.matches(url):
            return None
        if headers is not None and self.request_headers.enabled:
            name, attributes = self.attributes(method, url, headers)
        else:
            name, attributes = self._described(method, url)  # start_span copies them
        if kwargs:
            if parent is not None:
                kwargs["parent"] = parent
            span = self.tracer.start_span(name, SpanKind.CLIENT, attributes, **kwargs)
        elif parent is not None:
            span = self.tracer.start_span(name, SpanKind.CLIENT, attributes, parent=parent)
        else:
            span = self.tracer.start_span(name, SpanKind.CLIENT, attributes)
        if self.metrics is not None and not span.is_recording():
            # Not sampled: the duration metric still needs the start and the attributes.
            span = measured(span, (attributes[semconv.HTTP_REQUEST_METHOD], attributes.get(semconv.SERVER_ADDRESS),
                                   attributes.get(semconv.SERVER_PORT)))
        return span

    def start_sent(self, call, method, url, headers=None):
        """The span of one request sent for ``call`` (a ``clients.ClientCall``, or None for a
        call of its own), or None when ``url`` is excluded. Each request sent is a span,
        as the HTTP conventions recommend; the second and later carry
        ``http.request.resend_count``. They are siblings under the caller's span, or,
        when there is none, children of the first one, so the trace has one root."""
        if call is None:
            return self.start(method, url, headers)
        parent = call.parent if call.parent is not None else call.first
        span = self.start(method, url, headers, parent=parent) if parent is not None else \
            self.start(method, url, headers)
        if span is not None:
            if call.sent:
                span.set_attribute(semconv.HTTP_REQUEST_RESEND_COUNT, call.sent)
            elif call.first is None:
                call.first = span
        call.sent += 1
        return span

    def inject(self, set_header, span):
        """Write the propagation headers of ``span`` (and the current baggage)."""
        self.propagator.inject(set_header, span)

    def finish(self, span, status_code=None, error=None, protocol=None, headers=None, end_time=None):
        """Record the answer (4xx and 5xx are errors for a client) or the exception, then end."""
        if status_code is not None:
            span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status_code)
            if status_code >= 400 and error is None:
                span.set_attribute(semconv.ERROR_TYPE, str(status_code))
                span.set_status(StatusCode.ERROR)
        version = None
        if isinstance(protocol, str):
            version = _PROTOCOLS.get(protocol) or protocol_version(protocol)
            if version:
                span.set_attribute(semconv.NETWORK_PROTOCOL_VERSION, version)
        if headers is not None and self.response_headers.enabled:
            span.set_attributes(self.response_headers.attributes(RESPONSE_HEADER_PREFIX, headers))
        if error is not None:
            record_error(span, error)
        span.end(end_time)
        if self.metrics is not None:
            self._measure(span, status_code, error, version, end_time)

    def _measure(self, span, status_code, error, version, end_time):
        start = started(span)
        if start is None:
            return  # a span this helper did not start: its start is unknown
        if error is not None:
            error_type = qualified_type(error)
        elif status_code is not None and status_code >= 400:
            error_type = str(status_code)
        else:
            error_type = None
        if type(span) is UnsampledOperation:
            method, address, port = span.data
        else:
            attributes = span.attributes
            method = attributes.get(semconv.HTTP_REQUEST_METHOD)
            address, port = attributes.get(semconv.SERVER_ADDRESS), attributes.get(semconv.SERVER_PORT)
        end = end_time or span.end_ns or time_ns()
        self.metrics.ended(max(0.0, (end - start) / 1e9), (method, address, port, version, status_code, error_type),
                           span)

"""requests: one CLIENT span per HTTP request actually sent, with trace propagation.

Patches ``requests.sessions.Session.send`` where it is defined: ``requests.get``,
sessions and every adapter go through it, and requests follows redirects by calling
``Session.send`` again from inside the first call (``resolve_redirects``), once per
hop. Each hop is its own span, with ``http.request.resend_count``. As the HTTP
conventions recommend, the hops are siblings under the caller's span, and the first
request's span ends where the first redirect hop starts. When there is no caller span
(a script), the hops are children of the first request's span instead, which then
covers them all: one trace must not have several roots.

The propagation headers go into the ``PreparedRequest`` (its headers are requests'
own copy: the caller's header dict is never changed). Excluded URLs are neither traced
nor injected. The agent's own OTLP export uses requests too: nothing is traced where
instrumentation is suppressed.
"""

import time
from contextvars import ContextVar

from otel_autoinstrument import semconv
from otel_autoinstrument.instrumentation import (
    ExcludedUrls, Instrumentor, SpanKind, StatusCode, capture_internal_errors, get_current_span,
    is_suppressed, qualified_type)

_CLIENT = SpanKind.CLIENT
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PROTOCOLS = {9: "0.9", 10: "1.0", 11: "1.1", 20: "2", 30: "3"}
_REQUEST_HEADER = "http.request.header."
_RESPONSE_HEADER = "http.response.header."

# The send in progress in this context, while requests may follow its redirects.
_in_send = ContextVar("otel_autoinstrument.requests.send", default=None)


class _Send:
    """One top-level ``Session.send``: what its redirect hops need."""

    __slots__ = ("span", "parent", "hops", "first_hop_ns")

    def __init__(self, span, parent):
        self.span = span
        self.parent = parent
        self.hops = 0
        self.first_hop_ns = None


class RequestsInstrumentor(Instrumentor):
    name = "requests"
    requires = ("requests >= 2.0",)
    modules = ("requests",)

    def patches(self):
        from otel_autoinstrument.urls import DEFAULT_SENSITIVE_QUERY_PARAMS, HeaderCapture, redact_url

        settings = self.settings
        self._excluded = ExcludedUrls(settings, "OTEL_PYTHON_REQUESTS_EXCLUDED_URLS")
        self._sensitive = DEFAULT_SENSITIVE_QUERY_PARAMS | frozenset(settings.python_url_sensitive_query_params)
        sanitize = settings.instrumentation_http_capture_headers_sanitize_fields
        self._request_headers = HeaderCapture(settings.instrumentation_http_capture_headers_client_request, sanitize)
        self._response_headers = HeaderCapture(settings.instrumentation_http_capture_headers_client_response, sanitize)
        self._servers = {}  # scheme://authority -> (address, port)
        self._redact_url = redact_url
        return [("requests.sessions", "Session.send", self._send)]

    def _send(self, wrapped, instance, args, kwargs):
        if is_suppressed():
            return wrapped(*args, **kwargs)
        request = span = send = token = None
        with capture_internal_errors("requests: starting a client span"):
            request = args[0] if args else kwargs["request"]
            span, send = self._start(request)
            if send is not None:
                token = _in_send.set(send)
        response = error = None
        try:
            response = wrapped(*args, **kwargs)
            return response
        except Exception as exc:
            error = exc
            raise
        finally:
            if span is not None:
                with capture_internal_errors("requests: finishing a client span"):
                    if token is not None:
                        _in_send.reset(token)
                    self._finish(span, request, response, error, send)

    def _start(self, request):
        url = request.url
        if self._excluded and self._excluded.matches(url):
            return None, None
        method = request.method.upper() if request.method else "GET"
        attributes = {}
        if method in semconv.KNOWN_HTTP_METHODS:
            name = method
        else:
            name = "HTTP"
            attributes[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = request.method
            method = "_OTHER"
        attributes[semconv.HTTP_REQUEST_METHOD] = method
        attributes[semconv.URL_FULL] = self._redact_url(url, self._sensitive)
        address, port = self._server(url)
        if address:
            attributes[semconv.SERVER_ADDRESS] = address
        if port:
            attributes[semconv.SERVER_PORT] = port
        if self._request_headers.enabled:
            attributes.update(self._request_headers.attributes(_REQUEST_HEADER, request.headers))

        outer = _in_send.get()
        if outer is None:
            parent = get_current_span()
            span = self.tracer.start_span(name, _CLIENT, attributes, parent=parent)
            send = _Send(span, parent)
        else:
            # A redirect hop (or another send made while one is in progress).
            outer.hops += 1
            attributes[semconv.HTTP_REQUEST_RESEND_COUNT] = outer.hops
            if outer.parent is not None:
                if outer.first_hop_ns is None:
                    outer.first_hop_ns = time.time_ns()
                span = self.tracer.start_span(name, _CLIENT, attributes, parent=outer.parent)
            else:
                span = self.tracer.start_span(name, _CLIENT, attributes, parent=outer.span)
            send = None
        self.agent.propagator.inject(request.headers.__setitem__, span)
        return span, send

    def _finish(self, span, request, response, error, send):
        if response is not None:
            own = response
            if response.request is not request:
                # After redirects requests returns the last response; ours is in its history.
                for earlier in response.history or ():
                    if earlier.request is request:
                        own = earlier
                        break
            status = own.status_code
            span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
            version = _PROTOCOLS.get(getattr(own.raw, "version", None))
            if version:
                span.set_attribute(semconv.NETWORK_PROTOCOL_VERSION, version)
            if self._response_headers.enabled:
                span.set_attributes(self._response_headers.attributes(_RESPONSE_HEADER, own.headers))
            if status >= 400 and error is None:
                # Client spans: 4xx and 5xx are errors (HTTP semantic conventions).
                span.set_attribute(semconv.ERROR_TYPE, str(status))
                span.set_status(StatusCode.ERROR)
        if error is not None:
            span.set_attribute(semconv.ERROR_TYPE, qualified_type(error))
            span.record_exception(error, escaped=True)
            span.set_status(StatusCode.ERROR, "%s: %s" % (type(error).__name__, error))
        if send is not None and send.first_hop_ns is not None:
            span.end(send.first_hop_ns)
        else:
            span.end()

    def _server(self, url):
        """``(server.address, server.port)`` of ``url``, cached per scheme and authority."""
        start = url.find("://")
        if start == -1:
            return None, None
        end = len(url)
        for stop in "/?#":
            found = url.find(stop, start + 3, end)
            if found != -1:
                end = found
        key = url[:end]
        server = self._servers.get(key)
        if server is None:
            server = _parse_server(url[:start].lower(), url[start + 3:end])
            if len(self._servers) >= 256:
                self._servers.clear()
            self._servers[key] = server
        return server


def _parse_server(scheme, authority):
    host = authority.rpartition("@")[2]
    port = None
    if host.startswith("["):
        close = host.find("]")
        rest = host[close + 1:]
        host = host[1:close] if close != -1 else host[1:]
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    else:
        name, colon, digits = host.rpartition(":")
        if colon and digits.isdigit():
            host, port = name, int(digits)
        elif colon and not digits:
            host = name
    return host.lower() or None, port or _DEFAULT_PORTS.get(scheme)


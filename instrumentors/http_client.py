"""http.client (and so ``urllib.request``, ``xmlrpc.client`` and anything else built on
the standard library's HTTP client): one CLIENT span per request, with trace propagation.

``HTTPConnection.request`` starts the span and sends the propagation headers (in a copy
of the caller's header dict), ``HTTPConnection.getresponse`` ends it with the status
and response headers (the body is read afterwards, and is not part of it); the span
waits on the connection object in between. A request sent without ``getresponse``
ends at the next ``request``. ``urllib.request`` follows redirects with a new request:
each hop is a span under the caller's.

No double span: when a higher-level client instrumentation handles the request
(``client_request_handled()``: urllib3, and requests or httpx above it), nothing is
recorded here. Nor is the agent's own export traffic (suppressed context), whatever
transport it uses. Excluded URLs: ``OTEL_PYTHON_HTTP_CLIENT_EXCLUDED_URLS``.
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors

_PROTOCOLS = {9: "0.9", 10: "1.0", 11: "1.1"}
_SPAN = "_otel_autoinstrument_span"  # the span of the request waiting for its response
_HEADERS_INDEX = 3  # request(self, method, url, body=None, headers={}, ...): args[3]


class HttpClientInstrumentor(Instrumentor):
    name = "http_client"
    requires = ()
    # urllib.request is traced through http.client; naming it says so to the contrib
    # loader, which then leaves opentelemetry-instrumentation-urllib out (no second span).
    modules = ("http.client", "urllib.request")

    def patches(self):
        from otel_autoinstrument.instrumentation.clients import client_request_handled
        from otel_autoinstrument.instrumentation.http import HttpClient

        self._handled = client_request_handled
        self._http = HttpClient(self, "OTEL_PYTHON_HTTP_CLIENT_EXCLUDED_URLS")
        return [
            ("http.client", "HTTPConnection.request", self._request),
            ("http.client", "HTTPConnection.getresponse", self._getresponse),
        ]

    def _request(self, wrapped, instance, args, kwargs):
        if self._handled():
            return wrapped(*args, **kwargs)
        span = None
        with capture_internal_errors("http.client: starting a client span"):
            pending = instance.__dict__.pop(_SPAN, None)
            if pending is not None:
                self._http.finish(pending)
            span, args, kwargs = self._start(instance, args, kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:  # interrupted or cancelled: the span ends too
            if span is not None:
                with capture_internal_errors("http.client: finishing a client span"):
                    self._http.finish(span, error=exc)
            raise
        if span is not None:
            instance.__dict__[_SPAN] = span
        return result

    def _getresponse(self, wrapped, instance, args, kwargs):
        span = instance.__dict__.pop(_SPAN, None)
        if span is None:
            return wrapped(*args, **kwargs)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:  # interrupted or cancelled: the span ends too
            with capture_internal_errors("http.client: finishing a client span"):
                self._http.finish(span, error=exc)
            raise
        with capture_internal_errors("http.client: finishing a client span"):
            self._http.finish(span, response.status, None, _PROTOCOLS.get(response.version), response.headers)
        return response

    def _start(self, connection, args, kwargs):
        method = args[0] if args else kwargs.get("method")
        target = args[1] if len(args) > 1 else kwargs.get("url")
        in_args = len(args) > _HEADERS_INDEX
        headers = args[_HEADERS_INDEX] if in_args else kwargs.get("headers")
        http = self._http
        span = http.start(method, _full_url(connection, target), headers)
        if span is None:
            return None, args, kwargs
        headers = dict(headers) if headers else {}
        http.inject(headers.__setitem__, span)
        if in_args:
            args = args[:_HEADERS_INDEX] + (headers,) + args[_HEADERS_INDEX + 1:]
        else:
            kwargs = dict(kwargs)
            kwargs["headers"] = headers
        return span, args, kwargs


def _full_url(connection, target):
    if not target or target[0] != "/":
        return target or ""  # an absolute URL (through a proxy)
    https = connection.default_port == 443
    tunnel = getattr(connection, "_tunnel_host", None)  # CONNECT through a proxy: the real host
    host, port = (tunnel, connection._tunnel_port) if tunnel else (connection.host, connection.port)
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    if port and port != (443 if https else 80):
        host = "%s:%d" % (host, port)
    return "%s://%s%s" % ("https" if https else "http", host, target)

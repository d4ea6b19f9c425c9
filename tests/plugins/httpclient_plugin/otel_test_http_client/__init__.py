"""http.client: a CLIENT span from ``HTTPConnection.request`` to ``getresponse``.

The span starts where the request is written (its propagation headers added to a copy
of the caller's headers) and is kept on the connection until the response arrives, or
ended at once if the request itself fails. Written only against the plugin API; the
base class keeps the patches off the agent's own export traffic.
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors

_SLOT = "_otel_test_http_client_span"
_VERSIONS = {10: "1.0", 11: "1.1"}


class HttpClientInstrumentor(Instrumentor):
    name = "test-http-client"
    modules = ("http.client",)

    def patches(self):
        import http.client

        from otel_autoinstrument.instrumentation.http import HttpClient

        self._http = HttpClient(self, "OTEL_PYTHON_TEST_HTTP_CLIENT_EXCLUDED_URLS")
        self._https = getattr(http.client, "HTTPSConnection", ())  # absent without ssl
        return [("http.client", "HTTPConnection.request", self._request),
                ("http.client", "HTTPConnection.getresponse", self._getresponse)]

    def _request(self, wrapped, instance, args, kwargs):
        span = None
        with capture_internal_errors("test-http-client: starting a client span"):
            args, kwargs, span = self._start(instance, args, kwargs)
        try:
            return wrapped(*args, **kwargs)
        except Exception as exc:
            if span is not None:
                with capture_internal_errors("test-http-client: a failed request"):
                    instance.__dict__.pop(_SLOT, None)
                    self._http.finish(span, error=exc)
            raise

    def _getresponse(self, wrapped, instance, args, kwargs):
        span = instance.__dict__.pop(_SLOT, None)
        response = error = None
        try:
            response = wrapped(*args, **kwargs)
            return response
        except Exception as exc:
            error = exc
            raise
        finally:
            if span is not None:
                with capture_internal_errors("test-http-client: finishing a client span"):
                    status = getattr(response, "status", None)
                    self._http.finish(span, status, error, _VERSIONS.get(getattr(response, "version", None)))

    def _start(self, connection, args, kwargs):
        method = args[0] if args else kwargs["method"]
        target = args[1] if len(args) > 1 else kwargs["url"]
        scheme = "https" if isinstance(connection, self._https) else "http"
        url = target if "://" in target else "%s://%s:%s%s" % (scheme, connection.host, connection.port, target)
        span = self._http.start(method, url)
        if span is None:
            return args, kwargs, None
        given = args[3] if len(args) > 3 else kwargs.get("headers")
        headers = dict(given or {})
        self._http.inject(headers.__setitem__, span)
        if len(args) > 3:
            args = args[:3] + (headers,) + args[4:]
        else:
            kwargs = dict(kwargs, headers=headers)
        previous = connection.__dict__.pop(_SLOT, None)
        if previous is not None:  # a request whose response was never read
            previous.end()
        connection.__dict__[_SLOT] = span
        return args, kwargs, span

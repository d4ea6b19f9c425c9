"""urllib3: a CLIENT span per ``HTTPConnectionPool.urlopen``, with trace propagation.

Written only against the plugin API, as a third party would write it: the HTTP client
helper builds the span and its attributes, the base class applies the patch and keeps
it off the agent's own export traffic (no ``is_suppressed()`` here).
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors

_VERSIONS = {10: "1.0", 11: "1.1", 20: "2"}


class Urllib3Instrumentor(Instrumentor):
    name = "test-urllib3"
    requires = ("urllib3 >= 1.26",)
    modules = ("urllib3",)

    def patches(self):
        from otel_autoinstrument.instrumentation.http import HttpClient

        self._http = HttpClient(self, "OTEL_PYTHON_TEST_URLLIB3_EXCLUDED_URLS")
        return [("urllib3.connectionpool", "HTTPConnectionPool.urlopen", self._urlopen)]

    def _urlopen(self, wrapped, instance, args, kwargs):
        span = None
        with capture_internal_errors("test-urllib3: starting a client span"):
            args, kwargs, span = self._start(instance, args, kwargs)
        response = error = None
        try:
            response = wrapped(*args, **kwargs)
            return response
        except Exception as exc:
            error = exc
            raise
        finally:
            if span is not None:
                with capture_internal_errors("test-urllib3: finishing a client span"):
                    status = getattr(response, "status", None)
                    version = _VERSIONS.get(getattr(response, "version", None))
                    self._http.finish(span, status, error, version)

    def _start(self, pool, args, kwargs):
        method = args[0] if args else kwargs["method"]
        path = args[1] if len(args) > 1 else kwargs["url"]
        url = path if "://" in path else "%s://%s:%s%s" % (pool.scheme, pool.host, pool.port, path)
        span = self._http.start(method, url)
        if span is None:
            return args, kwargs, None
        # The caller's headers (or the pool's defaults) are copied, never changed.
        given = args[3] if len(args) > 3 else kwargs.get("headers")
        headers = dict(pool.headers if given is None else given)
        self._http.inject(headers.__setitem__, span)
        if len(args) > 3:
            args = args[:3] + (headers,) + args[4:]
        else:
            kwargs = dict(kwargs, headers=headers)
        return args, kwargs, span

"""urllib3: one CLIENT span per HTTP request sent, for urllib3 used directly and for the
libraries built on it (boto3/botocore, the Elasticsearch and Kubernetes clients, ...),
with trace propagation.

Patched where the classes define them:

* ``PoolManager.urlopen`` and ``HTTPConnectionPool.urlopen``: the call
  (``urllib3.request``, ``PoolManager().request``, ``pool.urlopen``), marked as a
  ``ClientCall`` by the outermost of them. urllib3 retries and follows redirects by
  calling ``urlopen`` again from inside (a pool), or after the first response
  (``PoolManager``, across hosts).
* ``HTTPConnectionPool._make_request``: each request actually put on the wire. Each is
  its own span, as the HTTP conventions recommend: siblings under the caller's span,
  the second and later with ``http.request.resend_count`` (retries and redirect hops
  alike), children of the first one when there is no caller span. The span ends when
  urllib3 has the response: its headers, and its body too unless the caller streams
  it (``preload_content=False``).

No double span: when a higher-level client instrumentation (requests, httpx) handles
the request (``client_request_handled()``), urllib3 records nothing; requests' span is
the one. The agent's own export traffic is never traced (suppressed context). The
propagation headers go into a copy of the headers urllib3 sends (often the pool's own
defaults or the caller's dict, which must not change). Excluded URLs:
``OTEL_PYTHON_URLLIB3_EXCLUDED_URLS``.
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors

_PROTOCOLS = {9: "0.9", 10: "1.0", 11: "1.1", 20: "2", 30: "3"}
_HEADERS_INDEX = 4  # _make_request(self, conn, method, url, body, headers, ...): args[4]


class Urllib3Instrumentor(Instrumentor):
    name = "urllib3"
    requires = ("urllib3 >= 1.26",)
    modules = ("urllib3",)

    def patches(self):
        from otel_autoinstrument.instrumentation.clients import (
            ClientCalls, client_request_handled, handle_client_request, release_client_request)
        from otel_autoinstrument.instrumentation.http import HttpClient

        self._handled = client_request_handled
        self._handle, self._release = handle_client_request, release_client_request
        self._http = HttpClient(self, "OTEL_PYTHON_URLLIB3_EXCLUDED_URLS")
        self._calls = calls = ClientCalls("urllib3")
        return [
            ("urllib3.poolmanager", "PoolManager.urlopen", calls.wrapper),
            ("urllib3.connectionpool", "HTTPConnectionPool.urlopen", calls.wrapper),
            ("urllib3.connectionpool", "HTTPConnectionPool._make_request", self._make_request),
        ]

    def _make_request(self, wrapped, instance, args, kwargs):
        if self._handled():
            return wrapped(*args, **kwargs)
        span = handled = None
        with capture_internal_errors("urllib3: starting a client span"):
            span, args, kwargs = self._start(instance, args, kwargs)
            handled = self._handle()  # http.client underneath
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:  # interrupted or cancelled: the span ends too
            if span is not None:
                with capture_internal_errors("urllib3: finishing a client span"):
                    self._http.finish(span, error=exc)
            raise
        finally:
            if handled is not None:
                self._release(handled)
        if span is not None:
            with capture_internal_errors("urllib3: finishing a client span"):
                self._http.finish(span, response.status, None, _PROTOCOLS.get(getattr(response, "version", None)),
                                  response.headers)
        return response

    def _start(self, pool, args, kwargs):
        """The span of this request and the arguments with the propagation headers."""
        method = args[1] if len(args) > 1 else kwargs.get("method")
        target = args[2] if len(args) > 2 else kwargs.get("url")
        in_args = len(args) > _HEADERS_INDEX
        headers = args[_HEADERS_INDEX] if in_args else kwargs.get("headers")
        http = self._http
        span = http.start_sent(self._calls.current(), method, _full_url(pool, target), headers)
        if span is None:
            return None, args, kwargs
        headers = _copy(headers)
        http.inject(headers.__setitem__, span)
        if in_args:
            args = args[:_HEADERS_INDEX] + (headers,) + args[_HEADERS_INDEX + 1:]
        else:
            kwargs = dict(kwargs)
            kwargs["headers"] = headers
        return span, args, kwargs


def _copy(headers):
    if headers is None:
        return {}
    copy = getattr(headers, "copy", None)  # HTTPHeaderDict keeps its case-insensitivity
    return copy() if copy is not None else dict(headers)


def _full_url(pool, target):
    """The absolute URL of ``target`` (a path, or an absolute URL through a proxy)."""
    if not target or target[0] != "/":
        return target or ""
    scheme = getattr(pool, "scheme", "http")
    host = pool.host or ""
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    port = pool.port
    if port and port != (443 if scheme == "https" else 80):
        host = "%s:%d" % (host, port)
    return "%s://%s%s" % (scheme, host, target)

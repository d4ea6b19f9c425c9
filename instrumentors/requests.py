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
nor injected. Where instrumentation is suppressed (the agent's own export) the base
class calls straight through. While requests sends, the request is marked as handled
(``client_request_handled``): urllib3 underneath makes no second span.
"""

import time
from contextvars import ContextVar

from otel_autoinstrument.instrumentation import Instrumentor, get_current_span, internal_error, semconv

_PROTOCOLS = {9: "0.9", 10: "1.0", 11: "1.1", 20: "2", 30: "3"}

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
        from otel_autoinstrument.instrumentation.clients import handle_client_request, release_client_request
        from otel_autoinstrument.instrumentation.http import HttpClient

        self._http = HttpClient(self, "OTEL_PYTHON_REQUESTS_EXCLUDED_URLS")
        self._handle, self._release = handle_client_request, release_client_request
        return [("requests.sessions", "Session.send", self._send)]

    def _send(self, wrapped, instance, args, kwargs):
        # try/except rather than ``with capture_internal_errors(...)``: the same safety
        # net without three calls per use, on a path that runs for every request.
        request = span = send = token = handled = None
        try:
            handled = self._handle()
            request = args[0] if args else kwargs["request"]
            span, send = self._start(request)
            if send is not None:
                token = _in_send.set(send)
        except Exception:
            internal_error("requests: starting a client span")
        response = error = None
        try:
            response = wrapped(*args, **kwargs)
            return response
        except Exception as exc:
            error = exc
            raise
        finally:
            if handled is not None:
                self._release(handled)
            if span is not None:
                try:
                    if token is not None:
                        _in_send.reset(token)
                    self._finish(span, request, response, error, send)
                except Exception:
                    internal_error("requests: finishing a client span")

    def _start(self, request):
        http = self._http
        url = request.url
        outer = _in_send.get()
        if outer is None:
            current = get_current_span()
            parent = current if current.context.is_valid else None
            span = http.start(request.method, url, request.headers, parent=parent)
            if span is None:
                return None, None  # an excluded URL: neither traced nor injected
            send = _Send(span, parent)
        else:
            # A redirect hop (or another send made while one is in progress).
            if http.is_excluded(url):
                return None, None
            outer.hops += 1
            if outer.parent is not None:
                if outer.first_hop_ns is None:
                    outer.first_hop_ns = time.time_ns()
                span = http.start(request.method, url, request.headers, parent=outer.parent)
            else:
                span = http.start(request.method, url, request.headers, parent=outer.span)
            span.set_attribute(semconv.HTTP_REQUEST_RESEND_COUNT, outer.hops)
            send = None
        http.inject(request.headers.__setitem__, span)
        return span, send

    def _finish(self, span, request, response, error, send):
        status = version = headers = None
        if response is not None:
            own = response
            if response.request is not request:
                # After redirects requests returns the last response; ours is in its history.
                for earlier in response.history or ():
                    if earlier.request is request:
                        own = earlier
                        break
            status = own.status_code
            version = _PROTOCOLS.get(getattr(own.raw, "version", None))
            headers = own.headers
        end = send.first_hop_ns if send is not None else None
        self._http.finish(span, status, error, version, headers, end)

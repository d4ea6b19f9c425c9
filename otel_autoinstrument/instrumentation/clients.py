"""Client calls, shared by the HTTP client instrumentations (plugin API): one span per
request sent, however many instrumented libraries a request goes through, and the
several requests one call sends.

* ``handle_client_request`` / ``client_request_handled``: the outermost instrumented
  library marks the request it sends as handled (a context variable) around the one
  call of its original; the libraries it is built on (urllib3 under requests,
  http.client under urllib3) see the mark and record nothing: requests' span is the
  one. Set even for an excluded URL, so nothing underneath traces it either.
* ``ClientCalls`` / ``ClientCall``: a call (``client.get(url)``) may send several
  requests (redirect hops, authentication rounds, retries); its wrappers keep the call
  in a context variable for ``HttpClient.start_sent``, which makes each request a span
  with ``http.request.resend_count``.
"""

from contextvars import ContextVar

from ..trace.context import get_current_span, is_suppressed

__all__ = ["ClientCall", "ClientCalls", "client_request_handled", "handle_client_request",
           "release_client_request"]

# True while an HTTP client instrumentation handles the request being made in this
# context (see ``handle_client_request``).
_handled = ContextVar("otel_autoinstrument.http.client_request_handled", default=False)


def client_request_handled():
    """True while an HTTP client instrumentation handles the request being made in this
    context, traced or deliberately not (an excluded URL): the libraries it is built on
    (urllib3 under requests, http.client under urllib3) must make no span of their own."""
    return _handled.get()


def handle_client_request():
    """Mark the request about to be made in this context as handled (set it around the
    one call of the library's original); returns a token for ``release_client_request``."""
    return _handled.set(True)


def release_client_request(token):
    _handled.reset(token)


class ClientCall:
    """One call of a client library (``client.get(url)``) and the requests it sends for
    it: redirect hops, authentication rounds, retries. Kept by the instrumentation in
    a context variable while the call runs, and given to ``HttpClient.start_sent``."""

    __slots__ = ("parent", "first", "sent")

    def __init__(self, parent):
        self.parent = parent  # the caller's span, or None
        self.first = None  # the span of the first request sent
        self.sent = 0


class ClientCalls:
    """The call of one client library in progress in this context (a ``ClientCall``), for
    libraries that send several requests per call: ``wrapper`` / ``async_wrapper`` are
    wrapt wrappers for the call's entry points (the outermost one opens the call; none
    does while a higher-level library handles the request), ``current()`` is what to
    give ``HttpClient.start_sent`` when a request is sent."""

    __slots__ = ("_call",)

    def __init__(self, library):
        self._call = ContextVar("otel_autoinstrument.%s.call" % library, default=None)

    def current(self):
        return self._call.get()

    def _opens(self):
        return self._call.get() is None and not _handled.get() and not is_suppressed()

    def wrapper(self, wrapped, instance, args, kwargs):
        if not self._opens():
            return wrapped(*args, **kwargs)
        token = self._call.set(ClientCall(_caller()))
        try:
            return wrapped(*args, **kwargs)
        finally:
            self._call.reset(token)

    def async_wrapper(self, wrapped, instance, args, kwargs):
        if not self._opens():
            return wrapped(*args, **kwargs)
        return self._async_call(wrapped, args, kwargs)

    async def _async_call(self, wrapped, args, kwargs):
        token = self._call.set(ClientCall(_caller()))
        try:
            return await wrapped(*args, **kwargs)
        finally:
            self._call.reset(token)


def _caller():
    """The span the call is made in, or None outside any span."""
    span = get_current_span()
    return span if span.get_span_context().is_valid else None

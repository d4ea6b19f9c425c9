"""httpx: one CLIENT span per HTTP request sent, sync ``Client`` and ``AsyncClient``
(and so the module helpers ``httpx.get(...)``, which make a ``Client``), with trace
propagation.

Patched where the classes define them:

* ``send``: every call goes through it (``get``, ``request``, ``stream``); it marks the
  call (a ``ClientCall``) for the requests sent on its behalf.
* ``_send_single_request``: each request actually sent, whatever the transport (the
  default one, a mounted proxy, ``MockTransport``, ``ASGITransport``). httpx follows
  redirects and authentication rounds (digest) by sending again from ``send``, so each
  hop is its own span. The convention is the one of the HTTP semantic conventions and
  of the requests instrumentor: the hops are siblings under the caller's span, the
  second and later carry ``http.request.resend_count``; without a caller span they
  are children of the first request's span (one root per trace). Retries made by the
  transport (``HTTPTransport(retries=N)``, connection failures only) happen inside one
  request and are part of its span; a retry the application makes is a new call.

The propagation headers go into the ``httpx.Request`` while it is sent, and its own
headers are put back afterwards: the caller's dicts and the request object the
application (event hooks, ``response.request``, the next redirect hop) sees are as
without the agent.
The span ends when the response's stream is closed: after ``read()`` for a plain
call, when the ``with client.stream(...)`` block ends for a streamed one, so the time
spent reading the body is part of it. A streamed response the application drops
without closing it ends its span when it is collected, marked
``otel_autoinstrument.response.unclosed`` (as an unclosed WSGI response is), so the span
is exported rather than lost. Excluded URLs
(``OTEL_PYTHON_HTTPX_EXCLUDED_URLS``) are neither traced nor injected.
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors, internal_error, semconv


class HttpxInstrumentor(Instrumentor):
    name = "httpx"
    requires = ("httpx >= 0.23",)
    modules = ("httpx",)

    def patches(self):
        from otel_autoinstrument.instrumentation.clients import (
            ClientCalls, handle_client_request, release_client_request)
        from otel_autoinstrument.instrumentation.http import HttpClient

        self._handle, self._release = handle_client_request, release_client_request
        self._http = HttpClient(self, "OTEL_PYTHON_HTTPX_EXCLUDED_URLS")
        self._calls = calls = ClientCalls("httpx")
        self._streams = _stream_classes()
        return [
            ("httpx._client", "Client.send", calls.wrapper),
            ("httpx._client", "AsyncClient.send", calls.async_wrapper),
            ("httpx._client", "Client._send_single_request", self._send_single),
            ("httpx._client", "AsyncClient._send_single_request", self._async_send_single),
        ]

    def _send_single(self, wrapped, instance, args, kwargs):
        span, undo = self._start(args, kwargs)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:  # interrupted or cancelled: the span ends too
            self._failed(span, exc)
            raise
        finally:
            self._restore(undo)
        return self._finish_on_close(span, response, self._streams[0])

    async def _async_send_single(self, wrapped, instance, args, kwargs):
        span, undo = self._start(args, kwargs)
        try:
            response = await wrapped(*args, **kwargs)
        except BaseException as exc:  # interrupted or cancelled: the span ends too
            self._failed(span, exc)
            raise
        finally:
            self._restore(undo)
        return self._finish_on_close(span, response, self._streams[1])

    def _start(self, args, kwargs):
        """(the span of the request, or None; what ``_restore`` undoes once it is sent)"""
        span = None
        undo = _Undo()
        with capture_internal_errors("httpx: starting a client span"):
            request = args[0] if args else kwargs["request"]
            http = self._http
            span = http.start_sent(self._calls.current(), request.method, str(request.url), request.headers)
            if span is not None:
                undo.headers = request.headers
                http.inject(undo.set_header, span)
            undo.handled = self._handle()  # a transport built on urllib3
        return span, undo

    def _restore(self, undo):
        with capture_internal_errors("httpx: restoring the request headers"):
            if undo.handled is not None:
                self._release(undo.handled)
            undo.restore()

    def _failed(self, span, exc):
        if span is not None:
            with capture_internal_errors("httpx: finishing a client span"):
                self._http.finish(span, error=exc)

    def _finish_on_close(self, span, response, stream_class):
        if span is None:
            return response
        try:
            finish = _Finish(self._http, span, response.status_code, response.http_version, response.headers)
            if response.is_closed:  # read and closed already (a transport's in-memory answer)
                finish()
                return response
            response.stream = stream_class(response.stream, finish)
        except Exception:
            internal_error("httpx: finishing a client span")
            span.end()
        return response


class _Undo:
    """The propagation headers put into an ``httpx.Request`` for the time it is sent: the
    headers it had are put back afterwards, so the application's request object (what
    its event hooks and the next redirect hop start from) is as without the agent."""

    __slots__ = ("headers", "previous", "handled")

    def __init__(self):
        self.headers = None
        self.previous = []
        self.handled = None

    def set_header(self, name, value):
        self.previous.append((name, self.headers.get(name)))
        self.headers[name] = value

    def restore(self):
        headers = self.headers
        for name, value in reversed(self.previous):
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value


class _Finish:
    """What ends a request's span when its response stream is closed (or, when the
    application drops the response unclosed, when the stream is collected)."""

    __slots__ = ("http", "span", "status", "version", "headers")

    def __init__(self, http, span, status, version, headers):
        self.http = http
        self.span = span
        self.status = status
        self.version = version
        self.headers = headers

    def __call__(self):
        span, self.span = self.span, None
        if span is not None:
            with capture_internal_errors("httpx: finishing a client span"):
                self.http.finish(span, self.status, None, self.version, self.headers)

    def dropped(self):
        """The stream was collected without being closed."""
        span = self.span
        if span is not None:
            with capture_internal_errors("httpx: finishing the span of an unclosed response"):
                span.set_attribute(semconv.RESPONSE_UNCLOSED, True)
            self()


def _stream_classes():
    """Stream wrappers that are httpx streams (httpx checks the type of
    ``response.stream``), made when httpx is imported."""
    import httpx

    class SyncStream(httpx.SyncByteStream):
        __slots__ = ("_stream", "_finish")

        def __init__(self, stream, finish):
            self._stream = stream
            self._finish = finish

        def __iter__(self):
            return iter(self._stream)

        def close(self):
            try:
                self._stream.close()
            finally:
                self._finish()

        def __del__(self):
            _dropped(self)

    class AsyncStream(httpx.AsyncByteStream):
        __slots__ = ("_stream", "_finish")

        def __init__(self, stream, finish):
            self._stream = stream
            self._finish = finish

        def __aiter__(self):
            return self._stream.__aiter__()

        async def aclose(self):
            try:
                await self._stream.aclose()
            finally:
                self._finish()

        def __del__(self):
            _dropped(self)

    return SyncStream, AsyncStream


def _dropped(stream):
    finish = getattr(stream, "_finish", None)  # None if its __init__ never ran
    if finish is not None:
        finish.dropped()

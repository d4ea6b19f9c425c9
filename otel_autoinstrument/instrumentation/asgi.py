"""SERVER spans for ASGI applications, shared by the Starlette (FastAPI) and Django
ASGI instrumentors, and published for plugins of other ASGI frameworks.

``AsgiTracing`` traces one ASGI call (``tracing.handle(app, scope, receive, send)``,
``tracing.wrap_app(app)`` for an application object, or the tracing itself as a
wrapt wrapper of an ``async def __call__(scope, receive, send)``). Per connection:

* ``http``: a SERVER span with the stable HTTP attributes, computed by the same
  ``HttpServer`` code as the WSGI layer (excluded URLs, header capture and redaction,
  client address rules, status mapping). The incoming W3C context and baggage come
  from the request headers. The span is named ``{method}``, then ``{method} {route}``
  once the framework's route is known (a ``route(scope, owner)`` function given by
  the instrumentor, read when the response starts, or ``AsgiRequest.set_route``).
* The span and baggage are current while the application runs, so ``await``,
  ``asyncio.create_task``, thread pools and the framework's background tasks keep
  the trace. The span ENDS when the response is complete (the last
  ``http.response.body`` with ``more_body`` false, the trailers, or a
  ``http.response.pathsend``): a streamed body or server-sent events are part of the
  request; background tasks run after the response are its children but not part
  of its duration. After a 5xx answer the span ends when the application returns
  instead, so the exception that Starlette's error handler re-raises after sending
  its 500 is recorded on it.
* A client that disconnects before the response is complete (``http.disconnect``
  received, or the server failing to send with an ``OSError``) is recorded as an
  ``http.disconnect`` span event; it is not an error by itself (a browser closing an
  event stream is normal), nor is the exception a framework raises because of it. An exception escaping the
  application is recorded once (ERROR, ``error.type``); a cancellation is not an
  application error and is not recorded as one.
* When metrics are on, an HTTP request is counted in ``http.server.active_requests``
  and its ``http.server.request.duration`` recorded when its span ends, sampled or not
  (method, scheme, protocol version, route, status, error type; never the path).
* ``websocket``: one span per connection, not per message, named ``WS {route}``
  (``network.protocol.name`` ``websocket``), ending when the application returns.
* ``lifespan`` and any other type: not requests, passed through untouched.

Per-request state lives in the scope (``SCOPE_KEY``), where the frameworks' hooks find
it; an inner layer (a mounted application) sees it and leaves the request alone.
"""

from .. import semconv
from .._log import internal_error
from ..trace.context import attach, detach, is_suppressed, reset_baggage, set_baggage
from ..trace.span import SpanKind, qualified_type
from .http import HttpServer

__all__ = ["SCOPE_KEY", "AsgiRequest", "AsgiTracing", "TracedApp"]

SCOPE_KEY = "otel_autoinstrument.request"
DISCONNECT_EVENT = "http.disconnect"

_SERVER = SpanKind.SERVER
_TRACED_TYPES = frozenset(("http", "websocket"))


class AsgiTracing:
    """The ASGI tracing of one instrumentor: settings resolved once (``HttpServer``)."""

    def __init__(self, instrumentor, excluded_variable=None, route=None):
        self.http = http = HttpServer(instrumentor, excluded_variable)
        self.tracer = http.tracer
        self.route = route  # (scope, owner) -> route template or None
        self.active = True  # False after uninstrument: stacks wrapped earlier pass through
        security = http.security
        self._proxy_header = security.proxy_header.encode("latin-1") if security.proxy_count else None
        self._fields = frozenset(f.encode("latin-1") for f in http.propagator.fields)
        self._wanted = self._fields | {b"host", b"user-agent"} | (
            {self._proxy_header} if self._proxy_header else set())

    def wants(self, scope):
        """Is this call a request to trace (an HTTP request or WebSocket, not yet traced)?"""
        return (self.active and scope.get("type") in _TRACED_TYPES and SCOPE_KEY not in scope
                and not is_suppressed())

    def wrap_app(self, app, owner=None):
        """``app`` traced; ``owner`` (the framework's application object) goes to ``route``."""
        return TracedApp(app, self, owner)

    def __call__(self, wrapped, instance, args, kwargs):
        """A wrapt wrapper for ``async def __call__(self, scope, receive, send)``."""
        try:
            scope, receive, send = _call_arguments(args, kwargs)
            traced = scope is not None and self.wants(scope)
        except Exception:
            internal_error("reading an ASGI call")
            traced = False
        if not traced:
            return wrapped(*args, **kwargs)
        return self.handle(wrapped, scope, receive, send, instance)

    async def handle(self, app, scope, receive, send, owner=None):
        """Run ``app(scope, receive, send)`` as one traced request (call ``wants`` first)."""
        request = None
        try:
            request = self._start(scope, receive, send, owner)
        except Exception:
            internal_error("starting an ASGI server span")
        if request is None:
            return await app(scope, receive, send)
        try:
            if request.method is None:
                return await app(scope, receive, send)  # a WebSocket: messages are not traced
            return await app(scope, request.receive, request.send)
        except BaseException as exc:
            request.failed(exc)
            raise
        finally:
            request.close()

    # -- the request ----------------------------------------------------------------

    def _start(self, scope, receive, send, owner):
        headers = _pick(scope.get("headers"), self._wanted)
        scheme = scope.get("scheme") or ("ws" if scope["type"] == "websocket" else "http")
        path = scope.get("path") or "/"
        if not path.isascii():
            path = _wire_path(path)
        query = scope.get("query_string")
        if query:
            # bytes by the ASGI spec; Django's handler (and its tests) also take a str
            query = query if type(query) is str else bytes(query).decode("latin-1")
        else:
            query = None
        http = self.http
        host = headers.get(b"host")
        if http.excluded is not None and http.is_excluded(scheme, host, path, query):
            return None
        parent = baggage = None
        if not self._fields.isdisjoint(headers):
            parent, baggage = http.extract(lambda name: headers.get(name.encode("latin-1")))
        method = scope.get("method", "GET") if scope["type"] == "http" else None
        name = http.span_name(method) if method is not None else "WS"
        span = self.tracer.start_span(name, _SERVER, parent=parent)
        if span.is_recording():
            span.set_attributes(self._attributes(scope, method, scheme, path, query, headers))
        request = AsgiRequest(self, span, scope, method, baggage, receive, send, owner)
        metrics = http.metrics
        if metrics is not None and method is not None:  # a WebSocket connection is no request to time
            request.measure = metrics.request(method, scheme, scope.get("http_version"))
        # Last: nothing that could fail comes after the request is made current (a
        # failure before leaves the application's context and scope as they were).
        scope[SCOPE_KEY] = request
        request.activate()
        return request

    def _attributes(self, scope, method, scheme, path, query, headers):
        http = self.http
        server = scope.get("server") or (None, None)
        client = scope.get("client")
        attributes = http.request_attributes(
            method or "GET", scheme, path, query, headers.get(b"host"), server[0], server[1],
            client[0] if client else None,
            headers.get(self._proxy_header) if self._proxy_header else None,
            scope.get("http_version"), headers.get(b"user-agent"),
            (lambda: scope.get("headers") or ()) if http.request_headers.enabled else None)
        if method is None:  # a WebSocket handshake is a GET, but the span is the connection
            del attributes[semconv.HTTP_REQUEST_METHOD]
            attributes[semconv.NETWORK_PROTOCOL_NAME] = "websocket"
        return attributes


class AsgiRequest:
    """One traced request: its span, the context tokens, and what was recorded."""

    __slots__ = ("tracing", "span", "scope", "method", "baggage", "owner", "named", "route", "complete",
                 "disconnected", "trailers", "status", "error", "measure", "_receive", "_send", "_span_token",
                 "_baggage_token")

    def __init__(self, tracing, span, scope, method, baggage, receive, send, owner):
        self.tracing = tracing
        self.span = span
        self.scope = scope
        self.method = method  # None for a WebSocket
        self.baggage = baggage
        self.owner = owner
        self.named = False
        self.route = None
        self.complete = False
        self.disconnected = False
        self.trailers = False
        self.status = 0
        self.error = None
        self.measure = None  # the request's metrics (instrumentation.metrics.ServerRequest), when on
        self._receive = receive
        self._send = send
        self._span_token = None
        self._baggage_token = None

    def activate(self):
        self._span_token = attach(self.span)
        if self.baggage:
            self._baggage_token = set_baggage(self.baggage)

    def deactivate(self):
        if self._baggage_token is not None:
            reset_baggage(self._baggage_token)
            self._baggage_token = None
        if self._span_token is not None:
            detach(self._span_token)
            self._span_token = None

    # -- called by the frameworks' hooks -------------------------------------------

    def set_route(self, route):
        self.named = True
        self.route = route
        if self.measure is not None:
            self.measure.route = route
        if self.method is None:
            self.span.update_name("WS " + route)
            self.span.set_attribute(semconv.HTTP_ROUTE, route)
        else:
            self.tracing.http.set_route(self.span, self.method, route)

    def event_facts(self):
        """The request's attributes on a security log event (read only when one is sent)."""
        scope = self.scope
        client = scope.get("client")
        tracing = self.tracing
        proxy = tracing._proxy_header
        proxy_value = _pick(scope.get("headers"), (proxy,)).get(proxy) if proxy else None
        return tracing.http.event_facts(self.method or "GET", scope.get("path"), self.route,
                                        client[0] if client else None, proxy_value)

    def record_exception(self, exc):
        """An exception escaped the application (recorded once, however many layers see it)."""
        if self.error is exc:
            return
        self.error = exc
        if self.measure is not None:
            self.measure.error_type = qualified_type(exc)
        self.tracing.http.error(self.span, exc)

    # -- the ASGI protocol -----------------------------------------------------------

    async def receive(self):
        message = await self._receive()
        if not self.complete and message.get("type") == "http.disconnect":
            self._disconnected()
        return message

    async def send(self, message):
        final = False
        try:
            final = self._sending(message)
        except Exception:
            internal_error("recording an ASGI response")
        try:
            await self._send(message)
        except OSError:  # the server could not send: the client is gone
            self._disconnected()
            raise
        if final:
            self.end()

    def _disconnected(self):
        if self.disconnected:
            return
        self.disconnected = True
        try:
            self.span.add_event(DISCONNECT_EVENT)
        except Exception:
            internal_error("recording an ASGI client disconnect")

    def _sending(self, message):
        """Record what ``message`` says; True if it completes the response."""
        kind = message.get("type")
        if kind == "http.response.body" or kind == "http.response.zerocopysend":
            final = not message.get("more_body", False) and not self.trailers
        elif kind == "http.response.start":
            self._name()
            self.trailers = bool(message.get("trailers", False))
            self.status = status = message.get("status", 200)
            if self.measure is not None:
                self.measure.status = status
            span = self.span
            if span.is_recording() or status == 401 or status == 403:  # auth failures: sampled or not
                self.tracing.http.response(span, status, message.get("headers"), self.error, self.event_facts)
            return False
        elif kind == "http.response.trailers":
            final = not message.get("more_trailers", False)
        else:
            final = kind == "http.response.pathsend"
        if final:
            # Complete before the server is awaited: a disconnect the server reports
            # meanwhile, to another task of the application, is not the client leaving early.
            self.complete = True
        return final and self.status < 500

    def _name(self):
        if self.named:
            return
        self.named = True
        route_of = self.tracing.route
        if route_of is not None:
            route = route_of(self.scope, self.owner)
            if route:
                self.set_route(route)

    def failed(self, exc):
        """The application raised (or was cancelled): record an error, once."""
        try:
            self._name()
            if isinstance(exc, Exception) and not (self.disconnected and _is_disconnect(exc)):
                self.record_exception(exc)
        except Exception:
            internal_error("recording an ASGI exception")

    def close(self):
        """The application returned: name and end the span if the response did not, and
        leave the context and the scope as they were."""
        try:
            self.deactivate()
            self._name()
            self.scope.pop(SCOPE_KEY, None)  # no reference cycle left for the collector
        except Exception:
            internal_error("finishing an ASGI server span")
        self.end()

    def end(self):
        try:
            self.span.end()
            if self.measure is not None:
                self.measure.end(self.span)
        except Exception:
            internal_error("ending an ASGI server span")


class TracedApp:
    """An ASGI application (a framework's middleware stack) traced by ``tracing``."""

    __slots__ = ("app", "tracing", "owner")

    def __init__(self, app, tracing, owner=None):
        self.app = app
        self.tracing = tracing
        self.owner = owner

    def __call__(self, scope, receive, send):
        if self.tracing.wants(scope):
            return self.tracing.handle(self.app, scope, receive, send, self.owner)
        return self.app(scope, receive, send)

    def __getattr__(self, name):
        # Anything else a server or another middleware looks for is the application's.
        return getattr(self.app, name)


def _is_disconnect(exc):
    """The error a framework raises when the client is gone (an ``OSError`` from the
    server, Starlette's ``ClientDisconnect``): the disconnect itself, not a bug."""
    return isinstance(exc, OSError) or type(exc).__name__ == "ClientDisconnect"


def _call_arguments(args, kwargs):
    if len(args) >= 3:
        return args[0], args[1], args[2]
    if not args and not kwargs:
        return None, None, None
    values = list(args) + [kwargs.get(name) for name in ("scope", "receive", "send")[len(args):]]
    return values[0], values[1], values[2]


def _pick(headers, wanted):
    """The wanted request headers (lower-case byte names, as ASGI gives them) as
    ``{name: str}``; repeated ones joined with commas."""
    found = {}
    if not headers:
        return found
    for name, value in headers:
        if name in wanted:
            text = value.decode("latin-1")
            previous = found.get(name)
            found[name] = text if previous is None else previous + "," + text
    return found


def _wire_path(path):
    """ASGI paths are decoded UTF-8: give a non-ASCII one back percent-encoded."""
    from urllib.parse import quote

    return quote(path, safe="/:@!$&'()*+,;=-._~%")

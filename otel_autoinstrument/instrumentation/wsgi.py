"""SERVER spans for WSGI applications, shared by the Flask and Django instrumentors.

``WsgiTracing`` is a wrapt-style wrapper for a WSGI callable (``Flask.wsgi_app``,
``WSGIHandler.__call__``). Per request it:

* extracts the caller's context from the environ with the configured propagators and
  starts a SERVER span named ``{method}`` (renamed ``{method} {route}`` by the framework
  once the route is known, see ``WsgiRequest.set_route``), with the stable HTTP
  attributes read from the environ. Every environ value may be hostile (non-ASCII,
  bytes decoded as latin-1, lone surrogates): a value that cannot be understood gives
  fewer attributes, never a lost span;
* makes the span and the incoming baggage current while the application runs, so
  framework log records and child spans belong to the request;
* wraps ``start_response`` to record the status (ERROR for 5xx) and, when configured,
  response headers;
* hands the server the application's own response object, its ``close`` hooked on the
  instance, or where that is impossible a transparent proxy (``wsgi_body``): a streamed
  body is part of the request, so the span ends when the body ends, is closed, or is
  dropped unclosed, whichever comes first;
* when metrics are on, counts the request in ``http.server.active_requests`` and records
  ``http.server.request.duration`` when it ends, sampled or not (``ServerRequest``: the
  method, scheme, protocol version, route once the framework knows it, status and
  error type, never the path).

Per-request state lives in the environ (``ENVIRON_KEY``), where the frameworks' own
hooks find it. Excluded URLs and requests already traced by an outer layer get no
span and are served untouched.
"""

from functools import partial
from time import time_ns

from .. import semconv
from .._log import internal_error
from ..trace.context import _span, _suppressed, detach, reset_baggage, set_baggage
from ..trace.span import SpanKind, qualified_type
from . import wsgi_body
from . import WSGI_ENVIRON_KEY
from .http import HttpServer

__all__ = ["ENVIRON_KEY", "WsgiRequest", "WsgiTracing"]

ENVIRON_KEY = WSGI_ENVIRON_KEY

_SERVER = SpanKind.SERVER
_ASCII_DIGITS = frozenset("0123456789")
_AUTH_FAILURES = (401, 403)


class WsgiTracing:
    """The WSGI wrapper of one instrumentor: settings resolved once (``HttpServer``),
    caches shared by every request."""

    def __init__(self, instrumentor, excluded_variable=None, chunks=None, route_of=None):
        """``chunks(result, request)``: a framework's way to trace the chunks of a response
        object kept in place (see ``wsgi_body``), e.g. ``request.traced_next``.
        ``route_of(request)``: a framework's way to learn the route at ``start_response``,
        when nothing has named the span yet (None: no route, e.g. a 404)."""
        self.chunks = chunks
        self.route_of = route_of
        self.http = http = HttpServer(instrumentor, excluded_variable)
        self.tracer = http.tracer
        self.propagator = http.propagator
        self.excluded = http.excluded
        # Carrier fields as environ keys: a request without any of them skips extraction.
        self._carrier_keys = {field: "HTTP_" + field.upper().replace("-", "_")
                              for field in self.propagator.fields}
        self._carrier_key_list = tuple(self._carrier_keys.values())

    @property
    def enduser(self):
        return self.http.enduser

    @enduser.setter
    def enduser(self, getter):
        self.http.enduser = getter  # a framework's () -> this request's user id, when opted in

    # -- the wrapper ---------------------------------------------------------------

    def __call__(self, wrapped, instance, args, kwargs):
        request = None
        try:
            request = self._start(args, kwargs)
            if request is not None:
                if len(args) == 2 and not kwargs:  # how servers call an application
                    request._start_response = args[1]
                    args = (args[0], request.start_response)
                else:
                    args, kwargs = request.call_arguments(args, kwargs)
        except Exception:
            internal_error("starting a WSGI server span")
            if request is not None:
                request.deactivate()
                if request.measure is not None:
                    request.measure.cancel()  # served untraced: not counted either
                request = None
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            if request is not None:
                request.failed(exc)
            raise
        if request is None:
            return result
        return request.returned(result)

    def _start(self, args, kwargs):
        if len(args) >= 2:
            environ = args[0]
        elif "start_response" in kwargs:
            environ = args[0] if args else kwargs.get("environ")
        else:
            return None  # not called the WSGI way: leave it alone
        if environ is None or ENVIRON_KEY in environ or _suppressed.get():
            return None  # nothing to trace, or an outer WSGI layer traces this request
        if self.excluded is not None and self.excluded.matches(_full_url(environ)):
            return None
        method = environ.get("REQUEST_METHOD", "GET")
        parent = baggage = None
        for key in self._carrier_key_list:
            if key in environ:
                keys = self._carrier_keys
                carried = self.propagator.extract(lambda name: environ.get(keys.get(name) or _environ_key(name)))
                parent, baggage = carried.span_context, carried.baggage or None
                break
        span = self.tracer.start_span(self.http.span_name(method), _SERVER, None, None, None, parent)
        if span.end_ns is None:  # recording (a NonRecordingSpan's is 0): the attributes are worth it
            span.set_attributes(self._attributes(environ, method))
        request = WsgiRequest(self, span, method, baggage, environ)
        metrics = self.http.metrics
        if metrics is not None:
            request.measure = metrics.request(method, environ.get("wsgi.url_scheme", "http"),
                                              environ.get("SERVER_PROTOCOL"))
        # Last: nothing that could fail comes after the request is made current (a
        # failure before leaves the application's context and environ as they were).
        environ[ENVIRON_KEY] = request
        request._span_token = _span.set(span)  # the request's span current (attach(), inlined)
        if baggage:
            request._baggage_token = set_baggage(baggage)
        return request

    def _attributes(self, environ, method):
        query = environ.get("QUERY_STRING")
        if query and not query.isascii():
            query = _on_the_wire(query, _QUERY_SAFE)
        http = self.http
        return http.request_attributes(
            method, environ.get("wsgi.url_scheme", "http"), _path(environ), query,
            environ.get("HTTP_HOST"), environ.get("SERVER_NAME"), environ.get("SERVER_PORT"),
            environ.get("REMOTE_ADDR"), self.proxy_header(environ),
            environ.get("SERVER_PROTOCOL"), environ.get("HTTP_USER_AGENT"),
            (lambda: _request_headers(environ)) if http.request_headers.enabled else None)

    def proxy_header(self, environ):
        """The trusted proxies' forwarding header, when any proxy is trusted."""
        security = self.http.security
        return environ.get(_environ_key(security.proxy_header)) if security.proxy_count else None

    def span_name(self, method, route):
        return self.http.span_name(method, route)


class WsgiRequest:
    """One traced request: its span, the context tokens, and what was recorded."""

    __slots__ = ("tracing", "span", "method", "baggage", "environ", "route", "error", "watch", "measure",
                 "_start_response", "_span_token", "_baggage_token")

    def __init__(self, tracing, span, method, baggage, environ=None):
        self.tracing = tracing
        self.span = span
        self.method = method
        self.baggage = baggage
        self.environ = environ  # read only for a security event (event_facts)
        self.route = None
        self.error = None
        self.watch = None  # while the server holds the response (wsgi_body.Watch)
        self.measure = None  # the request's metrics (instrumentation.metrics.ServerRequest), when on
        self._start_response = None
        self._span_token = None
        self._baggage_token = None

    def deactivate(self):
        if self._baggage_token is not None:
            reset_baggage(self._baggage_token)
            self._baggage_token = None
        if self._span_token is not None:
            detach(self._span_token)
            self._span_token = None

    def call_arguments(self, args, kwargs):
        """The application's arguments with ``start_response`` replaced by ours."""
        if len(args) >= 2:
            self._start_response = args[1]
            return (args[0], self.start_response) + tuple(args[2:]), kwargs
        self._start_response = kwargs["start_response"]
        kwargs = dict(kwargs)
        kwargs["start_response"] = self.start_response
        return args, kwargs

    # -- called by the frameworks' hooks -------------------------------------------

    def set_route(self, route):
        self.route = route
        span = self.span
        if span.end_ns is None:
            span.name = self.tracing.span_name(self.method, route)  # update_name(), inlined
            span.set_attribute(semconv.HTTP_ROUTE, route)
        if self.measure is not None:
            self.measure.route = route

    def event_facts(self):
        """The request's attributes on a security log event (read only when one is sent)."""
        environ = self.environ or {}
        tracing = self.tracing
        return tracing.http.event_facts(self.method, _path(environ), self.route, environ.get("REMOTE_ADDR"),
                                        tracing.proxy_header(environ))

    def record_exception(self, exc):
        """An exception escaped the application (recorded once, however many layers see it)."""
        if self.error is exc:
            return
        self.error = exc
        if self.measure is not None:
            self.measure.error_type = qualified_type(exc)
        self.tracing.http.error(self.span, exc)

    def traced_next(self, next_function):
        """``next_function`` (a response object's own way to produce its next chunk) with
        the request current while it runs; its StopIteration ends the span."""
        return partial(self.next_chunk, next_function)

    def watched_next(self, next_function):
        """``next_function`` of a body whose chunks run no application code (a buffered
        response: bytes already in memory): no context switch per chunk, only its
        StopIteration ends the span."""
        return partial(self.plain_chunk, next_function)

    def traced_iterator(self, iterator):
        """``iterator`` whose chunks are produced with the request current; its end ends
        the span."""
        return wsgi_body.Chunks(iterator, self)

    # -- the WSGI protocol -----------------------------------------------------------

    def start_response(self, status, headers, *args, **kwargs):
        try:
            if self.route is None and self.tracing.route_of is not None:
                route = self.tracing.route_of(self)
                if route is not None:
                    self.set_route(route)
            span = self.span
            code = _status_codes.get(status) if type(status) is str else None
            if code is None:
                code = status_code(status)
            if code is not None:
                if self.measure is not None:
                    self.measure.status = code
                if span.end_ns is None or code in _AUTH_FAILURES:  # auth failures: sampled or not
                    self.tracing.http.response(span, code, headers, self.error, self.event_facts)
        except Exception:
            internal_error("recording a WSGI response status")
        return self._start_response(status, headers, *args, **kwargs)

    def failed(self, exc):
        """The application raised: record, end, leave the context as it was."""
        self.environ = None
        try:
            self.deactivate()
            self.record_exception(exc)
            self.span.end()
            if self.measure is not None:
                self.measure.end(self.span)
        except Exception:
            internal_error("ending a WSGI server span")

    def returned(self, result):
        """The application returned its iterable: the span ends with the body."""
        try:
            if self._baggage_token is not None:
                self.deactivate()
            else:  # deactivate(), inlined
                token, self._span_token = self._span_token, None
                detach(token)
            return wsgi_body.keep_body(result, self, self.tracing.chunks)
        except Exception:
            internal_error("keeping a WSGI response")
            self.end()
            return result

    def run(self, function, *args, **kwargs):
        """Call ``function`` with the request current again (the body's chunks and its
        close); an exception is recorded and passes through untouched."""
        span_token = _span.set(self.span)
        baggage_token = set_baggage(self.baggage) if self.baggage is not None else None
        try:
            return function(*args, **kwargs)
        except StopIteration:
            raise
        except BaseException as exc:
            self._body_error(exc)
            raise
        finally:
            if baggage_token is not None:
                reset_baggage(baggage_token)
            detach(span_token)

    def next_chunk(self, next_function):
        """``run(next_function)`` for one chunk of the body, inlined (it runs per chunk);
        the body's end (StopIteration) ends the span."""
        span_token = _span.set(self.span)
        baggage_token = set_baggage(self.baggage) if self.baggage is not None else None
        try:
            chunk = self.plain_chunk(next_function)
        finally:
            if baggage_token is not None:
                reset_baggage(baggage_token)
            try:
                _span.reset(span_token)  # detach(), inlined: this runs per chunk
            except ValueError:
                pass  # produced in another context: the span is not current there
        watch = self.watch
        if watch is not None:
            watch.last_ns = time_ns()
        return chunk

    def plain_chunk(self, next_function):
        """One chunk, with no context switch (alone: a body that runs no application
        code, see ``watched_next``); the body's end (StopIteration) ends the span."""
        try:
            return next_function()
        except StopIteration:
            self.end()
            raise
        except BaseException as exc:
            self._body_error(exc)
            raise

    def _body_error(self, exc):
        try:
            self.record_exception(exc)
        except Exception:
            internal_error("recording a WSGI body error")

    def end(self):
        """The body ended or was closed (idempotent)."""
        self.environ = None  # the environ holds this request: no cycle outlives the response
        try:
            watch = self.watch
            if watch is not None:
                self.watch = None  # a second end (the body's end, then its close) is cheap
                wsgi_body.forget(watch)
            span = self.span
            if span.end_ns is None:
                span.end()
            measure = self.measure
            if measure is not None:
                self.measure = None
                measure.end(span)
        except Exception:
            internal_error("ending a WSGI server span")


def status_code(status):
    """The code of a status line (``"404 Not Found"``), or None when it has none: only
    three ASCII digits count (``"\xb2\xb2\xb2"`` passes ``isdigit()``)."""
    if type(status) is str:
        code = _status_codes.get(status)
        if code is not None:
            return code
    elif isinstance(status, bytes):
        status = status.decode("latin-1")
    if not isinstance(status, str) or len(status) < 3 or not _ASCII_DIGITS.issuperset(status[:3]):
        return None
    if len(status) > 3 and status[3] != " ":
        return None
    code = int(status[:3])
    if len(_status_codes) < 256:  # applications use a handful of status lines
        _status_codes[status] = code
    return code


_status_codes = {}


def _environ_key(name):
    return "HTTP_" + name.upper().replace("-", "_")


def _request_headers(environ):
    headers = [(key[5:].replace("_", "-"), value) for key, value in environ.items()
               if key.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        value = environ.get(key)
        if value:
            headers.append((name, value))
    return headers


def _path(environ):
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return path if path.isascii() else _on_the_wire(path)


def _full_url(environ):
    """The request URL as the official agent matches excluded URLs against it."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or "%s:%s" % (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", ""))
    url = "%s://%s%s%s" % (scheme, host, environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""))
    query = environ.get("QUERY_STRING")
    return url + "?" + query if query else url


_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


def _on_the_wire(text, safe=_PATH_SAFE):
    """PEP 3333 paths and queries are bytes decoded as latin-1: give them back
    percent-encoded, as the client sent them. Text that is not latin-1 (a server that
    decoded UTF-8, lone surrogates) is percent-encoded from UTF-8; never raises."""
    from urllib.parse import quote

    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    return quote(raw, safe=safe)

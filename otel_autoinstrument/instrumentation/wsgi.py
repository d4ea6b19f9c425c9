"""SERVER spans for WSGI applications, shared by the Flask and Django instrumentors.

``WsgiTracing`` is a wrapt-style wrapper for a WSGI callable (``Flask.wsgi_app``,
``WSGIHandler.__call__``). Per request it:

* extracts the caller's context from the environ with the configured propagators and
  starts a SERVER span named ``{method}`` (renamed ``{method} {route}`` by the framework
  once the route is known, see ``WsgiRequest.set_route``), with the stable HTTP
  attributes read from the environ;
* makes the span and the incoming baggage current while the application runs, so
  framework log records and child spans belong to the request;
* wraps ``start_response`` to record the status (ERROR for 5xx) and, when configured,
  response headers;
* wraps the returned iterable so the span ends when the server CLOSES it: a streamed
  body is part of the request. The span is current again while each chunk is produced
  and while the iterable closes. A ``wsgi.file_wrapper`` is returned as is (servers
  recognise it by type and use sendfile); only its ``close`` is replaced. PEP 3333
  servers always call ``close()``; a caller that never does (werkzeug's test client
  until its response is closed) gets the span when it does.

Per-request state lives in the environ (``ENVIRON_KEY``), where the frameworks' own
hooks find it. Excluded URLs and requests already traced by an outer layer get no
span and are served untouched.
"""

from .. import semconv
from .._log import internal_error
from ..trace.context import attach, detach, is_suppressed, reset_baggage, set_baggage
from ..trace.span import SpanKind
from .http import HttpServer

__all__ = ["ENVIRON_KEY", "WsgiRequest", "WsgiTracing"]

ENVIRON_KEY = "otel_autoinstrument.request"

_SERVER = SpanKind.SERVER


class WsgiTracing:
    """The WSGI wrapper of one instrumentor: settings resolved once (``HttpServer``),
    caches shared by every request."""

    def __init__(self, instrumentor, excluded_variable=None):
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
                args, kwargs = request.call_arguments(args, kwargs)
        except Exception:
            internal_error("starting a WSGI server span")
            if request is not None:
                request.deactivate()
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
        if environ is None or ENVIRON_KEY in environ or is_suppressed():
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
        span = self.tracer.start_span(self.http.span_name(method), _SERVER, parent=parent)
        if span.is_recording():
            span.set_attributes(self._attributes(environ, method))
        request = WsgiRequest(self, span, method, baggage, environ.get("wsgi.file_wrapper"))
        environ[ENVIRON_KEY] = request
        request.activate()
        return request

    def _attributes(self, environ, method):
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if not path.isascii():
            path = _wire_path(path)
        http = self.http
        return http.request_attributes(
            method, environ.get("wsgi.url_scheme", "http"), path, environ.get("QUERY_STRING"),
            environ.get("HTTP_HOST"), environ.get("SERVER_NAME"), environ.get("SERVER_PORT"),
            environ.get("REMOTE_ADDR"),
            environ.get(_environ_key(http.security.proxy_header)) if http.security.proxy_count else None,
            environ.get("SERVER_PROTOCOL"), environ.get("HTTP_USER_AGENT"),
            (lambda: _request_headers(environ)) if http.request_headers.enabled else None)

    def span_name(self, method, route):
        return self.http.span_name(method, route)


class WsgiRequest:
    """One traced request: its span, the context tokens, and what was recorded."""

    __slots__ = ("tracing", "span", "method", "baggage", "file_wrapper", "error", "_start_response",
                 "_span_token", "_baggage_token")

    def __init__(self, tracing, span, method, baggage, file_wrapper):
        self.tracing = tracing
        self.span = span
        self.method = method
        self.baggage = baggage
        self.file_wrapper = file_wrapper
        self.error = None
        self._start_response = None
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
        span = self.span
        span.update_name(self.tracing.span_name(self.method, route))
        span.set_attribute(semconv.HTTP_ROUTE, route)

    def record_exception(self, exc):
        """An exception escaped the application (recorded once, however many layers see it)."""
        if self.error is exc:
            return
        self.error = exc
        self.tracing.http.error(self.span, exc)

    # -- the WSGI protocol -----------------------------------------------------------

    def start_response(self, status, headers, *args, **kwargs):
        try:
            self._record_status(status, headers)
        except Exception:
            internal_error("recording a WSGI response status")
        return self._start_response(status, headers, *args, **kwargs)

    def _record_status(self, status, headers):
        span = self.span
        if not span.is_recording():
            return
        self.tracing.http.response(span, int(status[:3]), headers, self.error)

    def failed(self, exc):
        """The application raised: record, end, leave the context as it was."""
        try:
            self.deactivate()
            self.record_exception(exc)
            self.span.end()
        except Exception:
            internal_error("ending a WSGI server span")

    def returned(self, result):
        """The application returned its iterable: the span ends when it is closed."""
        try:
            self.deactivate()
            return _wrap_body(result, self)
        except Exception:
            internal_error("wrapping a WSGI response")
            self.span.end()
            return result

    def run(self, function):
        """Call ``function()`` with the request current again (the body's chunks and its
        close); an exception is recorded and passes through untouched."""
        span_token = attach(self.span)
        baggage_token = set_baggage(self.baggage) if self.baggage is not None else None
        try:
            return function()
        except StopIteration:
            raise
        except BaseException as exc:
            try:
                self.record_exception(exc)
            except Exception:
                internal_error("recording a WSGI body error")
            raise
        finally:
            if baggage_token is not None:
                reset_baggage(baggage_token)
            detach(span_token)

    def end(self):
        try:
            self.span.end()
        except Exception:
            internal_error("ending a WSGI server span")


def _wrap_body(result, request):
    file_wrapper = request.file_wrapper
    if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
        # Servers recognise a wsgi.file_wrapper by its type to use sendfile: keep it.
        if _end_on_close(result, request):
            return result
    if hasattr(type(result), "__len__"):
        return SizedBody(result, request)
    return Body(result, request)


def _end_on_close(file_wrapper, request):
    original = getattr(file_wrapper, "close", None)

    def close():
        try:
            if original is not None:
                request.run(original)
        finally:
            request.end()

    try:
        file_wrapper.close = close
    except (AttributeError, TypeError):
        return False  # a file wrapper with slots: the generic body wrapper will do
    return True


class Body:
    """The application's response iterable, unchanged for the server, except that the
    request's span is current while it produces chunks and ends when it is closed."""

    __slots__ = ("_iterable", "_iterator", "_request")

    def __init__(self, iterable, request):
        self._iterable = iterable
        self._iterator = None
        self._request = request

    def __iter__(self):
        return self

    def __next__(self):
        # WsgiRequest.run, inlined: this runs once per chunk.
        request = self._request
        span_token = attach(request.span)
        baggage_token = set_baggage(request.baggage) if request.baggage is not None else None
        try:
            iterator = self._iterator
            if iterator is None:
                iterator = self._iterator = iter(self._iterable)
            return next(iterator)
        except StopIteration:
            raise
        except BaseException as exc:
            try:
                request.record_exception(exc)
            except Exception:
                internal_error("recording a WSGI body error")
            raise
        finally:
            if baggage_token is not None:
                reset_baggage(baggage_token)
            detach(span_token)

    def close(self):
        request = self._request
        try:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                request.run(close)
        finally:
            request.end()

    def __getattr__(self, name):
        # Anything else a server or middleware looks for is the application's.
        return getattr(self._iterable, name)


class SizedBody(Body):
    """For iterables with a length (wsgiref sets Content-Length from ``len()``)."""

    __slots__ = ()

    def __len__(self):
        return len(self._iterable)


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


def _full_url(environ):
    """The request URL as the official agent matches excluded URLs against it."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or "%s:%s" % (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", ""))
    url = "%s://%s%s%s" % (scheme, host, environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""))
    query = environ.get("QUERY_STRING")
    return url + "?" + query if query else url


def _wire_path(path):
    """PEP 3333 paths are bytes decoded as latin-1: give them back percent-encoded."""
    from urllib.parse import quote

    try:
        return quote(path.encode("latin-1"), safe="/:@!$&'()*+,;=-._~%")
    except UnicodeEncodeError:
        return path


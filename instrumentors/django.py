"""Django: a SERVER span per request, named after the resolved route, and ORM spans.

The span lives in the WSGI layer (``WSGIHandler.__call__``, shared
``instrumentation.wsgi`` tracing), so it covers the whole handling: every middleware,
the view, the exception handling and its ``django.request`` log records, and a
streamed body until it ends or the server closes it. The ``HttpResponse`` is handed to
the server as it is (its ``close`` hooked on the instance); a ``StreamingHttpResponse``
produces its chunks from its ``_iterator`` attribute (Django 4.2+), which is traced so
the span is current while they are produced and ends with the last one.

The route is learnt by the agent's middleware (``RouteMiddleware.process_view``, which
Django calls right after URL resolution, with ``request.resolver_match`` set). It is
added where Django builds the middleware chain, ``BaseHandler.load_middleware``: that
runs in every process that serves (runserver's autoreloaded child, each gunicorn
worker or the preloading master, any WSGI server), after settings are loaded however
they were found, and never in management commands that do not serve. The path is put
at the top of ``settings.MIDDLEWARE`` only while that method runs, so the project's
settings, and what application code reads from them, stay as written. ASGI handlers
(``is_async=True``) get no middleware: ``django_asgi`` traces them.

Exceptions that escape a view are turned into a 500 by Django before they reach the
WSGI layer; the ``got_request_exception`` signal, sent for exactly those, records them.
"""

import sys

from otel_autoinstrument.instrumentation import WSGI_ENVIRON_KEY as ENVIRON_KEY
from otel_autoinstrument.instrumentation import Instrumentor, get_current_span, internal_error

MIDDLEWARE_PATH = "otel_autoinstrument.instrumentors.django.RouteMiddleware"
_SIGNAL_UID = "otel_autoinstrument.django.exception"
_LOGIN_SIGNAL_UID = "otel_autoinstrument.django.login_failed"


class DjangoInstrumentor(Instrumentor):
    name = "django"
    requires = ("django >= 4.2",)
    modules = ("django",)

    def patches(self):
        from otel_autoinstrument.instrumentation.wsgi import WsgiTracing  # loaded with Django, not at start-up

        self._tracing = WsgiTracing(self, "OTEL_PYTHON_DJANGO_EXCLUDED_URLS", chunks=_streaming_chunks())
        patches = [
            ("django.core.handlers.wsgi", "WSGIHandler.__call__", self._tracing),
            ("django.core.handlers.base", "BaseHandler.load_middleware", self._load_middleware),
        ]
        try:
            from . import django_db
        except ImportError:
            django_db = None
        if django_db is not None:
            patches += django_db.patches(self)
        from . import django_asgi  # loaded with Django, not at start-up

        return patches + django_asgi.patches(self)

    def _instrument(self):
        from django.core.signals import got_request_exception

        got_request_exception.connect(_on_request_exception, weak=False, dispatch_uid=_SIGNAL_UID)
        from . import django_asgi

        django_asgi.connect()

    def _uninstrument(self):
        try:
            from django.core.signals import got_request_exception
        except ImportError:
            return
        got_request_exception.disconnect(dispatch_uid=_SIGNAL_UID)
        disconnect_django_login_failed()
        from . import django_asgi

        django_asgi.disconnect()

    def _load_middleware(self, wrapped, instance, args, kwargs):
        return _load_middleware(wrapped, args, kwargs, self._tracing.http.security)


def _streaming_chunks():
    """Trace the chunks of a synchronous ``StreamingHttpResponse``."""
    from django.http import StreamingHttpResponse

    def chunks(result, request):
        if isinstance(result, StreamingHttpResponse) and not getattr(result, "is_async", False):
            attributes = result.__dict__
            iterator = attributes.get("_iterator")
            if iterator is not None:
                attributes["_iterator"] = request.traced_iterator(iterator)

    return chunks


def _load_middleware(wrapped, args, kwargs, security):
    restore = None
    try:
        is_async = args[0] if args else kwargs.get("is_async", False)
        if not is_async:
            connect_django_login_failed(security)  # the auth.failure signal
            from django.conf import settings

            current = settings.MIDDLEWARE
            if MIDDLEWARE_PATH not in current:
                settings.MIDDLEWARE = [MIDDLEWARE_PATH] + list(current)
                restore = (settings, current)
    except Exception:
        internal_error("adding the Django route middleware")
    try:
        return wrapped(*args, **kwargs)
    finally:
        if restore is not None:
            try:
                restore[0].MIDDLEWARE = restore[1]
            except Exception:
                internal_error("restoring settings.MIDDLEWARE")


class RouteMiddleware:
    """Names the request span after ``request.resolver_match.route``; otherwise a no-op."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        record_django_enduser(request)  # when opted in
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        try:
            traced = request.META.get(ENVIRON_KEY)
            if traced is not None:
                route = getattr(request.resolver_match, "route", None)
                if route is not None:
                    # The empty route is the site root: "GET /" says so, where a bare
                    # "GET" would read like an unmatched request.
                    traced.set_route(route or "/")
        except Exception:
            internal_error("naming a Django request span")
        return None


def _on_request_exception(sender, request=None, **kwargs):
    try:
        traced = request.META.get(ENVIRON_KEY) if request is not None else None
        if traced is not None:
            exc = sys.exc_info()[1]
            if exc is not None:
                traced.record_exception(exc)
    except Exception:
        internal_error("recording a Django request exception")


# --- security signals (see otel_autoinstrument.instrumentation.http) -----------------------

def record_django_enduser(request):
    """After Django's middleware chain answered: ``enduser.id`` if opted in."""
    try:
        traced = request.META.get(ENVIRON_KEY)
        if traced is not None and traced.tracing.http.security.capture_enduser:
            from otel_autoinstrument.instrumentation.http import set_enduser  # loaded with the WSGI layer

            set_enduser(traced.span, django_enduser(request))
    except Exception:
        internal_error("recording a Django enduser.id")


def django_enduser(request):
    """Django's ``request.user``, if something already evaluated it (never queries)."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)  # SimpleLazyObject until evaluated
    from django.utils.functional import empty

    if wrapped is empty or wrapped is None or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped.get_username()


def connect_django_login_failed(security):
    """Listen to ``user_login_failed`` if django.contrib.auth is loaded (importing it here
    would load hundreds of modules into every process). Idempotent."""
    signals = sys.modules.get("django.contrib.auth.signals")
    if signals is None:
        return
    user_login_failed = signals.user_login_failed

    def on_login_failed(sender, credentials=None, request=None, **kwargs):
        try:
            # Any object may come as ``request``: an HttpRequest, a REST framework Request
            # (which lends its HttpRequest's META), None, or something without META.
            meta = getattr(request, "META", None) if request is not None else None
            traced = meta.get(ENVIRON_KEY) if isinstance(meta, dict) else None
            if traced is not None:
                security.auth_failure(traced.span, reason="login_failed", facts=traced.event_facts)
            else:
                security.auth_failure(get_current_span(), reason="login_failed")
        except Exception:
            internal_error("recording a Django login failure")

    user_login_failed.connect(on_login_failed, weak=False, dispatch_uid=_LOGIN_SIGNAL_UID)


def disconnect_django_login_failed():
    signals = sys.modules.get("django.contrib.auth.signals")
    if signals is not None:
        signals.user_login_failed.disconnect(dispatch_uid=_LOGIN_SIGNAL_UID)

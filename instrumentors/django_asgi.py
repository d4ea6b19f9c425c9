"""Django served by an ASGI server (uvicorn, hypercorn, daphne): a SERVER span per
request, named after the resolved route; part of the ``django`` instrumentor.

* ``ASGIHandler.__call__`` runs the shared ASGI tracing
  (``otel_autoinstrument.instrumentation.asgi``): span, context, status, streamed
  bodies, client disconnects. Django serves only ``http`` scopes; others (lifespan)
  pass through untouched and Django answers them as it always does.
* ``BaseHandler._get_response_async`` names the span: Django resolves the URL inside
  it (``request.resolver_match``) and it returns before the response is sent. The
  WSGI path never calls it, so WSGI requests pay nothing here.
* ``got_request_exception``, sent for exactly the exceptions Django turns into a 500,
  records them on the request's span (its own receiver, next to the WSGI one).

Sync views and sync middleware run in asgiref's thread (``sync_to_async``) with a copy
of the request's context, so the ORM's spans made there are children of the request span.
"""

import sys

from otel_autoinstrument.instrumentation import internal_error
from otel_autoinstrument.instrumentation.asgi import SCOPE_KEY, AsgiTracing

_SIGNAL_UID = "otel_autoinstrument.django_asgi.exception"


def patches(instrumentor):
    """The patches of the Django instrumentor for ASGI (see its ``patches()``)."""
    tracing = AsgiTracing(instrumentor, "OTEL_PYTHON_DJANGO_EXCLUDED_URLS")
    return [
        ("django.core.handlers.asgi", "ASGIHandler.__call__", tracing),
        ("django.core.handlers.base", "BaseHandler._get_response_async", _get_response_async),
    ]


def connect():
    from django.core.signals import got_request_exception

    got_request_exception.connect(_on_request_exception, weak=False, dispatch_uid=_SIGNAL_UID)


def disconnect():
    signals = sys.modules.get("django.core.signals")
    if signals is not None:
        signals.got_request_exception.disconnect(dispatch_uid=_SIGNAL_UID)


def _traced(request):
    scope = getattr(request, "scope", None)
    return scope.get(SCOPE_KEY) if isinstance(scope, dict) else None


def _get_response_async(wrapped, instance, args, kwargs):
    traced = None
    try:
        request = args[0] if args else kwargs.get("request")
        traced = _traced(request)
    except Exception:
        internal_error("finding a Django ASGI request span")
    if traced is None:
        return wrapped(*args, **kwargs)
    return _named(wrapped(*args, **kwargs), request, traced)


async def _named(response, request, traced):
    try:
        return await response
    finally:
        try:
            route = getattr(request.resolver_match, "route", None)
            if route is not None:
                # The empty route is the site root, as on the WSGI side.
                traced.set_route(route or "/")
        except Exception:
            internal_error("naming a Django ASGI request span")


def _on_request_exception(sender, request=None, **kwargs):
    try:
        traced = _traced(request) if request is not None else None
        if traced is not None:
            exc = sys.exc_info()[1]
            if exc is not None:
                traced.record_exception(exc)
    except Exception:
        internal_error("recording a Django ASGI request exception")

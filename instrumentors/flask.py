"""Flask: a SERVER span per request, named after the matched URL rule.

Patched where the methods are defined, on ``flask.app.Flask`` itself, so apps created
before or after the agent started and subclasses of ``Flask`` are all covered, and the
``Flask`` class is never swapped:

* ``Flask.wsgi_app`` runs the shared WSGI tracing (``instrumentation.wsgi``): span,
  context, status, streamed bodies. It returns werkzeug's ``ClosingIterator``, kept
  as it is: its ``close`` is hooked on the instance, and the function it produces each
  chunk with (its ``_next`` attribute, since werkzeug 0.x) is traced so the span is
  current while a streamed body runs and ends when the body does. A buffered body
  (the usual response: its bytes in a list) runs no application code while it is
  iterated, so there only its end is watched, with no context switch per chunk.
* ``Flask.full_dispatch_request`` names the span. It is the cheapest correct point:
  Flask matches the URL when it pushes the request context, just before it calls
  ``full_dispatch_request``, so ``request.url_rule`` is known there (None for 404 and
  405, which keep the name ``{method}``), once per request and before the view runs;
  it is also where an exception escaping the view (or a before/after-request hook) is
  first seen, before ``handle_exception`` turns it into a 500 and logs it.
"""

from otel_autoinstrument.instrumentation import Instrumentor, internal_error
from otel_autoinstrument.instrumentation.wsgi import ENVIRON_KEY, WsgiTracing


class FlaskInstrumentor(Instrumentor):
    name = "flask"
    requires = ("flask >= 2.2",)
    modules = ("flask",)

    def patches(self):
        self._tracing = WsgiTracing(self, "OTEL_PYTHON_FLASK_EXCLUDED_URLS", chunks=_closing_iterator_chunks())
        if self.settings.python_capture_enduser_id:
            self._tracing.enduser = flask_enduser  # Flask-Login's user, read at start_response
        self._request_context = _request_context_getter()
        return [
            ("flask.app", "Flask.wsgi_app", self._tracing),
            ("flask.app", "Flask.full_dispatch_request", self._full_dispatch_request),
        ]

    def _full_dispatch_request(self, wrapped, instance, args, kwargs):
        request = None
        try:
            context = self._request_context()
            if context is not None:
                flask_request = context.request
                request = flask_request.environ.get(ENVIRON_KEY)
                rule = flask_request.url_rule
                if request is not None and rule is not None:
                    request.set_route(rule.rule)
        except Exception:
            internal_error("naming a Flask request span")
        try:
            return wrapped(*args, **kwargs)
        except BaseException as exc:
            if request is not None:
                try:
                    request.record_exception(exc)
                except Exception:
                    internal_error("recording a Flask exception")
            raise


def _closing_iterator_chunks():
    """Trace the chunks of the ``ClosingIterator`` that ``Response.__call__`` returns."""
    from werkzeug.wrappers import Response
    from werkzeug.wsgi import ClosingIterator

    def chunks(result, request):
        if isinstance(result, ClosingIterator):
            attributes = result.__dict__
            next_chunk = attributes.get("_next")
            if next_chunk is not None:
                # A buffered werkzeug Response (its data a list or tuple: ``is_sequence``)
                # produces its chunks with no application code the span would have to
                # be current for. ``Response.close`` is the last callback ``get_app_iter``
                # gives the ClosingIterator.
                callbacks = attributes.get("_callbacks")
                response = getattr(callbacks[-1], "__self__", None) if callbacks else None
                if isinstance(response, Response) and type(response.response) in (list, tuple):
                    attributes["_next"] = request.watched_next(next_chunk)
                else:
                    attributes["_next"] = request.traced_next(next_chunk)

    return chunks


def _request_context_getter():
    """The current RequestContext, or None: read from Flask's context variable (2.2+)
    rather than through the ``request`` proxy, which costs a few lookups more."""
    import functools

    from flask import globals as flask_globals

    variable = getattr(flask_globals, "_cv_request", None)
    if variable is not None:
        return functools.partial(variable.get, None)
    proxy = flask_globals.request_ctx

    def through_proxy():
        try:
            return proxy._get_current_object()
        except RuntimeError:
            return None

    return through_proxy


def flask_enduser():
    """Flask-Login's user of this request, if the application loaded one (never loads it)."""
    from flask import g

    try:
        user = g.get("_login_user")
    except RuntimeError:  # outside an application context
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.get_id()

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
* The span is named at ``start_response``, which Flask calls from ``Response.__call__``
  inside ``wsgi_app`` while the request context is still pushed: ``request.url_rule``
  is known there (None for 404 and 405, which keep the name ``{method}``). No second
  patch runs per request for it.
* ``got_request_exception`` (sent by ``handle_exception`` only for an exception that
  escaped the view or a before/after-request hook, before it becomes a 500 and is
  logged) records the exception, and names the span: in testing mode the exception
  then propagates out of ``wsgi_app`` and no ``start_response`` follows. Flask 2.2
  without blinker has no signals: there ``Flask.full_dispatch_request`` is patched to
  do both, as before.
"""

from otel_autoinstrument.instrumentation import WSGI_ENVIRON_KEY as ENVIRON_KEY
from otel_autoinstrument.instrumentation import Instrumentor, internal_error


class FlaskInstrumentor(Instrumentor):
    name = "flask"
    requires = ("flask >= 2.2",)
    modules = ("flask",)

    def patches(self):
        from otel_autoinstrument.instrumentation.wsgi import WsgiTracing  # loaded with Flask, not at start-up

        self._request_context = _request_context_getter()
        self._signal = _exception_signal()
        self._tracing = WsgiTracing(self, "OTEL_PYTHON_FLASK_EXCLUDED_URLS", chunks=_closing_iterator_chunks(),
                                    route_of=self._route_of if self._signal is not None else None)
        if self.settings.python_capture_enduser_id:
            self._tracing.enduser = flask_enduser  # Flask-Login's user, read at start_response
        patches = [("flask.app", "Flask.wsgi_app", self._tracing)]
        if self._signal is None:  # Flask 2.2 without blinker: name and record in the dispatch
            patches.append(("flask.app", "Flask.full_dispatch_request", self._full_dispatch_request))
        return patches

    def _instrument(self):
        if self._signal is not None:
            self._on_exception = self.hook(self._exception)
            self._signal.connect(self._on_exception, weak=False)

    def _uninstrument(self):
        signal = getattr(self, "_signal", None)
        if signal is not None and getattr(self, "_on_exception", None) is not None:
            signal.disconnect(self._on_exception)
            self._on_exception = None

    def _this_request(self):
        """(Flask's request in the current context, its traced request or None)."""
        context = self._request_context()
        if context is None:
            return None, None
        flask_request = context.request
        return flask_request, flask_request.environ.get(ENVIRON_KEY)

    def _route_of(self, request):
        """The matched URL rule, at ``start_response`` (Flask's request context is still
        pushed: ``Response.__call__`` runs inside ``wsgi_app``); None for 404 and 405."""
        flask_request, traced = self._this_request()
        if traced is not request:
            return None  # another application's request (a dispatcher in front of this one)
        rule = flask_request.url_rule
        return rule.rule if rule is not None else None

    def _exception(self, sender, exception=None, **kwargs):
        """``got_request_exception``: an exception escaped the view or a request hook, about
        to become a 500 (or, in testing mode, to propagate out of ``wsgi_app``, when no
        ``start_response`` will name the span)."""
        try:
            flask_request, request = self._this_request()
            if request is not None and exception is not None:
                rule = flask_request.url_rule
                if request.route is None and rule is not None:
                    request.set_route(rule.rule)
                request.record_exception(exception)
        except Exception:
            internal_error("recording a Flask exception")

    def _full_dispatch_request(self, wrapped, instance, args, kwargs):
        request = None
        try:
            flask_request, request = self._this_request()
            if request is not None and flask_request.url_rule is not None:
                request.set_route(flask_request.url_rule.rule)
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


def _exception_signal():
    """Flask's ``got_request_exception`` signal, or None where signals need blinker and it
    is not installed (Flask 2.2)."""
    from flask import signals

    if not getattr(signals, "signals_available", True):
        return None
    return signals.got_request_exception


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

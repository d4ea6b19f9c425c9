"""Security signals on server spans, shared by the WSGI frameworks.

* ``client.address``: the socket's peer, or, when OTEL_PYTHON_TRUSTED_PROXY_COUNT says
  that N reverse proxies stand in front of the service, the address the outermost of
  them saw: the N-th entry from the right of the header they append to
  (OTEL_PYTHON_TRUSTED_PROXY_HEADER: ``X-Forwarded-For``, or ``Forwarded``'s ``for=``).
  Entries further left were written by the client and are never believed. With fewer
  than N entries the socket's peer is kept. The peer is then ``network.peer.address``.
* ``enduser.id`` (opt-in, OTEL_PYTHON_CAPTURE_ENDUSER_ID, personal data): the user the
  framework already authenticated for this request: Django's ``request.user``
  (``get_username()``), Flask-Login's ``current_user`` (``get_id()``). Only a user the
  application itself loaded is read: the agent never causes a session or database
  lookup.
* Authentication failures: a span event ``auth.failure`` on the server span, with
  ``auth.failure.reason`` = ``unauthorized`` (a 401 answer), ``forbidden`` (403) or
  ``login_failed`` (Django's ``user_login_failed`` signal), plus
  ``http.response.status_code`` for the first two. The submitted credentials (user
  name included) are never recorded.
"""

from otel_autoinstrument import semconv
from otel_autoinstrument.instrumentation import get_current_span, internal_error

AUTH_FAILURE_EVENT = "auth.failure"
AUTH_FAILURE_REASON = "auth.failure.reason"
_STATUS_REASONS = {401: "unauthorized", 403: "forbidden"}
_PROXY_HEADER_KEYS = {"x-forwarded-for": "HTTP_X_FORWARDED_FOR", "forwarded": "HTTP_FORWARDED"}
_LOGIN_SIGNAL_UID = "otel_autoinstrument.django.login_failed"


class ServerSecurity:
    """The settings of one WSGI instrumentation, resolved once."""

    __slots__ = ("proxy_count", "proxy_key", "forwarded", "capture_enduser")

    def __init__(self, settings):
        self.proxy_count = settings.python_trusted_proxy_count
        header = settings.python_trusted_proxy_header
        self.proxy_key = _PROXY_HEADER_KEYS.get(header, "HTTP_X_FORWARDED_FOR")
        self.forwarded = header == "forwarded"
        self.capture_enduser = settings.python_capture_enduser_id

    def client_attributes(self, environ, attributes):
        """Add ``client.address`` (and ``network.peer.address`` behind proxies)."""
        peer = environ.get("REMOTE_ADDR")
        if self.proxy_count:
            client = forwarded_client(environ.get(self.proxy_key), self.proxy_count, self.forwarded)
            if client:
                attributes[semconv.CLIENT_ADDRESS] = client
                if peer:
                    attributes[semconv.NETWORK_PEER_ADDRESS] = peer
                return
        if peer:
            attributes[semconv.CLIENT_ADDRESS] = peer


def forwarded_client(value, count, rfc7239=False):
    """The N-th address from the right of a forwarding header, or None."""
    if not value:
        return None
    entries = [e for e in value.split(",") if e.strip()]
    if len(entries) < count:
        return None
    entry = entries[-count].strip()
    if rfc7239:
        entry = _forwarded_for(entry)
        if entry is None:
            return None
    return _address(entry)


def _forwarded_for(element):
    """``for=`` of one RFC 7239 element: ``for=192.0.2.60;proto=http``."""
    for pair in element.split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name.strip().lower() == "for":
            return value.strip().strip('"')
    return None


def _address(text):
    """The address alone: no brackets, no port; None for ``unknown`` and ``_obfuscated``."""
    text = text.strip().strip('"')
    if text.startswith("["):  # [2001:db8::17]:4711
        end = text.find("]")
        return text[1:end] if end > 1 else None
    if text.count(":") == 1:  # 192.0.2.60:4711 (several colons: a bare IPv6 address)
        text = text.partition(":")[0]
    if not text or text.lower() == "unknown" or text.startswith("_"):
        return None
    return text


# --- authentication --------------------------------------------------------------------------

def status_recorded(span, code):
    """After the response status is known: 401 and 403 are authentication failures."""
    reason = _STATUS_REASONS.get(code)
    if reason is not None:
        span.add_event(AUTH_FAILURE_EVENT, {AUTH_FAILURE_REASON: reason, semconv.HTTP_RESPONSE_STATUS_CODE: code})


def set_enduser(span, user_id):
    if user_id is not None and user_id != "":
        span.set_attribute(semconv.ENDUSER_ID, str(user_id))


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


def record_django_enduser(request, environ_key):
    """After Django's middleware chain answered: ``enduser.id`` if opted in."""
    try:
        traced = request.META.get(environ_key)
        if traced is not None and traced.tracing.security.capture_enduser:
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


def connect_django_login_failed(environ_key):
    """Listen to ``user_login_failed`` if django.contrib.auth is loaded (importing it here
    would cost the process ~100 ms and hundreds of modules). Idempotent."""
    import sys

    signals = sys.modules.get("django.contrib.auth.signals")
    if signals is None:
        return
    user_login_failed = signals.user_login_failed

    def on_login_failed(sender, credentials=None, request=None, **kwargs):
        try:
            traced = request.META.get(environ_key) if request is not None else None
            span = traced.span if traced is not None else get_current_span()
            if span is not None and span.is_recording():
                span.add_event(AUTH_FAILURE_EVENT, {AUTH_FAILURE_REASON: "login_failed"})
        except Exception:
            internal_error("recording a Django login failure")

    user_login_failed.connect(on_login_failed, weak=False, dispatch_uid=_LOGIN_SIGNAL_UID)


def disconnect_django_login_failed():
    import sys

    signals = sys.modules.get("django.contrib.auth.signals")
    if signals is not None:
        signals.user_login_failed.disconnect(dispatch_uid=_LOGIN_SIGNAL_UID)

"""What the server gets back from a traced WSGI application: the application's own
response object whenever it can carry the end of the span, else a transparent proxy.

* In place (``keep_in_place``): an object with an instance ``__dict__``, a ``close``
  that is not a data descriptor, and weak references (Django's ``HttpResponse``,
  werkzeug's ``ClosingIterator`` that Flask returns, a ``wsgi.file_wrapper``). Its
  ``close`` is shadowed on the instance by ``CloseHook``, which puts the original back,
  runs it with the request current and ends the span. Nothing else about the object
  changes: its type, identity, ``bytes()``, items and attributes are the application's.
  Chunks are produced by the object's own type, so the span is current while they are
  produced, and the end of the body is seen, only where the framework instrumentor
  knows where the chunks come from (``WsgiTracing(..., chunks=...)``: werkzeug's
  ``_next``, Django's streaming ``_iterator``); elsewhere the span ends on close.
* Otherwise (lists, tuples, generators, objects with ``__slots__``): ``Body``, a proxy
  that is the wrapped object to every check a server or middleware makes
  (``isinstance``, attributes, items, ``in``, ``bytes()``, ``len()`` only when the
  wrapped object has a length, ``close`` only when it has one, iteration) and that makes
  the span current while each chunk is produced.

Either way the span ends at the first of: the body's end seen (StopIteration), its
``close()``, the object dropped unclosed (a weak reference noticed it; the span is
marked ``otel_autoinstrument.response.unclosed`` and ends at the request's last
activity, not when the garbage collector ran), or the process exiting. The response of
a request that is not sampled is watched only when metrics are on: its duration and the
active-requests count need that end.
"""

import os
import weakref
from time import time_ns

from .. import semconv
from .._log import internal_error

__all__ = ["Body", "Chunks", "CloseHook", "UNCLOSED_ATTRIBUTE", "keep_body", "pending_count"]

UNCLOSED_ATTRIBUTE = semconv.RESPONSE_UNCLOSED


def keep_body(result, request, chunks=None):
    """``result`` itself with its close hooked, or a ``Body`` proxy of it; the span's end
    is watched either way. ``chunks(result, request)`` may trace the chunks of an object
    kept in place."""
    if keep_in_place(result, request):
        if chunks is not None:
            chunks(result, request)
        kept = result
    else:
        kept = _proxy_type(type(result), hasattr(result, "close"))(result, request)
    measure = request.measure
    if request.span.end_ns is None or measure is not None:  # recording, or metrics on: the end is watched
        if not _exit_registered:
            _register_exit()
        watch = request.watch = Watch(request.span, measure)
        _pending[watch] = weakref.ref(kept, watch.dropped)
    return kept


def keep_in_place(result, request):
    """Shadow ``result.close`` on the instance; False when the object does not allow it."""
    attributes = getattr(result, "__dict__", None)
    if type(attributes) is not dict or not hasattr(type(result), "__weakref__"):
        return False
    own = "close" in attributes
    original = attributes.get("close") if own else getattr(type(result), "close", None)
    if original is None or isinstance(original, CloseHook):
        return False  # no close to hook, or a response object served twice at once
    if not own and hasattr(type(original), "__set__"):
        return False  # a property or slot: the instance dictionary would be bypassed
    attributes["close"] = CloseHook(result, own, request)
    return True


class CloseHook:
    """The response's ``close``, set on the instance: puts the original back, runs it
    with the request current, then ends the span. Holding the object (as the bound
    ``close`` a caller may keep would) keeps its close working until it is called."""

    __slots__ = ("_target", "_own", "_previous", "_request")

    def __init__(self, target, own, request):
        self._target = target
        self._own = own
        self._previous = target.__dict__["close"] if own else None
        self._request = request

    def __call__(self, *args, **kwargs):
        request = self._request
        try:
            # The object as it was, and its original close (inlined: once per request).
            target = self._target
            attributes = target.__dict__
            if self._own:
                close = self._previous
                if attributes.get("close") is self:
                    attributes["close"] = close
            else:
                if attributes.get("close") is self:
                    del attributes["close"]
                close = getattr(type(target), "close")
                bind = getattr(type(close), "__get__", None)
                if bind is not None:
                    close = bind(close, target, type(target))
            return request.run(close, *args, **kwargs)
        finally:
            request.end()


class Chunks:
    """An iterator of chunks produced with the request current; its end ends the span."""

    __slots__ = ("_next", "_request")

    def __init__(self, iterator, request):
        self._next = iterator.__next__
        self._request = request

    def __iter__(self):
        return self

    def __next__(self):
        return self._request.next_chunk(self._next)


# --- the proxy ----------------------------------------------------------------------------

class Body:
    """A stand-in for a response iterable that cannot be kept in place. Subclasses made
    by ``_proxy_type`` add ``__len__``, ``__next__``, ``close``, ``__enter__`` /
    ``__exit__`` and ``__length_hint__`` only when the wrapped type has them, so
    ``hasattr`` and the ``collections.abc`` checks answer as for the wrapped object."""

    __slots__ = ("__wrapped__", "_request", "_next", "__weakref__")

    def __init__(self, wrapped, request):
        set_slot = object.__setattr__
        set_slot(self, "__wrapped__", wrapped)
        set_slot(self, "_request", request)
        set_slot(self, "_next", wrapped.__next__ if hasattr(type(wrapped), "__next__") else None)

    @property
    def __class__(self):
        return self.__wrapped__.__class__

    @__class__.setter
    def __class__(self, value):
        self.__wrapped__.__class__ = value

    def __getattr__(self, name):
        return getattr(self.__wrapped__, name)

    def __setattr__(self, name, value):
        setattr(self.__wrapped__, name, value)

    def __delattr__(self, name):
        delattr(self.__wrapped__, name)

    def __dir__(self):
        return dir(self.__wrapped__)

    def __iter__(self):
        if self._next is not None:
            return self  # an iterator (a generator) is its own iterator: so is its proxy
        return Chunks(iter(self.__wrapped__), self._request)

    def __contains__(self, value):
        return value in self.__wrapped__

    def __getitem__(self, key):
        return self.__wrapped__[key]

    def __setitem__(self, key, value):
        self.__wrapped__[key] = value

    def __delitem__(self, key):
        del self.__wrapped__[key]

    def __reversed__(self):
        return reversed(self.__wrapped__)

    def __bytes__(self):
        return bytes(self.__wrapped__)

    def __bool__(self):
        return bool(self.__wrapped__)

    def __repr__(self):
        return repr(self.__wrapped__)

    def __str__(self):
        return str(self.__wrapped__)

    def __hash__(self):
        return hash(self.__wrapped__)

    def __eq__(self, other):
        return self.__wrapped__ == other

    def __ne__(self, other):
        return self.__wrapped__ != other

    def __lt__(self, other):
        return self.__wrapped__ < other

    def __le__(self, other):
        return self.__wrapped__ <= other

    def __gt__(self, other):
        return self.__wrapped__ > other

    def __ge__(self, other):
        return self.__wrapped__ >= other

    def __add__(self, other):
        return self.__wrapped__ + other

    def __radd__(self, other):
        return other + self.__wrapped__

    def __mul__(self, other):
        return self.__wrapped__ * other

    def __rmul__(self, other):
        return other * self.__wrapped__

    def __reduce_ex__(self, protocol):
        return self.__wrapped__.__reduce_ex__(protocol)  # copy and pickle see the wrapped object


def _next(self):
    return self._request.next_chunk(self._next)


def _close(self):
    request = self._request
    try:
        return request.run(self.__wrapped__.close)
    finally:
        request.end()


def _len(self):
    return len(self.__wrapped__)


def _length_hint(self):
    return self.__wrapped__.__length_hint__()


def _enter(self):
    return self.__wrapped__.__enter__()


def _exit(self, *exc_info):
    return self.__wrapped__.__exit__(*exc_info)


_OPTIONAL = (("__next__", _next), ("__len__", _len), ("__length_hint__", _length_hint),
             ("__enter__", _enter), ("__exit__", _exit))
_proxy_types = {}  # (the wrapped type, has close) -> its proxy type


def _proxy_type(wrapped_type, has_close):
    key = (wrapped_type, has_close)
    found = _proxy_types.get(key)
    if found is None:
        namespace = {"__slots__": (), "__doc__": Body.__doc__, "__module__": __name__}
        for name, method in _OPTIONAL:
            if hasattr(wrapped_type, name):
                namespace[name] = method
        if has_close:
            namespace["close"] = _close
        found = type(wrapped_type.__name__, (Body,), namespace)  # in messages: "object of type 'list' ..."
        if len(_proxy_types) >= 256:
            _proxy_types.clear()  # bound: types made at run time must not pile up
        _proxy_types[key] = found
    return found


# --- spans whose response is never closed ---------------------------------------------------

_pending = {}  # Watch -> weak reference to what the server got back
_exit_registered = False


class Watch:
    """The end of a span whose response is in the server's hands: what ends it if the
    response is dropped unclosed. It holds the span alone, never the request (whose
    ``start_response`` may lead to the server's handler, and from there to the response)."""

    __slots__ = ("span", "last_ns", "measure")

    def __init__(self, span, measure=None):
        self.span = span
        self.last_ns = time_ns()  # the last sign of life: the application's return, a chunk
        self.measure = measure  # the request's metrics (ServerRequest), when on

    def dropped(self, ref=None):
        """Nobody closed the response (garbage-collected, or the process exits): end the
        span at the last sign of life, marked so it shows."""
        if _pending.pop(self, None) is None:
            return  # ended the ordinary way meanwhile
        try:
            span = self.span
            if span.is_recording():
                span.set_attribute(UNCLOSED_ATTRIBUTE, True)
                span.end(self.last_ns)
            if self.measure is not None:
                self.measure.end(span, self.last_ns)  # no longer active, however it ended
        except Exception:
            internal_error("ending the span of an unclosed WSGI response")


def _register_exit():
    """End the spans still pending when the process exits."""
    global _exit_registered
    import atexit

    # Registered after the agent's own exit flush, so it runs first (atexit is LIFO).
    atexit.register(_end_pending_at_exit)
    _exit_registered = True


def forget(watch):
    """The span ended the ordinary way."""
    _pending.pop(watch, None)


def pending_count():
    """Responses handed to the server whose span has not ended yet."""
    return len(_pending)


def _end_pending_at_exit():
    for watch in list(_pending):
        watch.dropped()


def _forget_after_fork():
    # The parent's requests are the parent's to end and export. (A server that forks
    # without Python's at-fork hooks, uWSGI, forks before it serves: nothing pending.)
    _pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)

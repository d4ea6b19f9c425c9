"""What a traced WSGI application returns reaches the server as it is (wsgi_body.py).

An object that allows it is handed back itself (its ``close`` hooked on the instance and
put back when called); anything else (lists, generators, objects with ``__slots__``)
gets a proxy that answers every check as the wrapped object does. Either way the span
ends when the body ends, is closed, or is dropped unclosed.
"""

import collections.abc
import copy
import gc
import io
import time
import types
import wsgiref.handlers
import wsgiref.util

import pytest

from otel_autoinstrument.instrumentation import current_span
from otel_autoinstrument.instrumentation import wsgi_body
from support.wsgi import environ_for, make_tracing, serve, strict, traced  # noqa: F401 (fixtures)

UNCLOSED = wsgi_body.UNCLOSED_ATTRIBUTE


pytestmark = pytest.mark.usefixtures("strict")


def returning(result, status="200 OK"):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "text/plain")])
        return result() if callable(result) and not hasattr(result, "close") else result
    return app


class Response:
    """A framework's response object: headers by item, ``bytes()``, ``in`` for headers."""

    def __init__(self, content=b"hello"):
        self.content = content
        self.headers = {"Content-Type": "text/plain"}
        self.closed_with = None

    def __iter__(self):
        return iter([self.content])

    def __getitem__(self, name):
        return self.headers[name]

    def __contains__(self, name):
        return name in self.headers

    def __bytes__(self):
        return b"Content-Type: text/plain\r\n\r\n" + self.content

    def close(self):
        self.closed_with = current_span()


class SlottedResponse:
    """The same without an instance dictionary or weak references: it gets a proxy."""

    __slots__ = ("content", "closed")

    def __init__(self, content=b"hello"):
        self.content = content
        self.closed = False

    def __iter__(self):
        return iter([self.content])

    def __getitem__(self, name):
        return {"Content-Type": "text/plain"}[name]

    def __contains__(self, name):
        return name == "Content-Type"

    def __bytes__(self):
        return b"Content-Type: text/plain\r\n\r\n" + self.content

    def close(self):
        self.closed = True


def test_an_object_that_allows_it_is_handed_back_itself(traced):
    tracing, memory = traced
    response = Response()
    before = dict(vars(response))
    served = serve(tracing, returning(response), environ_for(), consume=False)
    result = served.result
    assert result is response and type(result) is Response
    assert bytes(result) == b"Content-Type: text/plain\r\n\r\nhello"
    assert result["Content-Type"] == "text/plain" and "Content-Type" in result and "X" not in result
    assert list(result) == [b"hello"] and list(result) == [b"hello"]  # nothing consumed
    assert memory.spans == []  # the server has not closed it yet
    result.close()
    (span,) = memory.spans
    assert response.closed_with is span  # its own close ran with the request current
    assert vars(response) == dict(before, closed_with=span)  # the hook is gone again
    assert UNCLOSED not in span.attributes


def test_a_reused_response_object_is_restored_after_each_request(traced):
    tracing, memory = traced
    response = Response()
    for _ in range(3):
        assert serve(tracing, returning(response), environ_for()).result is response
        assert "close" not in vars(response)
    assert len(memory.spans) == 3


def test_an_object_served_twice_at_once_gets_a_proxy_the_second_time(traced):
    tracing, memory = traced
    response = Response()
    first = serve(tracing, returning(response), environ_for(), consume=False).result
    second = serve(tracing, returning(response), environ_for(), consume=False).result
    assert first is response and second is not response and isinstance(second, Response)
    second.close()
    first.close()
    assert len(memory.spans) == 2 and "close" not in vars(response)


def test_a_close_kept_by_the_caller_still_closes_the_object(traced):
    """werkzeug's test client keeps ``app_rv.close`` and may drop the object itself."""
    tracing, memory = traced
    closed = []

    class Tracked(Response):
        def close(self):
            closed.append(True)

    served = serve(tracing, returning(Tracked()), environ_for(), consume=False)
    close = served.result.close
    del served
    gc.collect()
    assert memory.spans == [] and closed == []
    close()
    assert closed == [True]
    (span,) = memory.spans
    assert UNCLOSED not in span.attributes
    close()  # closing again does what it would do without the agent
    assert closed == [True, True] and len(memory.spans) == 1

    own = Response()
    own.close = own_close = lambda: closed.append("own")  # as wsgiref's FileWrapper sets it
    close = serve(tracing, returning(own), environ_for(), consume=False).result.close
    close()
    close()
    assert closed[2:] == ["own", "own"] and own.close is own_close and len(memory.spans) == 2


def behaviour(operation, obj):
    try:
        return "value", operation(obj)
    except Exception as exc:
        return "raised", type(exc), str(exc)


OPERATIONS = {
    "bytes": bytes, "len": len, "bool": bool, "repr": repr, "str": str,
    "first item": lambda o: o[0], "header item": lambda o: o["Content-Type"],
    "in": lambda o: "Content-Type" in o, "bytes in": lambda o: b"hello" in o,
    "equal": lambda o: o == [b"hello"], "plus": lambda o: o + [b"!"],
    "reversed": lambda o: list(reversed(o)),
    "has len": lambda o: hasattr(o, "__len__"), "has close": lambda o: hasattr(o, "close"),
    "has next": lambda o: hasattr(o, "__next__"), "has send": lambda o: hasattr(o, "send"),
    "Iterator": lambda o: isinstance(o, collections.abc.Iterator),
    "Sized": lambda o: isinstance(o, collections.abc.Sized),
    "copy": lambda o: type(copy.copy(o)),
}


CONSUMING = {"bytes", "in", "bytes in", "plus", "reversed", "copy"}


@pytest.mark.parametrize("make", [
    lambda: [b"hello"], lambda: (b"hello",), lambda: (c for c in [b"hello"]), SlottedResponse,
], ids=["list", "tuple", "generator", "slotted"])
def test_a_proxy_answers_every_check_as_the_wrapped_object(traced, make):
    tracing, memory = traced
    result = serve(tracing, returning(make()), environ_for(), consume=False).result
    wrapped = result.__wrapped__
    assert type(result) is not type(wrapped)  # a proxy
    assert isinstance(result, type(wrapped)) and result.__class__ is type(wrapped)
    generator = isinstance(wrapped, types.GeneratorType)
    for name, operation in OPERATIONS.items():
        if generator and name in CONSUMING:  # on a fresh generator and a fresh proxy of one
            proxy = serve(tracing, returning(make()), environ_for(), consume=False).result
            assert behaviour(operation, proxy) == behaviour(operation, make()), name
        else:
            assert behaviour(operation, result) == behaviour(operation, wrapped), name
    assert list(result) == list(make())
    if hasattr(result, "close"):
        result.close()
    # Each request ends its span once: this one, and each fresh one a consuming check made
    # on a generator (ended at its body's end, or when dropped unclosed).
    proxy = None  # the last fresh one, dropped
    gc.collect()
    assert len(memory.spans) == 1 + (len(CONSUMING & set(OPERATIONS)) if generator else 0)


def test_a_list_iterates_again_as_a_list_does(traced):
    tracing, memory = traced
    result = serve(tracing, returning([b"a", b"b"]), environ_for(), consume=False).result
    assert list(result) == [b"a", b"b"]
    assert list(result) == [b"a", b"b"]  # each iter() is a new iterator, as for the list
    assert iter(result) is not iter(result)
    assert len(memory.spans) == 1


def test_a_generator_runs_with_the_request_current_and_its_end_ends_the_span(traced):
    tracing, memory = traced
    seen = []

    def body():
        seen.append(current_span())
        yield b"a"
        seen.append(current_span())
        yield b"b"

    result = serve(tracing, returning(body), environ_for(), consume=False).result
    assert isinstance(result, types.GeneratorType) and iter(result) is result
    assert next(result) == b"a" and memory.spans == []
    assert list(result) == [b"b"]
    (span,) = memory.spans  # ended by the end of the body, before any close
    assert seen == [span, span]
    result.close()
    assert len(memory.spans) == 1 and UNCLOSED not in span.attributes


def test_a_dropped_unclosed_body_ends_its_span_at_its_last_activity(traced):
    tracing, memory = traced
    result = serve(tracing, returning(lambda: (c for c in [b"a", b"b"])), environ_for(), consume=False).result
    assert next(result) == b"a"
    last_chunk = time.time_ns()
    time.sleep(0.002)
    del result
    gc.collect()  # the test's start_response leads back to the body: a cycle
    (span,) = memory.spans
    assert span.attributes[UNCLOSED] is True
    assert span.end_ns <= last_chunk  # when the body was last used, not when it was dropped


def test_a_dropped_unclosed_object_kept_in_place_ends_its_span(traced):
    tracing, memory = traced
    served = serve(tracing, returning(Response()), environ_for(), consume=False)
    returned_at = time.time_ns()
    time.sleep(0.002)
    del served
    gc.collect()  # the hooked close refers to its object: a cycle until it is called
    (span,) = memory.spans
    assert span.attributes[UNCLOSED] is True and span.end_ns <= returned_at


def test_responses_still_open_at_exit_end_then(traced):
    tracing, memory = traced
    kept = [serve(tracing, returning(Response()), environ_for(), consume=False).result for _ in range(2)]
    assert wsgi_body.pending_count() >= 2
    wsgi_body._end_pending_at_exit()
    assert len(memory.spans) == 2 and all(s.attributes[UNCLOSED] for s in memory.spans)
    kept[0].close()  # closing afterwards changes nothing
    assert len(memory.spans) == 2


def test_unsampled_requests_are_not_watched_when_metrics_are_off():
    tracing, memory = make_tracing(OTEL_TRACES_SAMPLER="always_off", OTEL_METRICS_EXPORTER="none")
    before = wsgi_body.pending_count()
    response = Response()
    result = serve(tracing, returning(response), environ_for(), consume=False).result
    assert result is response and wsgi_body.pending_count() == before
    result.close()
    assert "close" not in vars(response)


def test_wsgiref_still_sets_content_length_from_len(traced):
    tracing, memory = traced
    out = io.BytesIO()
    handler = wsgiref.handlers.SimpleHandler(io.BytesIO(), out, io.StringIO(), environ_for(), multithread=False)

    def app(environ, start_response):
        return tracing(returning([b"hello"]), None, (environ, start_response), {})

    handler.run(app)
    assert b"Content-Length: 5\r\n" in out.getvalue() and out.getvalue().endswith(b"\r\n\r\nhello")
    assert len(memory.spans) == 1


def test_a_file_wrapper_is_recognised_by_type_kept_or_proxied(traced):
    tracing, memory = traced

    class SlottedFileWrapper(wsgiref.util.FileWrapper):
        __slots__ = ()  # FileWrapper's own instances have a __dict__; this subclass's too

    for wrapper in (wsgiref.util.FileWrapper, SlottedFileWrapper):
        stream = io.BytesIO(b"file contents")

        def app(environ, start_response, wrapper=wrapper, stream=stream):
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](stream, 4)

        served = serve(tracing, app, environ_for(**{"wsgi.file_wrapper": wrapper}), consume=False)
        assert isinstance(served.result, wrapper)  # servers sendfile() what they recognise
        assert b"".join(served.result) == b"file contents"
        served.result.close()
        assert stream.closed
    assert len(memory.spans) == 2


def test_a_framework_traces_the_chunks_of_an_object_kept_in_place():
    """What the Flask instrumentor does with werkzeug's ClosingIterator."""

    class ClosingIterator:
        def __init__(self, iterable):
            self._next = iter(iterable).__next__

        def __iter__(self):
            return self

        def __next__(self):
            return self._next()

        def close(self):
            pass

    def chunks(result, request):
        result._next = request.traced_next(result._next)

    tracing, memory = make_tracing(chunks=chunks)
    seen = []

    def body():
        seen.append(current_span())
        yield b"a"

    closing = ClosingIterator(body())
    result = serve(tracing, returning(closing), environ_for(), consume=False).result
    assert result is closing
    assert list(result) == [b"a"]
    (span,) = memory.spans  # the end of the body ended it
    assert seen == [span]


@pytest.mark.parametrize("status", ["abc", "\xb2\xb2\xb2 OK", "2000 OK", "20", "", "-10 X", b"200 OK", None])
def test_a_malformed_status_gives_a_span_without_a_status_code(traced, status):
    tracing, memory = traced
    served = serve(tracing, returning([b"x"], status), environ_for())
    assert served.status == status and served.body == b"x"
    (span,) = memory.spans
    if status == b"200 OK":
        assert span.attributes["http.response.status_code"] == 200
    else:
        assert "http.response.status_code" not in span.attributes

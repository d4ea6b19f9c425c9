"""ddtrace's manual API in the shape ``spans_work.py`` drives (``start_as_current_span``
as a context manager, ``set_attribute``): ``tracer.trace`` makes the span current, and
an attribute is a tag (text) or a metric (a number), as ddtrace stores them."""
from ddtrace.trace import tracer as _tracer


class _Span:
    __slots__ = ("_span",)

    def __init__(self, span):
        self._span = span

    def set_attribute(self, key, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self._span.set_metric(key, value)
        else:
            self._span.set_tag(key, value)


class _Current:
    __slots__ = ("_name", "_span")

    def __init__(self, name):
        self._name = name

    def __enter__(self):
        self._span = _tracer.trace(self._name)
        return _Span(self._span)

    def __exit__(self, *exc):
        self._span.finish()
        return False


class _Tracer:
    def start_as_current_span(self, name):
        return _Current(name)


def get_tracer(name):
    return _Tracer()

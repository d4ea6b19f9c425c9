"""The active span and baggage carried into ``concurrent.futures.ThreadPoolExecutor`` jobs.

A job runs on a pool thread, whose context is not the submitter's: without help a span
started in a job would begin a new trace. ``ThreadPoolExecutor.submit`` (which ``map``
and asyncio's ``run_in_executor`` use) is patched when ``concurrent.futures.thread`` is
imported: when a span or baggage is active, the job runs with that span and baggage
current, and the pool thread's own values are restored afterwards.

Only the agent's two context variables travel, not a copy of the whole context
(``contextvars.copy_context``): a job still sees the values the application keeps in
its pool threads' contexts, exactly as without the agent. When nothing is active the
job is submitted untouched. asyncio tasks need nothing: each task starts from a copy of
the context that created it, so the span active at ``create_task`` is the task's parent.
"""

from .. import _log
from .importhooks import when_imported
from ..trace.context import _baggage, _span


def install():
    when_imported("concurrent.futures.thread", _patch)


def _patch(module):
    cls = module.ThreadPoolExecutor
    original = cls.__dict__.get("submit")
    if original is None or getattr(original, "_otel_autoinstrument", False):
        return

    def submit(self, fn, /, *args, **kwargs):
        span, baggage = _span.get(), _baggage.get()
        if span is not None or baggage is not None:
            fn = _InContext(fn, span, baggage)
        return original(self, fn, *args, **kwargs)

    submit.__name__ = original.__name__
    submit.__qualname__ = original.__qualname__
    submit.__doc__ = original.__doc__
    submit.__wrapped__ = original
    submit._otel_autoinstrument = True
    cls.submit = submit
    _log.debug("ThreadPoolExecutor.submit carries the active span into jobs")


class _InContext:
    """``fn`` run with the submitter's span and baggage current."""

    __slots__ = ("fn", "span", "baggage")

    def __init__(self, fn, span, baggage):
        self.fn = fn
        self.span = span
        self.baggage = baggage

    def __call__(self, *args, **kwargs):
        span_token = _span.set(self.span)
        baggage_token = _baggage.set(self.baggage)
        try:
            return self.fn(*args, **kwargs)
        finally:
            _baggage.reset(baggage_token)
            _span.reset(span_token)

    def __repr__(self):
        return repr(self.fn)

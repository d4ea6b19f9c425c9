"""Instrumentors that fail on purpose (see README.md)."""

from otel_autoinstrument.instrumentation import Instrumentor, SpanKind, capture_internal_errors


class PatchRaises(Instrumentor):
    name = "fault-patch"
    modules = ("fault_target",)

    def patches(self):
        raise RuntimeError("fault-patch: patching failed on purpose")


class WrapperRaises(Instrumentor):
    name = "fault-wrapper"
    modules = ("fault_target",)

    def patches(self):
        return [("fault_target", "greet", self._wrapper), ("fault_target", "fail", self._wrapper)]

    def _wrapper(self, wrapped, instance, args, kwargs):
        span = None
        with capture_internal_errors("fault-wrapper start"):
            span = self.tracer.start_span(wrapped.__name__, kind=SpanKind.INTERNAL)
            raise RuntimeError("fault-wrapper: start failed on purpose")
        try:
            return wrapped(*args, **kwargs)
        finally:
            with capture_internal_errors("fault-wrapper finish"):
                if span is not None:
                    span.end()
                raise RuntimeError("fault-wrapper: finish failed on purpose")

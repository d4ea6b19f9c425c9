"""The good plugin: a span around every ``good_target.work()`` call. It imports only the
agent's plugin API, as a third-party instrumentor must."""

from otel_autoinstrument.instrumentation import Instrumentor, SpanKind, StatusCode, capture_internal_errors


class GoodInstrumentor(Instrumentor):
    name = "good"
    requires = ("good-target-dist >= 1.0",)
    modules = ("good_target",)

    def patches(self):
        return [("good_target", "work", self._work)]

    def _work(self, wrapped, instance, args, kwargs):
        span = None
        with capture_internal_errors("good_target.work start"):
            span = self.tracer.start_span("good_target.work", kind=SpanKind.INTERNAL,
                                          attributes={"good.n": args[0] if args else -1})
        try:
            result = wrapped(*args, **kwargs)
        except Exception as exc:
            if span is not None:
                span.record_exception(exc)
                span.set_status(StatusCode.ERROR, str(exc))
                span.end()
            raise
        if span is not None:
            with capture_internal_errors("good_target.work finish"):
                span.set_attribute("good.result", result)
                span.end()
        return result

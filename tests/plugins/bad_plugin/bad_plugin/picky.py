"""Supports only a version of good_target's distribution that does not exist."""

from otel_autoinstrument.instrumentation import Instrumentor


class PickyInstrumentor(Instrumentor):
    name = "picky"
    requires = ("good-target-dist >= 99",)
    modules = ("good_target",)

    def patches(self):
        return [("good_target", "work", self._wrong)]

    def _wrong(self, wrapped, instance, args, kwargs):
        raise AssertionError("the picky plugin must never be applied")

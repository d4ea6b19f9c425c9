"""Declares a version range the agent cannot parse."""

from otel_autoinstrument.instrumentation import Instrumentor


class UnparsableInstrumentor(Instrumentor):
    name = "bad_requires"
    requires = ("good-target-dist >> 2",)
    modules = ("good_target",)

    def patches(self):
        return [("good_target", "work", self._wrong)]

    def _wrong(self, wrapped, instance, args, kwargs):
        raise AssertionError("an instrumentor whose requires cannot be checked must not be applied")

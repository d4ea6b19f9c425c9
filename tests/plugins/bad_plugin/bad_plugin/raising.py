"""Raises while instrumenting (after patching one function, which must be undone)."""

from otel_autoinstrument.instrumentation import Instrumentor


class RaisingInstrumentor(Instrumentor):
    name = "bad_instrument"
    modules = ("good_target",)

    def patches(self):
        return [("good_target", "work", self._never_kept)]

    def _never_kept(self, wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs) + 1000  # would change the app's result if it stayed

    def _instrument(self):
        raise RuntimeError("bad plugin exploded while instrumenting")

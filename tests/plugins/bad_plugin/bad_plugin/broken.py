"""Fails to import: its dependency is missing."""

import no_such_dependency_for_bad_plugin  # noqa: F401

from otel_autoinstrument.instrumentation import Instrumentor


class BrokenInstrumentor(Instrumentor):
    name = "bad_import"
    modules = ("good_target",)

"""Instrumentors for `otel-run --info` tests: each ends up in a different status.

They patch nothing; --info never calls instrument(), it only reads these declarations.
"""

from otel_autoinstrument.instrumentation import Instrumentor


class InstalledLibrary(Instrumentor):
    name = "info-flask"
    requires = ("flask >= 2.2",)
    modules = ("flask",)


class MissingLibrary(Instrumentor):
    name = "info-missing"
    requires = ("surely-not-installed-lib >= 1.0",)
    modules = ("surely_not_installed_lib",)


class UnsupportedVersion(Instrumentor):
    name = "info-too-old"
    requires = ("flask >= 1.0, < 2.0",)
    modules = ("flask",)


class DisabledByConfig(Instrumentor):
    name = "info-disabled"
    requires = ("requests",)
    modules = ("requests",)


class ImportWatched(Instrumentor):
    """Its library records being imported: --info must decide without importing it."""

    name = "info-watched"
    requires = ("info-watched-lib >= 2.0",)
    modules = ("info_watched_lib",)


class AlternativeDistributions(Instrumentor):
    """Either distribution provides the module (as psycopg2 and psycopg2-binary): one
    installed is enough."""

    name = "info-alternative"
    requires = ("surely-not-installed-lib >= 1.0", "flask >= 2.2")
    modules = ("flask",)

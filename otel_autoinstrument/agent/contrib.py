"""Contrib instrumentors (``opentelemetry-instrumentation-*``) planned from metadata alone.

The official packages register in the ``opentelemetry_instrumentor`` entry-point group.
Loading one imports the OpenTelemetry API and its instrumentation base (tens of
milliseconds), so at start-up nothing is imported: which library a package instruments
comes from its ``METADATA`` (the ``Requires-Dist: lib ...; extra == "instruments"``
lines), and which modules that library provides from the library's own ``top_level.txt``
(or its ``RECORD``). The package is then loaded by the import hook of those modules, as
our own instrumentors are; a package for a standard-library module (``sqlite3``) names
no requirement, and its entry-point name is the module.

A library that one of our own (built-in or plugin) instrumentors covers is left to it:
the contrib package is skipped and ``otel-run --info`` says why. The rule compares the
distributions and modules our instrumentors declare, not a list of names.
"""

import os
import sys

from .discovery import CONTRIB_GROUP, normalize

INSTRUMENTS_EXTRAS = ("instruments", "instruments-any")


class ContribState:
    """One discovered contrib instrumentor and what the agent does with it."""

    __slots__ = ("name", "entry_point", "requirements", "any_of", "modules", "status", "detail",
                 "instrumentor")

    def __init__(self, entry_point):
        self.name = entry_point.name
        self.entry_point = entry_point
        self.requirements = []  # (distribution, specifier) from the "instruments" extra
        self.any_of = False  # the "instruments-any" extra: one of them is enough
        self.modules = []
        self.status = ""
        self.detail = ""
        self.instrumentor = None

    def as_dict(self):
        return {"name": self.name, "entry_point": self.entry_point.value,
                "distribution": self.entry_point.distribution,
                "instruments": ["%s %s" % (d, s) if s else d for d, s in self.requirements],
                "modules": list(self.modules), "status": self.status, "detail": self.detail}


def _metadata_requirements(folder):
    """``[(distribution, specifier, extra)]`` of the instruments extras in a METADATA file."""
    found = []
    try:
        with open(os.path.join(folder, "METADATA"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break  # the headers end at the first blank line
                if not line.startswith("Requires-Dist:"):
                    continue
                requirement, _, marker = line.split(":", 1)[1].partition(";")
                extra = next((e for e in INSTRUMENTS_EXTRAS if "'%s'" % e in marker or '"%s"' % e in marker), None)
                if extra is None or "extra" not in marker:
                    continue
                found.append(_split(requirement) + (extra,))
    except OSError:
        pass
    return found


def _split(requirement):
    """``"aiohttp ~= 3.0"`` / ``"aiohttp (~=3.0)"`` -> ("aiohttp", "~= 3.0")."""
    requirement = requirement.strip()
    for i, ch in enumerate(requirement):
        if ch in "<>=!~ ([":
            name, rest = requirement[:i], requirement[i:]
            if rest.lstrip().startswith("["):  # extras of the library: not a version
                rest = rest.split("]", 1)[1] if "]" in rest else ""
            return normalize(name), rest.strip().strip("()").strip()
    return normalize(requirement), ""


def distribution_modules(installed, distribution):
    """Top-level modules a distribution provides, from its metadata folder: ``top_level.txt``,
    else a module named like the distribution beside it, else the ``RECORD``."""
    folder = installed.folders.get(normalize(distribution))
    if folder is None:
        return []
    try:
        with open(os.path.join(folder, "top_level.txt"), encoding="utf-8") as fh:
            names = [line.strip() for line in fh if line.strip() and "/" not in line]
        if names:
            return names
    except OSError:
        pass
    site = os.path.dirname(folder)
    guess = normalize(distribution).replace("-", "_")
    if os.path.isdir(os.path.join(site, guess)) or os.path.isfile(os.path.join(site, guess + ".py")):
        return [guess]
    names = []
    try:
        with open(os.path.join(folder, "RECORD"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                path = line.split(",", 1)[0]
                top, sep, _ = path.partition("/")
                if not sep:
                    top = top[:-3] if top.endswith(".py") else ""
                if top and not top.endswith((".dist-info", ".data")) and top not in ("..", "__pycache__") \
                        and top not in names:
                    names.append(top)
    except OSError:
        pass
    return names


def _is_stdlib(name):
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return name in names
    stdlib = os.path.dirname(os.__file__)  # Python 3.9 has no stdlib_module_names
    return (os.path.isfile(os.path.join(stdlib, name + ".py"))
            or os.path.isfile(os.path.join(stdlib, name, "__init__.py")))


def covered_libraries(instrumentors):
    """(distributions, modules) that our own enabled instrumentors declare."""
    distributions, modules = {}, {}
    for name, requires, their_modules in instrumentors:
        for requirement in requires:
            distributions.setdefault(_split(requirement.split(";", 1)[0])[0], name)
        for module in their_modules:
            modules.setdefault(module.split(".", 1)[0], name)
    return distributions, modules


def plan(installed, disabled, ours, satisfies):
    """A ContribState for every contrib entry point, with the status it gets here.

    ``ours``: (name, requires, modules) of our enabled instrumentors; ``satisfies``: the
    plugin API's version check (passed in: this module stays free of imports).
    """
    covered_dists, covered_modules = covered_libraries(ours)
    states = []
    for entry_point in installed.groups.get(CONTRIB_GROUP, ()):
        state = ContribState(entry_point)
        states.append(state)
        if "*" in disabled or state.name.lower() in disabled:
            state.status, state.detail = "disabled", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
            continue
        folder = installed.folders.get(entry_point.distribution)
        wanted = _metadata_requirements(folder) if folder else []
        state.any_of = bool(wanted) and all(extra == "instruments-any" for _, _, extra in wanted)
        state.requirements = [(dist, spec) for dist, spec, _ in wanted]
        for dist, _ in state.requirements:
            for module in distribution_modules(installed, dist):
                if module not in state.modules:
                    state.modules.append(module)
        if not state.requirements and _is_stdlib(state.name):
            state.modules = [state.name]
        _decide(state, installed, covered_dists, covered_modules, satisfies)
    return sorted(states, key=lambda s: s.name)


def _decide(state, installed, covered_dists, covered_modules, satisfies):
    owner = next((covered_dists[d] for d, _ in state.requirements if d in covered_dists), None) or next(
        (covered_modules[m] for m in state.modules if m in covered_modules), None)
    if owner is not None:
        libraries = ", ".join([d for d, _ in state.requirements] or state.modules)
        state.status = "skipped"
        state.detail = "the agent's own %s instrumentor traces %s" % (owner, libraries)
        return
    if not state.requirements and not state.modules:
        state.status = "skipped"
        state.detail = "its metadata names no library to wait for"
        return
    missing, problems, present = [], [], []
    for dist, specifier in state.requirements:
        version = installed.version(dist)
        if version is None:
            missing.append(dist)
        elif specifier and not _satisfied(satisfies, version, specifier):
            problems.append("%s %s is installed, %s supports %s" % (dist, version, state.name, specifier))
        else:
            present.append(dist)
    if state.requirements and not (present if state.any_of else not (missing or problems)):
        if problems:
            state.status, state.detail = "unsupported", "; ".join(problems)
        else:
            state.status, state.detail = "not_installed", "%s not found" % ", ".join(missing)
        return
    if not state.modules:
        state.status = "skipped"
        state.detail = "cannot tell which modules %s provides" % ", ".join(present)
        return
    state.status = "waiting"
    state.detail = "loads on import of " + ", ".join(state.modules)


def _satisfied(satisfies, version, specifier):
    try:
        return satisfies(version, specifier)
    except ValueError:
        return True  # a specifier our simple check cannot read: let the package decide

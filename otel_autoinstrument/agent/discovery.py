"""Find instrumentor plugins and installed distribution versions without importlib.metadata.

Importing ``importlib.metadata`` costs more than the agent's whole start-up budget, in
every process (figures in docs/architecture.md). Entry points and versions are plain files: one
``os.scandir`` per ``sys.path`` directory finds the ``*.dist-info`` (and ``*.egg-info``)
folders, whose names carry the distribution name and version, and only the
``entry_points.txt`` files that mention our group are parsed. A unit test checks the
result against ``importlib.metadata``.
"""

import os
import sys

GROUP = "otel_autoinstrument.instrumentors"
# The OpenTelemetry API's groups, read in the same scan: contrib instrumentors
# (``opentelemetry-instrumentation-*``) and runtime contexts (ours among them).
CONTRIB_GROUP = "opentelemetry_instrumentor"
CONTEXT_GROUP = "opentelemetry_context"
GROUPS = (GROUP, CONTRIB_GROUP, CONTEXT_GROUP)


def normalize(name):
    """PEP 503 name normalization (``Flask_Login`` -> ``flask-login``)."""
    out = []
    dash = False
    for ch in name.lower():
        if ch in "-_.":
            dash = True
            continue
        if dash and out:
            out.append("-")
        dash = False
        out.append(ch)
    return "".join(out)


class EntryPoint:
    __slots__ = ("name", "value", "distribution")

    def __init__(self, name, value, distribution):
        self.name = name
        self.value = value
        self.distribution = distribution

    def load(self):
        module_name, _, attr = self.value.partition(":")
        module = __import__(module_name.strip(), fromlist=["_"])
        obj = module
        for part in attr.strip().split("."):
            if part:
                obj = getattr(obj, part)
        return obj

    def __repr__(self):
        return "EntryPoint(%r, %r)" % (self.name, self.value)


def _parse_group(text, group):
    entries = []
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if current == group and "=" in line:
            name, _, value = line.partition("=")
            entries.append((name.strip(), value.split("[", 1)[0].strip()))
    return entries


def _dist_name_version(folder):
    stem = folder.rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    return normalize(name), version.split("-", 1)[0] if version else ""


def _metadata_version(path):
    """Version from an egg-info/dist-info METADATA/PKG-INFO when the folder name lacks it."""
    for leaf in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, leaf), encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line.strip():
                        break
        except OSError:
            continue
    return ""


class Installed:
    """What one scan of ``sys.path`` found: versions and metadata folders by name, and the
    entry points of ``groups`` (``entry_points``: those of the first, our plugins)."""

    def __init__(self, paths=None, groups=GROUPS):
        self.versions = {}
        self.folders = {}  # normalized name -> its .dist-info / .egg-info path
        self.groups = {group: [] for group in groups}
        self.entry_points = self.groups[groups[0]]
        seen_dists = set()
        for entry in (sys.path if paths is None else paths):
            try:
                items = list(os.scandir(entry or "."))
            except OSError:
                continue
            for item in items:
                folder = item.name
                if not (folder.endswith(".dist-info") or folder.endswith(".egg-info")):
                    continue
                name, version = _dist_name_version(folder)
                if name in seen_dists:
                    continue  # the first on sys.path wins, as for imports
                seen_dists.add(name)
                if not version and item.is_dir():
                    version = _metadata_version(item.path)
                self.versions[name] = version
                self.folders[name] = item.path
                self._read_entry_points(item.path, name)

    def _read_entry_points(self, path, dist):
        try:
            with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            return
        for group, found in self.groups.items():
            if group in text:
                found.extend(EntryPoint(name, value, dist) for name, value in _parse_group(text, group))

    def version(self, distribution):
        return self.versions.get(normalize(distribution))

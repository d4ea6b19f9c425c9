"""The hand-written scan of ``sys.path`` for distributions and plugin entry points gives
the answers ``importlib.metadata`` gives (for this environment, and for small made-up
sites with the awkward cases). The version checks of ``requires`` are in test_versions.py."""

import importlib.metadata as metadata
import re
import sys

import pytest

from otel_autoinstrument.agent import discovery
from otel_autoinstrument.agent.discovery import GROUP, Installed, normalize


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def reference(paths=None):
    """(versions, entry points) the standard library finds: the first of a name wins."""
    versions, entry_points = {}, set()
    dists = metadata.distributions() if paths is None else metadata.distributions(path=paths)
    for dist in dists:
        name = pep503(dist.metadata["Name"])
        if name in versions:
            continue
        versions[name] = dist.version
        for ep in dist.entry_points:
            if ep.group == GROUP:
                entry_points.add((ep.name, ep.value, name))
    return versions, entry_points


def ours(paths=None):
    installed = Installed(paths)
    return installed.versions, {(ep.name, ep.value, ep.distribution) for ep in installed.entry_points}


def test_same_answers_as_importlib_metadata_here():
    versions, entry_points = reference()
    our_versions, our_entry_points = ours()
    assert our_versions == versions
    assert our_entry_points == entry_points
    assert "otel-autoinstrument" in our_versions       # the project itself, installed editable


def test_version_lookup_uses_normalized_names():
    installed = Installed()
    assert installed.version("Wrapt") == metadata.version("wrapt")
    assert installed.version("opentelemetry_proto") == metadata.version("opentelemetry-proto")
    assert installed.version("no-such-distribution") is None


@pytest.mark.parametrize("name", ["Flask_Login", "zope.interface", "A__B--C", "typing_extensions",
                                  "Django", "ruamel.yaml.clib"])
def test_normalize_is_pep_503(name):
    assert normalize(name) == pep503(name)


def _dist_info(site, folder, metadata_text, entry_points=None):
    path = site / folder
    path.mkdir(parents=True)
    leaf = "PKG-INFO" if folder.endswith(".egg-info") else "METADATA"
    (path / leaf).write_text(metadata_text)
    if entry_points is not None:
        (path / "entry_points.txt").write_text(entry_points)


def test_made_up_sites_match_importlib_metadata(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    _dist_info(first, "good_plugin-1.2.0.dist-info", "Metadata-Version: 2.1\nName: good-plugin\nVersion: 1.2.0\n\n",
               "# a comment\n[console_scripts]\ngood = good_plugin:main\n\n"
               "[%s]\ngood = good_plugin.instrumentor:GoodInstrumentor\n"
               "extra = good_plugin.other:Other [extra]\n\n[other.group]\nx = y:z\n" % GROUP)
    # the same distribution further down sys.path: shadowed, as for imports
    _dist_info(second, "good_plugin-0.9.dist-info", "Metadata-Version: 2.1\nName: good-plugin\nVersion: 0.9\n\n",
               "[%s]\nold = good_plugin.old:Old\n" % GROUP)
    # an egg-info folder whose name has no version: read it from PKG-INFO
    _dist_info(second, "Legacy_Lib.egg-info", "Metadata-Version: 1.1\nName: Legacy-Lib\nVersion: 3.4.5\n\n")
    # an egg-info with the version in its name
    _dist_info(second, "oldstyle-2.0-py3.9.egg-info", "Metadata-Version: 1.1\nName: oldstyle\nVersion: 2.0\n\n")
    # a group name that only appears inside another group's value is not our group
    _dist_info(second, "mention-1.0.dist-info", "Metadata-Version: 2.1\nName: mention\nVersion: 1.0\n\n",
               "[console_scripts]\nx = %s.fake:main\n" % GROUP)
    (second / "not_a_dist").mkdir()
    paths = [str(first), str(tmp_path / "missing"), str(second)]
    versions, entry_points = reference(paths)
    our_versions, our_entry_points = ours(paths)
    assert our_versions == versions == {"good-plugin": "1.2.0", "legacy-lib": "3.4.5", "oldstyle": "2.0",
                                        "mention": "1.0"}
    assert entry_points == {
        ("good", "good_plugin.instrumentor:GoodInstrumentor", "good-plugin"),
        ("extra", "good_plugin.other:Other [extra]", "good-plugin"),
    }
    # The scan keeps the object reference and leaves out the extras it does not use.
    assert our_entry_points == {(n, v.split("[")[0].strip(), d) for n, v, d in entry_points}


def test_entry_point_load(tmp_path, monkeypatch):
    (tmp_path / "ep_target_mod.py").write_text("class Thing:\n    class Inner:\n        pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = discovery.EntryPoint("thing", "ep_target_mod:Thing.Inner", "dist")
    loaded = ep.load()
    assert loaded.__qualname__ == "Thing.Inner"
    assert discovery.EntryPoint("m", "ep_target_mod", "dist").load() is sys.modules["ep_target_mod"]

"""Contrib instrumentors planned from metadata alone: which library each instruments
(the ``instruments`` extra, the library's top_level.txt or RECORD, a standard-library
module named by the entry point), and what the agent does with each."""

from otel_autoinstrument.agent.contrib import plan
from otel_autoinstrument.agent.discovery import Installed
from otel_autoinstrument.instrumentation import satisfies


def _dist(site, name, version, metadata="", entry_points="", top_level=None, record=None):
    folder = site / ("%s-%s.dist-info" % (name.replace("-", "_"), version))
    folder.mkdir()
    (folder / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s\nLong description\n"
                                     "Requires-Dist: ignored; extra == 'instruments'\n" % (name, version, metadata))
    if entry_points:
        (folder / "entry_points.txt").write_text("[opentelemetry_instrumentor]\n" + entry_points)
    if top_level is not None:
        (folder / "top_level.txt").write_text(top_level)
    if record is not None:
        (folder / "RECORD").write_text(record)


def _contrib(site, short, requirement="", extra="instruments"):
    metadata = "Requires-Dist: opentelemetry-api~=1.12\n"
    if requirement:
        metadata += 'Requires-Dist: %s; extra == "%s"\n' % (requirement, extra)
    _dist(site, "opentelemetry-instrumentation-" + short, "0.1b0", metadata,
          "%s = opentelemetry.instrumentation.%s:Instrumentor\n" % (short, short.replace("-", "_")))


def _plan(site, disabled=(), ours=()):
    return {s.name: s for s in plan(Installed([str(site)]), set(disabled), list(ours), satisfies)}


def test_each_contrib_package_gets_a_status_from_metadata(tmp_path):
    _contrib(tmp_path, "fakelib", "fakelib ~= 2.0")
    _dist(tmp_path, "fakelib", "2.1", top_level="fakelib\nfakelib_extra\n")
    _contrib(tmp_path, "oldlib", "oldlib (>=3)")
    _dist(tmp_path, "oldlib", "2.9", top_level="oldlib\n")
    _contrib(tmp_path, "absent", "absentlib >= 1")
    _contrib(tmp_path, "recorded", "Recorded-Lib[extra] >= 1")
    _dist(tmp_path, "recorded-lib", "1.0", record="recmod/__init__.py,sha256=x,1\nrecmod/a.py,,\n"
          "single.py,,\nrecorded_lib-1.0.dist-info/METADATA,,\n../../bin/tool,,\n")
    _contrib(tmp_path, "sqlite3")
    _contrib(tmp_path, "mystery")
    _contrib(tmp_path, "anyof", "anylib-a >= 1", extra="instruments-any")
    _dist(tmp_path, "anylib-a", "1.5", top_level="anylib_a\n")
    states = _plan(tmp_path)

    assert (states["fakelib"].status, states["fakelib"].modules) == ("waiting", ["fakelib", "fakelib_extra"])
    assert states["fakelib"].requirements == [("fakelib", "~= 2.0")]
    assert states["oldlib"].status == "unsupported"
    assert states["oldlib"].detail == "oldlib 2.9 is installed, oldlib supports >=3"
    assert (states["absent"].status, states["absent"].detail) == ("not_installed", "absentlib not found")
    assert (states["recorded"].status, states["recorded"].modules) == ("waiting", ["recmod", "single"])
    assert (states["sqlite3"].status, states["sqlite3"].modules) == ("waiting", ["sqlite3"])
    assert states["mystery"].status == "skipped"
    assert states["anyof"].status == "waiting" and states["anyof"].any_of


def test_our_own_instrumentor_wins_by_distribution_or_module(tmp_path):
    _contrib(tmp_path, "fakelib", "fakelib >= 1")
    _dist(tmp_path, "fakelib", "2.1", top_level="fakelib\n")
    _contrib(tmp_path, "fakelib-binary", "fakelib-binary >= 1")
    _dist(tmp_path, "fakelib-binary", "2.1", top_level="fakelib\n")
    _contrib(tmp_path, "logging")
    ours = [("fake", ("fakelib >= 2",), ("fakelib.core",)), ("logging", (), ("logging",))]
    states = _plan(tmp_path, ours=ours)
    assert {name: (s.status, s.detail) for name, s in states.items()} == {
        "fakelib": ("skipped", "the agent's own fake instrumentor traces fakelib"),
        "fakelib-binary": ("skipped", "the agent's own fake instrumentor traces fakelib-binary"),
        "logging": ("skipped", "the agent's own logging instrumentor traces logging"),
    }
    # A disabled built-in (not among ``ours``) leaves the library to the contrib package.
    assert _plan(tmp_path, ours=ours[1:])["fakelib"].status == "waiting"


def test_disabled_names_apply_to_contrib_packages(tmp_path):
    _contrib(tmp_path, "sqlite3")
    _contrib(tmp_path, "fakelib", "fakelib >= 1")
    assert _plan(tmp_path, disabled={"sqlite3"})["sqlite3"].status == "disabled"
    assert {s.status for s in _plan(tmp_path, disabled={"*"}).values()} == {"disabled"}

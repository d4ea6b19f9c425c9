"""Version checks of ``requires`` (instrumentation/versions.py, markers.py,
requirements.py) give the
answers ``packaging`` gives: PEP 440 parsing, normalization and ordering, every
specifier operator, PEP 508 requirements (extras, parentheses, URLs, markers).

``packaging`` (installed with pytest) is the reference: hand-picked vectors for each
rule, then generated versions and specifiers compared one by one."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Reference
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion as ReferenceInvalid
from packaging.version import Version as ReferenceVersion

from otel_autoinstrument.instrumentation.markers import evaluate_marker
from otel_autoinstrument.instrumentation.requirements import parse_requirement, requirement_problem
from otel_autoinstrument.instrumentation.versions import InvalidVersion, Version, satisfies

# Spellings of every part of a version: epochs, pre/post/dev in their alternative forms,
# separators, case, leading zeros, "v", whitespace, local labels; and malformed ones.
VERSIONS = [
    "0", "1", "1.0", "1.0.0", "1.0.0.0", "1.2.3", "01.02", "2!1.0", "00!1.2", "v1.0", "V2.0", " \t1.0\n",
    "1.0a", "1.0.a1", "1.0-a1", "1.0_a_1", "1.0alpha1", "1.0ALPHA", "1.0b2", "1.0beta", "1.0c1", "1.0rc1",
    "1.0pre1", "1.0preview2", "1.0-rc-1", "1.0a05", "1.0a-", "1.0a.", "1.0a.dev1", "1.0a1.post2.dev3",
    "1.0.post1", "1.0post", "1.0-1", "1.0-post1", "1.0rev2", "1.0r", "1.0.post.", "1.0post-",
    "1.0.dev1", "1.0dev", "1.0-dev-2", "1.0.dev.", "1.0.post1.dev1", "1.0rc1.dev1",
    "1.0+local", "1.0+AbC.1", "1.0+5", "1.0+ubuntu-1", "1.0+a_b.c-d", "2.0.0+cu118", "1.0.dev1+x",
    "2022.01.01", "1.9999999", "10.0.1", "0.0.0.dev0",
    # malformed
    "", "abc", "1.", ".1", "1..0", "1.0-", "1.0+", "1.0+a..b", "1.0++a", "1.0a1a", "1.0 1", "1!", "!1",
    "1.0.x", "1.0+\u0130", "1.0-foo", "1.0-post1-", "dev", "1.0.post1.a1", "1.0-dev1-post1",
]

SPECIFIERS = [
    ">= 2.2", ">=2.2,<4", "<4", "==2.2.0", "==2.2", "!=2.2.1", ">1.9", "<=1.9.0", "~=1.4", "~=1.4.2",
    "== 2.*", "==2.0.*", "!=2.*", "==0!2.*", "==2!1.*", "== 1.0+local", "!=1.0+local", "==2.0+deadbeef.00",
    ">1.0", ">1.0.post1", ">1.0.dev1", ">1.0a1", ">1.0a1.post1", "<1.0", "<1.0rc1", "<1.0.post1",
    "<1.0.dev5", "~=1.0a1", "~=2022.01.01", "~=2!1.0", "===1.0", "=== 1.0+local", ">=1.0.dev0", "<=2",
    "~=1.0.post1", "==1.0.post1", "<= 2!0.1", "> 2.0", "", " >= 1 , < 3 ",
    # malformed
    "2.2", "=> 2", "~ 1", ">> 2", ">=", "== abc", "<, >= 0", "~=1", "~=1.0+5", ">=1.0+x", "<1.0.*", "~=1.0.*",
    "==1.0.*+5", "==2.0a1.*", "==2.0.post1.*", "==1.0.*.5", ">=1,", ",>=1", "== 1.0 2", "<>1",
]


def reference_satisfies(version, specifier):
    return SpecifierSet(specifier).contains(version, prereleases=True)


def reference_version(text):
    try:
        return ReferenceVersion(text)
    except ReferenceInvalid:
        return None


@pytest.mark.parametrize("text", VERSIONS)
def test_versions_parse_and_normalize_as_packaging_does(text):
    reference = reference_version(text)
    if reference is None:
        with pytest.raises(InvalidVersion):
            Version(text)
    else:
        assert str(Version(text)) == str(reference)


def test_versions_sort_as_packaging_sorts_them():
    valid = [v for v in VERSIONS if reference_version(v) is not None]
    for a, b in itertools.product(valid, repeat=2):
        ours = (Version(a).key > Version(b).key) - (Version(a).key < Version(b).key)
        theirs = (ReferenceVersion(a) > ReferenceVersion(b)) - (ReferenceVersion(a) < ReferenceVersion(b))
        assert ours == theirs, (a, b)


@pytest.mark.parametrize("specifier", SPECIFIERS)
def test_specifiers_match_as_packaging_matches(specifier):
    try:
        SpecifierSet(specifier)
    except InvalidSpecifier:
        with pytest.raises(ValueError):
            satisfies("1.0", specifier)
        return
    wrong = [v for v in VERSIONS if satisfies(v, specifier) is not reference_satisfies(v, specifier)]
    assert wrong == []


@pytest.mark.parametrize("version, specifier, expected", [
    ("2.5.1", "== 2.*", True),                # the case: a prefix match
    ("3.0", "== 2.*", False),
    ("2.2.1rc1", ">= 2.2", True),             # an installed pre-release in range
    ("3.0.0.dev1", ">= 3", False),            # a dev release sorts before its release
    ("1.0.post2", "== 1.0", False),           # ... and a post release after it
    ("1.0.post2", "== 1.0.*", True),
    ("2.0.0+cu118", "== 2.0.0", True),        # a local label is ignored unless asked for
    ("1.0+local", "> 1.0", False),
    ("1.0.post1", "> 1.0", False),            # >V excludes V's post releases
    ("1.0rc1", "< 1.0", False),               # <V excludes V's pre-releases
    ("2!1.0", ">= 3.0", True),                # epochs come first
])
def test_satisfies(version, specifier, expected):
    assert satisfies(version, specifier) is expected
    assert reference_satisfies(version, specifier) is expected


# --- generated versions and specifiers -------------------------------------------------

_numbers = st.integers(min_value=0, max_value=12)
_release = st.lists(_numbers, min_size=1, max_size=4).map(lambda r: ".".join(map(str, r)))
_pre = st.sampled_from(["", "a", "b", "rc", "c", "alpha", "-beta", ".pre", "preview"]) .flatmap(
    lambda label: st.just("") if not label else _numbers.map(lambda n: "%s%d" % (label, n)))
_post = st.sampled_from(["", ".post", "-", "post", ".rev"]).flatmap(
    lambda label: st.just("") if not label else _numbers.map(lambda n: "%s%d" % (label, n)))
_dev = st.sampled_from(["", ".dev", "dev"]).flatmap(
    lambda label: st.just("") if not label else _numbers.map(lambda n: "%s%d" % (label, n)))
_local = st.sampled_from(["", "+local", "+1", "+abc.2", "+0"])
_epoch = st.sampled_from(["", "", "", "1!"])
versions = st.builds(lambda *parts: "".join(parts), _epoch, _release, _pre, _post, _dev, _local)
operators = st.sampled_from(["==", "!=", "<=", ">=", "<", ">", "~=", "==*", "!=*"])


def _specifier(op, version):
    if op.endswith("*"):
        return "%s%s.*" % (op[:-1], str(ReferenceVersion(version).release[0]))
    return op + version


@settings(max_examples=600, deadline=None)
@given(versions, operators, versions)
def test_generated_specifiers_match_as_packaging_matches(version, op, spec_version):
    specifier = _specifier(op, spec_version)
    try:
        SpecifierSet(specifier)
    except InvalidSpecifier:
        with pytest.raises(ValueError):
            satisfies(version, specifier)
        return
    assert satisfies(version, specifier) is reference_satisfies(version, specifier)


@settings(max_examples=300, deadline=None)
@given(versions, versions)
def test_generated_versions_normalize_and_sort_as_packaging_does(a, b):
    assert str(Version(a)) == str(ReferenceVersion(a))
    assert (Version(a).key < Version(b).key) is (ReferenceVersion(a) < ReferenceVersion(b))
    assert (Version(a).key == Version(b).key) is (ReferenceVersion(a) == ReferenceVersion(b))


# --- requirements and markers ----------------------------------------------------------

REQUIREMENTS = [
    "flask >= 2.2", "flask>=2.2,<4", "requests", "redis[hiredis] >= 4", "redis[hiredis,ocsp]>=4",
    "Django (>=4.2)", "name[]", "zope.interface == 5.*", "a_b-c.d ~= 1.0",
    'redis >= 4; python_version < "3.12"', "django>=4.2; python_version >= '3.8'",
    'pkg; os_name == "posix" and (sys_platform == "linux" or sys_platform == "darwin")',
    "pkg @ https://example.invalid/pkg.whl", 'pkg @ https://example.invalid/a;b.whl ; python_version > "3"',
    # malformed
    "", ">= 2", "-flask", "flask[", "flask[a b]", "flask >= ", "flask;", "flask; python_version",
    "flask; nonsense == '1'", "flask ==2.2 extra", "flask @",
]

MARKERS = [
    'python_version >= "3.9"', 'python_version < "3"', "python_version == '3.11'", '"3.9" <= python_version',
    'python_full_version >= "3.9.0"', 'os_name == "posix"', 'os_name != "nt"', 'sys_platform == "win32"',
    '"linux" in sys_platform', '"win" not in sys_platform', 'platform_system == "Linux"',
    'platform_python_implementation == "CPython"', 'implementation_name == "cpython"',
    'implementation_version > "3"', 'platform_machine in "x86_64 aarch64"', "extra == 'test'",
    'python_version >= "3.9" and (os_name == "nt" or sys_platform == "linux")',
    'python_version < "3" or os_name == "posix" and sys_platform == "linux"',
    "os.name == 'posix'", 'python_version ~= "3.9"', 'os_name === "posix"',
    # malformed or undefined
    'python_version >> "3"', 'python_version "3"', 'nonsense == "1"', '(python_version > "3"',
    'python_version > "3" and', 'os_name ~= "posix"',
]


@pytest.mark.parametrize("text", REQUIREMENTS)
def test_requirements_parse_as_packaging_parses_them(text):
    try:
        reference = Reference(text)
        if reference.marker is not None:
            reference.marker.evaluate()
    except (InvalidRequirement, InvalidMarker, ValueError):
        with pytest.raises(ValueError):
            parse_requirement(text).applies()
        return
    ours = parse_requirement(text)
    assert ours.name == reference.name
    assert set(ours.extras) == reference.extras
    assert SpecifierSet(ours.specifier) == reference.specifier
    assert ours.applies() is (reference.marker is None or reference.marker.evaluate())


@pytest.mark.parametrize("marker", MARKERS)
def test_markers_evaluate_as_packaging_does(marker):
    try:
        expected = Marker(marker).evaluate()
    except Exception:
        with pytest.raises(ValueError):
            evaluate_marker(marker)
        return
    assert evaluate_marker(marker) is expected


def test_a_requirement_whose_marker_is_false_does_not_apply():
    versions = {"lib": "1.0"}.get
    assert requirement_problem('lib >= 2; python_version < "3"', versions, "x") is None
    assert requirement_problem('lib >= 2; python_version >= "3"', versions, "x") == \
        "lib 1.0 is installed, x supports >= 2"
    assert requirement_problem("redis[hiredis] >= 4", {"redis": "4.5.1"}.get) is None
    assert requirement_problem("other >= 4", versions) is None       # not installed as a distribution
    with pytest.raises(ValueError):
        requirement_problem("lib >> 2", versions)


# Every operator between members of one family (1.0, its pre/post/dev/local releases):
# where PEP 440's special rules for <, >, == and locals apply.
FAMILY = [r + s for r in ("1", "1.0", "1.0.0") for s in (
    "", "a1", "rc2", ".post1", ".post1.dev2", ".dev1", "a1.dev1", "a1.post1", "+x", ".post1+x", ".dev1+x")] + [
    "0.9", "1.0.1", "1.1", "2!1.0"]


def test_every_operator_within_one_family_matches_packaging():
    wrong = []
    for spec_version in FAMILY:
        for op in ("==", "!=", "<=", ">=", "<", ">", "~=", "==*", "!=*", "==="):
            specifier = _specifier(op, spec_version) if op != "==*" or "+" not in spec_version else None
            try:
                SpecifierSet(specifier)
            except (InvalidSpecifier, TypeError):
                continue
            wrong += [(v, specifier) for v in FAMILY
                      if satisfies(v, specifier) is not reference_satisfies(v, specifier)]
    assert wrong == []

"""PEP 440 versions and version specifiers, for the checks of ``Instrumentor.requires``
(the requirements themselves, PEP 508, are parsed in ``requirements.py``).

Written here rather than taken from ``packaging``: importing ``packaging.requirements``
loads ``typing``, ``re``, ``dataclasses`` and more, a cost paid again by every process
that imports an instrumented library (docs/architecture.md), while this module is small enough
to check every instrumentor at start-up, which is how the start-up line can list only
what will really be patched. ``tests/unit/test_versions.py`` checks it against
``packaging`` on its test vectors and generated ones.

An installed pre-release satisfies a range it falls in (``2.0rc1`` satisfies ``>= 1.9``):
it is what is installed, there is nothing else to choose.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    Key = Tuple[Any, ...]  # a version's sort key

__all__ = ["InvalidVersion", "Version", "satisfies", "specifier_matcher"]

_SEPARATORS = "-_."
_PRE = (("alpha", "a"), ("beta", "b"), ("preview", "rc"), ("pre", "rc"), ("rc", "rc"), ("a", "a"), ("b", "b"),
        ("c", "rc"))
_POST = ("post", "rev", "r")
_OPERATORS = ("===", "~=", "==", "!=", "<=", ">=", "<", ">")
_DIGITS = frozenset("0123456789")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


class InvalidVersion(ValueError):
    pass


class Version:
    """A PEP 440 version, parsed and normalized; ordered as PEP 440 orders them."""

    __slots__ = ("epoch", "release", "pre", "post", "dev", "local", "key")

    def __init__(self, text: str) -> None:
        parsed = _parse(text)
        if parsed is None:
            raise InvalidVersion("not a PEP 440 version: %r" % text)
        self.epoch, self.release, self.pre, self.post, self.dev, self.local = parsed
        self.key = _key(*parsed)

    @classmethod
    def of(cls, epoch: int, release: Tuple[int, ...], pre: Optional[Tuple[str, int]] = None,
           post: Optional[int] = None, dev: Optional[int] = None) -> Version:
        version = cls.__new__(cls)
        version.epoch, version.release, version.pre, version.post, version.dev = epoch, release, pre, post, dev
        version.local = None
        version.key = _key(epoch, release, pre, post, dev, None)
        return version

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    def public_key(self) -> Key:
        """The ordering key without the local label."""
        return self.key[:-1] + ((),)

    def __str__(self) -> str:
        out = ("%d!" % self.epoch if self.epoch else "") + ".".join(map(str, self.release))
        if self.pre is not None:
            out += "%s%d" % self.pre
        if self.post is not None:
            out += ".post%d" % self.post
        if self.dev is not None:
            out += ".dev%d" % self.dev
        if self.local is not None:
            out += "+" + ".".join(map(str, self.local))
        return out

    def __repr__(self) -> str:
        return "Version(%r)" % str(self)


def _number(text: str, i: int) -> Tuple[Optional[int], int]:
    j = i
    while j < len(text) and text[j] in _DIGITS:
        j += 1
    return (int(text[i:j]), j) if j > i else (None, i)


def _label(text: str, i: int, labels: Tuple[str, ...]) -> Tuple[Optional[str], int]:
    """An optional separator, one of ``labels``, an optional separator, an optional number."""
    j = i + 1 if i < len(text) and text[i] in _SEPARATORS else i
    for label in labels:
        if text.startswith(label, j):
            k = j + len(label)
            if k < len(text) and text[k] in _SEPARATORS:
                k += 1
            return label, k
    return None, i


def _parse(text: str) -> Optional[Tuple[Any, ...]]:
    if not isinstance(text, str):
        return None
    s = text.strip().lower()
    i = 1 if s.startswith("v") else 0
    epoch = 0
    number, j = _number(s, i)
    if number is not None and j < len(s) and s[j] == "!":
        epoch, i = number, j + 1
    release = []
    while True:
        number, i = _number(s, i)
        if number is None:
            return None
        release.append(number)
        if i + 1 < len(s) and s[i] == "." and s[i + 1] in _DIGITS:
            i += 1
            continue
        break
    pre = post = dev = local = None
    label, i = _label(s, i, tuple(p[0] for p in _PRE))
    if label is not None:
        number, i = _number(s, i)
        pre = (dict(_PRE)[label], number or 0)
    if s.startswith("-", i) and i + 1 < len(s) and s[i + 1] in _DIGITS:
        post, i = _number(s, i + 1)
    else:
        label, i = _label(s, i, _POST)
        if label is not None:
            number, i = _number(s, i)
            post = number or 0
    label, i = _label(s, i, ("dev",))
    if label is not None:
        number, i = _number(s, i)
        dev = number or 0
    if s.startswith("+", i):
        parts = []
        for part in _split_any(s[i + 1:], _SEPARATORS):
            if not part or not _ALNUM.issuperset(part):
                return None
            parts.append(int(part) if _DIGITS.issuperset(part) else part)
        local, i = tuple(parts), len(s)
    if i != len(s):
        return None
    return epoch, tuple(release), pre, post, dev, local


def _split_any(text: str, separators: str) -> List[str]:
    for separator in separators[1:]:
        text = text.replace(separator, separators[0])
    return text.split(separators[0])


# Sort keys in the order PEP 440 defines: a dev release of X before X's pre-releases,
# those before X, X before its post-releases; a local label sorts after the public
# version, its numeric parts after alphanumeric ones.
def _key(epoch: int, release: Tuple[int, ...], pre: Optional[Tuple[str, int]], post: Optional[int],
         dev: Optional[int], local: Optional[Tuple[Any, ...]]) -> Key:
    trimmed = list(release)
    while trimmed and trimmed[-1] == 0:
        trimmed.pop()
    if pre is None and post is None and dev is not None:
        pre_key: Key = (0, "", 0)
    elif pre is None:
        pre_key = (2, "", 0)
    else:
        pre_key = (1,) + pre
    local_key = () if local is None else tuple((1, p, "") if isinstance(p, int) else (0, 0, p) for p in local)
    return (epoch, tuple(trimmed), pre_key, -1 if post is None else post,
            float("inf") if dev is None else dev, local_key)


# --- specifiers ----------------------------------------------------------------------


def _split_clause(clause: str) -> Tuple[str, str]:
    for op in _OPERATORS:
        if clause.startswith(op):
            version = clause[len(op):].strip()
            if version and not any(c.isspace() for c in version):
                return op, version
            break
    raise ValueError("bad version specifier %r" % clause)


def _release_of(text: str, op: str) -> Version:
    """The version of a ``==V.*`` / ``!=V.*`` clause: an epoch and a release only."""
    version = Version(text)
    if version.pre is not None or version.post is not None or version.dev is not None or version.local is not None:
        raise ValueError("bad version specifier %r: a prefix match takes a release only" % (op + text + ".*"))
    return version


def _clause_matcher(clause: str) -> Callable[[str], bool]:
    """A function ``installed version text -> bool`` for one clause (ValueError if bad)."""
    op, text = _split_clause(clause)
    if op == "===":
        return lambda installed: installed.lower() == text.lower()
    try:
        if op in ("==", "!=") and text.endswith(".*"):
            base = _release_of(text[:-2], op)
            low = Version.of(base.epoch, base.release, dev=0).key
            high = Version.of(base.epoch, base.release[:-1] + (base.release[-1] + 1,), dev=0).key
            if op == "==":
                return _on_key(lambda key: low <= key < high)
            return _on_key(lambda key: not low <= key < high)
        spec = Version(text)
    except InvalidVersion:
        raise ValueError("bad version specifier %r" % clause) from None
    if spec.local is not None and op not in ("==", "!="):
        raise ValueError("bad version specifier %r: a local version only with == or !=" % clause)
    if op in ("==", "!="):
        on = _on_key if spec.local is not None else _on_public_key
        if op == "==":
            return on(lambda key: key == spec.key)
        return on(lambda key: key != spec.key)
    if op == ">=":
        return _on_key(lambda key: key >= spec.key)
    if op == "<=":
        return _on_public_key(lambda key: key <= spec.key)
    if op == "~=":
        if len(spec.release) < 2:
            raise ValueError("bad version specifier %r: ~= needs at least two release numbers" % clause)
        prefix = spec.release[:-1]
        high = Version.of(spec.epoch, prefix[:-1] + (prefix[-1] + 1,), dev=0).key
        return _on_key(lambda key: spec.key <= key < high)
    if op == "<":
        # <V excludes V's own pre-releases unless V is one: below V.dev0.
        bound = spec.key if spec.is_prerelease else Version.of(spec.epoch, spec.release, post=spec.post, dev=0).key
        return _on_key(lambda key: key < bound)
    # >V excludes V's post-releases and local versions unless V is a post or dev release.
    if spec.dev is not None:
        bound = Version.of(spec.epoch, spec.release, spec.pre, spec.post, spec.dev + 1).key
        return _on_key(lambda key: key >= bound)
    if spec.post is not None:
        bound = Version.of(spec.epoch, spec.release, spec.pre, spec.post + 1, 0).key
        return _on_key(lambda key: key >= bound)
    family = spec.key[:3]
    return _on_key(lambda key: key > spec.key and key[:3] != family)


def _on_key(test: Callable[[Key], bool]) -> Callable[[str], bool]:
    def matches(installed: str) -> bool:
        version = _installed(installed)
        return version is not None and test(version.key)

    return matches


def _on_public_key(test: Callable[[Key], bool]) -> Callable[[str], bool]:
    def matches(installed: str) -> bool:
        version = _installed(installed)
        return version is not None and test(version.public_key())

    return matches


_versions: Dict[str, Optional[Version]] = {}


def _installed(text: str) -> Optional[Version]:
    """The parsed installed version, None when it is not PEP 440 (it then matches no
    clause but ``===``)."""
    if text not in _versions:
        try:
            _versions[text] = Version(text)
        except InvalidVersion:
            _versions[text] = None
    return _versions[text]


def specifier_matcher(specifier: str) -> Callable[[str], bool]:
    """``">= 2.2, < 4"`` -> a function ``version text -> bool``; ValueError if malformed."""
    matchers = [_clause_matcher(clause.strip()) for clause in specifier.split(",") if clause.strip()]
    return lambda version: all(match(version) for match in matchers)


def satisfies(version: str, specifier: str) -> bool:
    """Does installed ``version`` meet ``specifier`` (``>= 2.2, < 4``, ``== 2.*``)?
    Raises ValueError for a malformed specifier."""
    return specifier_matcher(specifier)(version)

"""PEP 508 requirements, as an instrumentor's ``requires`` gives them:
``redis[hiredis] >= 4; python_version < "3.12"``. A requirement whose marker is false
here does not apply; a distribution that is not installed as such (vendored, or run
from a source tree) is trusted to be what the import found.
"""

from __future__ import annotations

from .versions import satisfies, specifier_matcher

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, Optional, Tuple

__all__ = ["Requirement", "parse_requirement", "requirement_problem"]

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def split_marker(requirement: str) -> Tuple[str, Optional[str]]:
    """``("redis >= 4", 'python_version < "3.12"')`` from a requirement; the marker is
    None when there is none. In a URL requirement (``name @ url``) the ``;`` that starts
    the marker must follow whitespace, since a URL may contain one."""
    url = "@" in requirement.split(";", 1)[0]
    quote = None
    for i, ch in enumerate(requirement):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == ";" and (not url or (i and requirement[i - 1].isspace())):
            marker = requirement[i + 1:].strip()
            if not marker:
                raise ValueError("bad requirement %r: nothing after ';'" % requirement)
            return requirement[:i], marker
    return requirement, None


class Requirement:
    """``name[extras] specifier ; marker``, as an instrumentor's ``requires`` gives it."""

    __slots__ = ("name", "extras", "specifier", "marker", "text")

    def __init__(self, name: str, extras: Tuple[str, ...], specifier: str, marker: Optional[str], text: str) -> None:
        self.name, self.extras, self.specifier, self.marker, self.text = name, extras, specifier, marker, text

    def applies(self, environment: Optional[Dict[str, str]] = None) -> bool:
        """Does this requirement apply here (no marker, or its marker is true)?"""
        if self.marker is None:
            return True
        from .markers import evaluate_marker  # only for a requirement that has a marker

        return evaluate_marker(self.marker, environment)

    def __repr__(self) -> str:
        return "Requirement(%r)" % self.text


def parse_requirement(text: str) -> Requirement:
    """Parse a PEP 508 requirement (``redis[hiredis] >= 4; python_version < "3.12"``).
    A URL requirement (``name @ url``) has no specifier. ValueError if malformed."""
    body, marker = split_marker(text)
    s = body.strip()
    i = 0
    while i < len(s) and s[i] in _NAME_CHARS:
        i += 1
    name = s[:i]
    if not name or not name[0].isalnum() or not name[-1].isalnum():
        raise ValueError("bad requirement %r: expected a distribution name first" % text)
    rest = s[i:].strip()
    extras: Tuple[str, ...] = ()
    if rest.startswith("["):
        end = rest.find("]")
        if end == -1:
            raise ValueError("bad requirement %r: unclosed [" % text)
        items = [e.strip() for e in rest[1:end].split(",")]
        if items == [""]:
            items = []
        if any(not e or not set(e) <= _NAME_CHARS or not e[0].isalnum() or not e[-1].isalnum() for e in items):
            raise ValueError("bad requirement %r: bad extras" % text)
        extras = tuple(items)
        rest = rest[end + 1:].strip()
    if rest.startswith("@"):
        if not rest[1:].strip():
            raise ValueError("bad requirement %r: no URL after @" % text)
        return Requirement(name, extras, "", marker, text)
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1].strip()
    if rest:
        specifier_matcher(rest)  # validates every clause
    return Requirement(name, extras, rest, marker, text)


def requirement_problem(requirement: str, version_of: Callable[[str], Optional[str]], who: str = "it") -> Optional[str]:
    """Why ``requirement`` rules the instrumentor out here, or None. ``version_of(dist)``
    gives the installed version (None: not installed as a distribution, e.g. vendored,
    then the import is trusted). ValueError for a malformed requirement."""
    parsed = parse_requirement(requirement)
    if not parsed.specifier or not parsed.applies():
        return None
    version = version_of(parsed.name)
    if version is None:
        return None
    if not satisfies(version, parsed.specifier):
        return "%s %s is installed, %s supports %s" % (parsed.name, version, who, parsed.specifier)
    return None

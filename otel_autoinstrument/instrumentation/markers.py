"""PEP 508 environment markers: ``python_version < "3.12" and sys_platform != "win32"``.

A comparison of a version variable (``python_version``, ``python_full_version``,
``implementation_version``, ``platform_release``) is a PEP 440 version comparison when
the other side makes a valid specifier with the operator (``python_version >= "3.10"``);
any other is a string comparison (``os_name == "posix"``, ``"linux" in sys_platform``),
as ``packaging`` evaluates them. ``platform`` is imported only for a marker that asks about it.
"""

from __future__ import annotations

import os
import sys

from .versions import specifier_matcher

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    Node = Tuple[Any, ...]  # ("cmp", left kind, left, op, right kind, right) or ("and"/"or", [nodes])

__all__ = ["evaluate_marker"]

# Compared as PEP 440 versions when the other side is one (the rest as strings).
_VERSION_VARIABLES = frozenset(("python_version", "python_full_version", "implementation_version", "platform_release"))
_COMPARISONS = ("===", "<=", ">=", "==", "!=", "~=", "<", ">")
_ALIASES = {"os.name": "os_name", "sys.platform": "sys_platform", "platform.version": "platform_version",
            "platform.machine": "platform_machine", "platform.python_implementation": "platform_python_implementation",
            "python_implementation": "platform_python_implementation"}


def _platform(attribute: str) -> Callable[[], str]:
    def value() -> str:
        import platform

        return str(getattr(platform, attribute)())

    return value


def _implementation_version() -> str:
    info = sys.implementation.version
    text = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        text += info.releaselevel[0] + str(info.serial)
    return text


def _python_full_version() -> str:
    import platform

    version = platform.python_version()
    return version + "local" if version.endswith("+") else version


_VARIABLES: Dict[str, Callable[[], str]] = {
    "python_version": lambda: "%d.%d" % sys.version_info[:2],
    "python_full_version": _python_full_version,
    "os_name": lambda: os.name,
    "sys_platform": lambda: sys.platform,
    "platform_release": _platform("release"),
    "platform_system": _platform("system"),
    "platform_version": _platform("version"),
    "platform_machine": _platform("machine"),
    "platform_python_implementation": _platform("python_implementation"),
    "implementation_name": lambda: sys.implementation.name,
    "implementation_version": _implementation_version,
    "extra": lambda: "",
}


# --- parsing ---------------------------------------------------------------------------


def _tokens(text: str) -> List[Tuple[str, str]]:
    """[(kind, value)]: kinds ``str`` (a quoted string), ``var``, ``op``, ``(``, ``)``,
    ``and``, ``or``."""
    out: List[Tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            end = text.find(ch, i + 1)
            if end == -1:
                raise ValueError("bad marker %r: unclosed quote" % text)
            out.append(("str", text[i + 1:end]))
            i = end + 1
        elif ch in "()":
            out.append((ch, ch))
            i += 1
        elif ch in "<>=!~":
            op = next((o for o in _COMPARISONS if text.startswith(o, i)), None)
            if op is None:
                raise ValueError("bad marker %r: unknown operator at %r" % (text, text[i:]))
            out.append(("op", op))
            i += len(op)
        else:
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] in "._"):
                j += 1
            word = text[i:j]
            if not word:
                raise ValueError("bad marker %r: unexpected %r" % (text, ch))
            if word == "not":
                rest = text[j:].lstrip()
                if not rest.startswith("in") or (len(rest) > 2 and (rest[2].isalnum() or rest[2] == "_")):
                    raise ValueError("bad marker %r: 'not' without 'in'" % text)
                out.append(("op", "not in"))
                j = len(text) - len(rest) + 2
            elif word in ("in",):
                out.append(("op", "in"))
            elif word in ("and", "or"):
                out.append((word, word))
            elif _ALIASES.get(word, word) in _VARIABLES:
                out.append(("var", _ALIASES.get(word, word)))
            else:
                raise ValueError("bad marker %r: unknown variable %r" % (text, word))
            i = j
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> Optional[str]:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def take(self, kind: str) -> str:
        if self.peek() != kind:
            raise ValueError("bad marker %r: expected %s" % (self.text, kind))
        self.at += 1
        return self.tokens[self.at - 1][1]

    def either(self, joiner: str, inner: Callable[[], Node]) -> Node:
        items = [inner()]
        while self.peek() == joiner:
            self.at += 1
            items.append(inner())
        return items[0] if len(items) == 1 else (joiner, items)

    def marker(self) -> Node:
        return self.either("or", lambda: self.either("and", self.atom))

    def atom(self) -> Node:
        if self.peek() == "(":
            self.at += 1
            node = self.marker()
            self.take(")")
            return node
        left_kind = self.peek()
        left = self.take(left_kind) if left_kind in ("var", "str") else self.take("var")
        op = self.take("op")
        right_kind = self.peek()
        right = self.take(right_kind) if right_kind in ("var", "str") else self.take("str")
        return ("cmp", left_kind or "", left, op, right_kind or "", right)


_parsed: Dict[str, Node] = {}


def evaluate_marker(marker: str, environment: Optional[Dict[str, str]] = None) -> bool:
    """Is ``marker`` true in this Python (values in ``environment`` take precedence)?
    ValueError if it is malformed or compares in a way PEP 508 leaves undefined."""
    node = _parsed.get(marker)
    if node is None:
        parser = _Parser(marker)
        node = parser.marker()
        if parser.at != len(parser.tokens):
            raise ValueError("bad marker %r: unexpected %r" % (marker, parser.tokens[parser.at][1]))
        _parsed[marker] = node
    return _evaluate(node, environment or {})


def _evaluate(node: Node, environment: Dict[str, str]) -> bool:
    if node[0] == "and":
        return all(_evaluate(n, environment) for n in node[1])
    if node[0] == "or":
        return any(_evaluate(n, environment) for n in node[1])
    _, left_kind, left, op, right_kind, right = node
    variable = left if left_kind == "var" else right
    lhs = _value(left, environment) if left_kind == "var" else left
    rhs = _value(right, environment) if right_kind == "var" else right
    if variable == "extra":
        lhs, rhs = _canonical_name(lhs), _canonical_name(rhs)
    return _compare(lhs, op, rhs, variable in _VERSION_VARIABLES)


def _value(variable: str, environment: Dict[str, str]) -> str:
    if variable in environment:
        return environment[variable]
    return _VARIABLES[variable]()


def _canonical_name(name: str) -> str:
    """PEP 503: lower case, each run of ``-_.`` one ``-``."""
    for separator in "_.":
        name = name.replace(separator, "-")
    return "-".join(part for part in name.lower().split("-") if part)


def _compare(lhs: str, op: str, rhs: str, versions: bool) -> bool:
    if versions and op not in ("in", "not in"):
        try:
            matches = specifier_matcher(op + rhs)
        except ValueError:
            pass
        else:
            return matches(lhs)
    if op == "in":
        return lhs in rhs
    if op == "not in":
        return lhs not in rhs
    strings = {"==": lhs == rhs, "!=": lhs != rhs, "<": lhs < rhs, "<=": lhs <= rhs, ">": lhs > rhs, ">=": lhs >= rhs}
    if op not in strings:
        raise ValueError("%r %s %r: undefined comparison (not versions)" % (lhs, op, rhs))
    return strings[op]

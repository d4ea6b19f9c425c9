"""The README's generated tables: every OTEL_* variable (from ``config.VARIABLES``) and the
built-in instrumentors (from the entry points and their ``requires``).

    python tools/readme_tables.py            # print both tables
    python tools/readme_tables.py --write    # rewrite them in README.md, between markers
    python tools/readme_tables.py --check    # exit 1 if README.md is out of date

A test runs the check, so the README cannot drift from the code.
"""

import os
import sys

from otel_autoinstrument import config

CONFIG_MARKERS = ("<!-- config-table:start -->", "<!-- config-table:end -->")
INSTRUMENTOR_MARKERS = ("<!-- instrumentors-table:start -->", "<!-- instrumentors-table:end -->")
DISTRIBUTION = "otel-autoinstrument"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default(value):
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, (list, tuple)):
        return "`%s`" % ",".join(value) if value else "(empty)"
    if isinstance(value, dict):
        return "`%s`" % ",".join("%s=%s" % kv for kv in value.items()) if value else "(empty)"
    if value == "":
        return "(empty)"
    return "`%s`" % value


def config_table():
    lines = ["| Variable | Default | What it does |", "|---|---|---|"]
    for var in config.VARIABLES:
        lines.append("| `%s` | %s | %s |" % (var.name, _cell(_default(var.default)), _cell(var.doc)))
    return "\n".join(lines)


def builtin_instrumentors():
    """(name, requires, modules, summary) of the instrumentors this distribution registers."""
    from otel_autoinstrument.agent.discovery import Installed

    rows = []
    for entry_point in Installed().entry_points:
        if entry_point.distribution != DISTRIBUTION:
            continue
        cls = entry_point.load()
        module = sys.modules.get(cls.__module__)
        summary = ((module.__doc__ if module else "") or "").strip().split("\n\n")[0]
        rows.append((entry_point.name, tuple(cls.requires), tuple(cls.modules), " ".join(summary.split())))
    return sorted(rows)


def instrumentors_table():
    lines = ["| Name | Supported versions | Patched when imported | What it records |", "|---|---|---|---|"]
    for name, requires, modules, summary in builtin_instrumentors():
        lines.append("| `%s` | %s | %s | %s |" % (
            name, _cell(", ".join(requires) or "standard library"),
            ", ".join("`%s`" % m for m in modules), _cell(summary)))
    return "\n".join(lines)


def tables():
    return ((CONFIG_MARKERS, config_table()), (INSTRUMENTOR_MARKERS, instrumentors_table()))


def between(text, markers):
    """The text between two marker lines, or None when the markers are missing."""
    start, end = markers
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def replace_between(text, markers, body):
    start, end = markers
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    return "%s%s\n%s\n%s%s" % (head, start, body, end, tail)


def readme_path():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        for _, body in tables():
            print(body + "\n")
        return 0
    path = readme_path()
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    stale = [markers[0] for markers, body in tables() if between(text, markers) != body]
    if argv[0] == "--check":
        for marker in stale:
            sys.stderr.write("%s: the table after %s is out of date; run python "
                             "tools/readme_tables.py --write\n" % (path, marker))
        return 1 if stale else 0
    if argv[0] == "--write":
        for markers, body in tables():
            text = replace_between(text, markers, body)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return 0
    sys.stderr.write("usage: python tools/readme_tables.py [--check | --write]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())

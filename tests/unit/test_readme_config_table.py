"""The README's tables are generated from the code and must not drift from it.

Fix a failure with `python tools/readme_tables.py --write`.
"""

import re
import sys
from pathlib import Path

from otel_autoinstrument import config

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT / "tools"))
import readme_tables as docs  # noqa: E402  (the generator lives outside the runtime package)


def readme_section(markers):
    body = docs.between(README.read_text(encoding="utf-8"), markers)
    assert body is not None, "README.md lacks the markers %s" % (markers,)
    return body


def test_every_variable_the_config_reads_is_in_the_readme_and_nothing_else():
    section = readme_section(docs.CONFIG_MARKERS)
    in_readme = re.findall(r"^\| `(OTEL_[A-Z0-9_]+)` \|", section, re.MULTILINE)
    in_config = [var.name for var in config.VARIABLES]
    missing = sorted(set(in_config) - set(in_readme))
    extra = sorted(set(in_readme) - set(in_config))
    assert not missing, "read by config.py but missing from the README table: %s" % missing
    assert not extra, "in the README table but not read by config.py: %s" % extra
    assert len(in_readme) == len(set(in_readme)), "a variable is listed twice"


def test_config_table_is_exactly_the_generated_one():
    # Defaults and meanings too, not only the names.
    assert readme_section(docs.CONFIG_MARKERS) == docs.config_table()


def test_builtin_instrumentors_table_is_exactly_the_generated_one():
    table = readme_section(docs.INSTRUMENTOR_MARKERS)
    assert table == docs.instrumentors_table()
    names = re.findall(r"^\| `([a-z0-9_-]+)` \|", table, re.MULTILINE)
    assert names == [row[0] for row in docs.builtin_instrumentors()]

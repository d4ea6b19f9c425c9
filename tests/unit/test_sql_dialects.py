"""SQL sanitizing per dialect: what is a literal depends on the database (a backslash
escapes a quote only in MySQL and MariaDB, where double quotes make strings and '#'
starts a comment), and a statement of an unknown dialect never leaks a literal under
either reading. Database spans are described by their own dialect."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_autoinstrument.instrumentation.db import DbSpans
from otel_autoinstrument.redaction.sql import SANITIZE_MAX_LEN, dialect_family, sanitize_sql, summarize_sql
from otel_autoinstrument.testing import InMemoryAgent

WINDOWS_PATH = r"SELECT * FROM files WHERE path = 'C:\data\' AND owner_key = 'sk_live_SECRET'"
MYSQL_ESCAPES = "SELECT * FROM t WHERE a = 'it\\'s sk_live_SECRET' AND b = \"dq SECRET2\" # note SECRET3\nLIMIT 1"

# (dialect, statement, sanitized, literals that must not survive)
CASES = [
    ("sqlite", WINDOWS_PATH, "SELECT * FROM files WHERE path = ? AND owner_key = ?", ["data", "SECRET"]),
    ("postgresql", WINDOWS_PATH, "SELECT * FROM files WHERE path = ? AND owner_key = ?", ["data", "SECRET"]),
    ("mssql", WINDOWS_PATH, "SELECT * FROM files WHERE path = ? AND owner_key = ?", ["data", "SECRET"]),
    ("mysql", MYSQL_ESCAPES, "SELECT * FROM t WHERE a = ? AND b = ? \nLIMIT ?", ["SECRET", "note"]),
    ("mariadb", MYSQL_ESCAPES, "SELECT * FROM t WHERE a = ? AND b = ? \nLIMIT ?", ["SECRET", "note"]),
    ("mysql+pymysql", "SELECT `order`, \"x\" FROM `t` WHERE `c` = 'it''s'", "SELECT `order`, ? FROM `t` WHERE `c` = ?",
     ["it"]),
    ("postgresql", "SELECT E'it\\'s SECRET', e'\\\\', $fn$ body SECRET2 $fn$, $$x$$ FROM t", "SELECT ?, ?, ?, ? FROM t",
     ["SECRET", "body"]),
    ("postgresql", "SELECT a # b, \"quoted\" FROM t -- c", "SELECT a # b, \"quoted\" FROM t", []),
    ("sqlite", "SELECT \"name\", `k`, [v] FROM t WHERE x = 'a\\' AND y = 'b'", "SELECT \"name\", `k`, [v] FROM t WHERE x = ? AND y = ?",
     []),
    # No dialect (or an unknown one): where MySQL and standard SQL read a string
    # differently, the rest of the statement is masked.
    (None, WINDOWS_PATH, "SELECT * FROM files WHERE path = ?", ["data", "SECRET"]),
    (None, MYSQL_ESCAPES, "SELECT * FROM t WHERE a = ?", ["SECRET", "note"]),
    ("duckdb", "SELECT 'a\\\\', 'b' FROM t", "SELECT ?, ? FROM t", []),
    (None, "SELECT 'plain', 'C:\\data' FROM t", "SELECT ?, ? FROM t", ["plain", "data"]),
]


@pytest.mark.parametrize("dialect, statement, expected, secrets", CASES)
def test_sanitize_per_dialect(dialect, statement, expected, secrets):
    out = sanitize_sql(statement, dialect)
    assert out == expected
    for secret in secrets:
        assert secret not in out


@pytest.mark.parametrize("name, family", [
    ("sqlite", "standard"), ("postgresql", "standard"), ("postgres", "standard"), ("microsoft.sql_server", "standard"),
    ("oracle.db", "standard"), ("mysql", "mysql"), ("MySQL", "mysql"), ("mariadb", "mysql"),
    ("mysql+mysqldb", "mysql"), ("other_sql", "default"), ("duckdb", "default"), ("", "default"), (None, "default"),
])
def test_dialect_families(name, family):
    assert dialect_family(name) == family


def test_the_summary_follows_the_dialect():
    assert summarize_sql("SELECT * FROM t # JOIN u", "mysql") == ("SELECT", "t")
    assert summarize_sql("SELECT * FROM t # JOIN u", "postgresql") == ("SELECT", None)  # '#' is XOR there
    assert summarize_sql('SELECT "x" FROM "users"', "sqlite") == ("SELECT", "users")


def test_a_long_statement_is_sanitized_by_its_head():
    statement = "INSERT INTO t VALUES " + ", ".join("(%d, 'secret-%d')" % (i, i) for i in range(20000))
    out = sanitize_sql(statement, "sqlite")
    assert out.startswith("INSERT INTO t VALUES (?, ?), (?, ?)") and len(out) <= SANITIZE_MAX_LEN
    assert "secret" not in out and "1" not in out
    # Cut inside a literal: it is still a literal.
    cut = "SELECT '" + "x" * SANITIZE_MAX_LEN + "' AS tail, 'tail-secret'"
    assert sanitize_sql(cut, "sqlite") == "SELECT ?"


def test_database_spans_are_described_by_their_dialect():
    with InMemoryAgent() as memory:
        spans = DbSpans(memory.tracer(), memory.settings)
        for system in ("sqlite", "mysql", "sqlite", "mysql"):
            spans.start(spans.target(system), WINDOWS_PATH + " # trailing").end()
    sqlite_text, mysql_text = [s.attributes["db.query.text"] for s in memory.spans[:2]]
    assert sqlite_text == "SELECT * FROM files WHERE path = ? AND owner_key = ? # trailing"
    assert mysql_text == "SELECT * FROM files WHERE path = ?sk_live_SECRET?"  # MySQL's own reading
    assert [s.attributes["db.query.text"] for s in memory.spans[2:]] == [sqlite_text, mysql_text]  # cached per dialect
    assert [s.name for s in memory.spans] == ["SELECT files"] * 4


# --- properties: a value quoted the way a dialect quotes it never survives -----------------

def standard_quote(value):
    return "'" + value.replace("'", "''") + "'"


def mysql_quote(value, quote="'"):
    return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


TEMPLATE = ("SELECT * FROM users WHERE name = {} AND id = ?", "SELECT * FROM users WHERE name = ? AND id = ?")
values = st.text(min_size=1).filter(lambda v: v.strip() and v not in TEMPLATE[1])


@settings(max_examples=200, deadline=None)
@given(value=values, dialect=st.sampled_from(["sqlite", "postgresql", "mssql"]))
def test_standard_strings_never_survive(value, dialect):
    assert sanitize_sql(TEMPLATE[0].format(standard_quote(value)), dialect) == TEMPLATE[1]


@settings(max_examples=200, deadline=None)
@given(value=values, quote=st.sampled_from(["'", '"']))
def test_mysql_strings_never_survive(value, quote):
    assert sanitize_sql(TEMPLATE[0].format(mysql_quote(value, quote)), "mysql") == TEMPLATE[1]


@settings(max_examples=300, deadline=None)
@given(value=values, quoting=st.sampled_from([standard_quote, mysql_quote]))
def test_without_a_dialect_neither_quoting_leaks(value, quoting):
    statement = TEMPLATE[0].format(quoting(value)) + " AND secret_col = 'Tail5ecret'"
    out = sanitize_sql(statement)
    assert out.startswith("SELECT * FROM users WHERE name = ?")
    assert "Tail5ecret" not in out
    assert value not in out or value in statement.replace(quoting(value), "")

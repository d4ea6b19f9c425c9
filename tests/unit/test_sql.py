"""Tests for the SQL sanitizer and summariser (otel_autoinstrument.redaction.sql)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_autoinstrument.redaction.sql import (
    db_system_name,
    sanitize_sql,
    span_name_for,
    summarize_sql,
    truncate,
)

# (statement, exact sanitized text, literal values that must not survive)
SANITIZE_CASES = [
    # strings
    ("SELECT * FROM users WHERE name = 'alice'",
     "SELECT * FROM users WHERE name = ?", ["alice"]),
    ("SELECT * FROM users WHERE name = 'it''s mine'",
     "SELECT * FROM users WHERE name = ?", ["it", "mine"]),
    ("SELECT * FROM users WHERE name = 'it\\'s mine'",
     "SELECT * FROM users WHERE name = ?", ["it", "mine"]),
    ("SELECT * FROM t WHERE a = 'x -- not a comment' AND b = 'y /* nor this */'",
     "SELECT * FROM t WHERE a = ? AND b = ?", ["not a comment", "nor this"]),
    ("SELECT * FROM t WHERE note = 'say \"hi\"' AND id = 1",
     "SELECT * FROM t WHERE note = ? AND id = ?", ["say", "hi"]),
    ("SELECT * FROM t WHERE a = '' AND b = ''''",
     "SELECT * FROM t WHERE a = ? AND b = ?", []),
    ("SELECT E'tab\\there', N'unicode', e'x\\'y' FROM t",
     "SELECT ?, ?, ? FROM t", ["tab", "unicode", "x\\'y"]),
    ("SELECT * FROM events WHERE day = DATE '2024-01-31'",
     "SELECT * FROM events WHERE day = DATE ?", ["2024", "01-31"]),
    ("SELECT * FROM t WHERE password = 'unterminated secret",
     "SELECT * FROM t WHERE password = ?", ["unterminated", "secret"]),
    # comments carrying secrets
    ("SELECT id FROM users -- password=hunter2\nWHERE id = 7",
     "SELECT id FROM users \nWHERE id = ?", ["hunter2", "password"]),
    ("/* api_key=AKIAXXXX */ SELECT 1",
     "SELECT ?", ["AKIAXXXX", "api_key"]),
    ("SELECT /* token='abc' */ name FROM users",
     "SELECT name FROM users", ["token", "abc"]),
    ("SELECT name/*secret*/FROM users",
     "SELECT name FROM users", ["secret"]),
    ("SELECT 1 /* unterminated comment with s3cr3t",
     "SELECT ?", ["s3cr3t"]),
    ("SELECT a -- it's a comment with a quote\nFROM t WHERE b = 'x'",
     "SELECT a \nFROM t WHERE b = ?", ["it's", "quote"]),
    # numbers
    ("SELECT * FROM t WHERE x = -5 AND y = a-5 AND z = 10 - 3",
     "SELECT * FROM t WHERE x = ? AND y = a-? AND z = ? - ?", []),
    ("SELECT * FROM t WHERE x IN (-1) AND y = (-2.5) AND z > -7",
     "SELECT * FROM t WHERE x IN (?) AND y = (?) AND z > ?", ["2.5", "7"]),
    ("SELECT 3.14159, 1e10, 2.5E-3, .5, 6.02e+23, 42. FROM dual",
     "SELECT ?, ?, ?, ?, ?, ? FROM dual", ["3.14159", "1e10", "2.5E", "6.02", "42"]),
    ("SELECT * FROM t WHERE flags = 0xFF AND mask = X'0fA9' AND bits = b'0101'",
     "SELECT * FROM t WHERE flags = ? AND mask = ? AND bits = ?", ["0xFF", "0fA9", "0101"]),
    ("SELECT * FROM t LIMIT 10 OFFSET 5",
     "SELECT * FROM t LIMIT ? OFFSET ?", ["10"]),
    ("SELECT * FROM t LIMIT 20, 40",
     "SELECT * FROM t LIMIT ?, ?", ["20", "40"]),
    ("SELECT x * 1024 + 7 / 2 FROM t",
     "SELECT x * ? + ? / ? FROM t", ["1024"]),
    # booleans
    ("UPDATE users SET active = TRUE, banned = false WHERE verified = True",
     "UPDATE users SET active = ?, banned = ? WHERE verified = ?", []),
    ("SELECT is_true, true_count, t.false FROM t WHERE falsehood = 1",
     "SELECT is_true, true_count, t.false FROM t WHERE falsehood = ?", []),
    # IN lists
    ("SELECT * FROM t WHERE id IN (1, 2, 3)",
     "SELECT * FROM t WHERE id IN (?)", ["1, 2"]),
    ("SELECT * FROM t WHERE code in ('a','b' , 'c')",
     "SELECT * FROM t WHERE code in (?)", ["'a'"]),
    ("SELECT * FROM t WHERE id NOT IN(42,-43)",
     "SELECT * FROM t WHERE id NOT IN(?)", ["42", "43"]),
    ("SELECT * FROM t WHERE id IN (?, ?, ?) AND c IN (%s, %s)",
     "SELECT * FROM t WHERE id IN (?, ?, ?) AND c IN (%s, %s)", []),
    ("SELECT * FROM t WHERE id IN (1, ?)",
     "SELECT * FROM t WHERE id IN (?, ?)", []),
    # identifiers that look like numbers, quoted identifiers
    ("SELECT t1.c2, col_3, table1.x9y FROM table1 t1 JOIN t2 ON t1.id = t2.id",
     "SELECT t1.c2, col_3, table1.x9y FROM table1 t1 JOIN t2 ON t1.id = t2.id", []),
    ('SELECT "user 1", "it\'s", "a--b", "x/*y*/", "true" FROM "table 2"',
     'SELECT "user 1", "it\'s", "a--b", "x/*y*/", "true" FROM "table 2"', []),
    ("SELECT `x1`, `order 2` FROM `db`.`t 3` WHERE `x1` = 5",
     "SELECT `x1`, `order 2` FROM `db`.`t 3` WHERE `x1` = ?", []),
    ('SELECT "auth_user"."id", "auth_user"."password" FROM "auth_user" '
     'WHERE "auth_user"."username" = \'admin\' LIMIT 21',
     'SELECT "auth_user"."id", "auth_user"."password" FROM "auth_user" '
     'WHERE "auth_user"."username" = ? LIMIT ?', ["admin", "21"]),
    ("SELECT 1abc, 2_col FROM t",
     "SELECT 1abc, 2_col FROM t", []),
    # bind placeholders of every paramstyle
    ("SELECT * FROM t WHERE a = ? AND b = ?1 AND c = ?2",
     "SELECT * FROM t WHERE a = ? AND b = ?1 AND c = ?2", []),
    ("SELECT * FROM t WHERE a = %s AND b = %(name)s AND c = %(p1)s AND d = %(true)s",
     "SELECT * FROM t WHERE a = %s AND b = %(name)s AND c = %(p1)s AND d = %(true)s", []),
    ("SELECT * FROM t WHERE a = :name AND b = :1 AND c = :2 AND d = :true",
     "SELECT * FROM t WHERE a = :name AND b = :1 AND c = :2 AND d = :true", []),
    ("SELECT * FROM t WHERE a = $1 AND b = $2 AND c = @p1 AND d = @P2",
     "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = @p1 AND d = @P2", []),
    # PostgreSQL dollar quotes and casts
    ("SELECT $$it's a $secret$$, $fn$ body with 'quotes' $$ $fn$ FROM t",
     "SELECT ?, ? FROM t", ["secret", "body", "quotes"]),
    ("SELECT '1'::int, '{1,2}'::int[], x::numeric(10, 2) FROM t",
     "SELECT ?::int, ?::int[], x::numeric(?, ?) FROM t", ["{1,2}"]),
    ("SELECT arr[1:2], arr[3] FROM t",
     "SELECT arr[?:?], arr[?] FROM t", []),
    ("SELECT * FROM t WHERE ts > NOW() - INTERVAL '7 days'",
     "SELECT * FROM t WHERE ts > NOW() - INTERVAL ?", ["7 days"]),
    # INSERT multi-row, multi-line statements
    ("INSERT INTO users (name, age, email) VALUES ('bob', 33, 'bob@x.io'), ('eve', 41, NULL)",
     "INSERT INTO users (name, age, email) VALUES (?, ?, ?), (?, ?, NULL)",
     ["bob", "33", "eve", "41"]),
    ("SELECT id,\n       name\n  FROM users\n WHERE email = 'a@b.c'\n   AND age >= 18\n ORDER BY id",
     "SELECT id,\n       name\n  FROM users\n WHERE email = ?\n   AND age >= ?\n ORDER BY id",
     ["a@b.c", "18"]),
    ("  \n SELECT 1 ; ", "SELECT ? ;", []),
    ("UPDATE accounts SET balance = balance - 100.50, pin = '1234' WHERE id = 9",
     "UPDATE accounts SET balance = balance - ?, pin = ? WHERE id = ?",
     ["100.50", "1234"]),
    ("CREATE TABLE t1 (id INTEGER PRIMARY KEY, name VARCHAR(255) DEFAULT 'anon')",
     "CREATE TABLE t1 (id INTEGER PRIMARY KEY, name VARCHAR(?) DEFAULT ?)", ["anon", "255"]),
    ("PRAGMA table_info(users)", "PRAGMA table_info(users)", []),
    ("", "", []),
]


@pytest.mark.parametrize("statement, expected, secrets", SANITIZE_CASES)
def test_sanitize_exact(statement, expected, secrets):
    assert sanitize_sql(statement) == expected


@pytest.mark.parametrize("statement, expected, secrets", SANITIZE_CASES)
def test_sanitize_leaves_no_literal(statement, expected, secrets):
    out = sanitize_sql(statement)
    for secret in secrets:
        assert secret not in out


def test_sanitize_table_is_big_enough():
    assert len(SANITIZE_CASES) >= 40


def test_sanitize_is_stable_and_cached():
    statement = "SELECT * FROM t WHERE id = 42"
    assert sanitize_sql(statement) is sanitize_sql(statement)
    assert sanitize_sql(sanitize_sql(statement)) == sanitize_sql(statement)


def test_sanitize_long_statement_bypasses_cache():
    statement = "INSERT INTO t VALUES " + ", ".join("(%d, 'v%d')" % (i, i) for i in range(2000))
    out = sanitize_sql(statement)
    assert out == "INSERT INTO t VALUES " + ", ".join(["(?, ?)"] * 2000)


def test_sanitize_non_str():
    assert sanitize_sql(b"SELECT 'x'") == "SELECT ?"


# (statement, operation, collection)
SUMMARY_CASES = [
    ("SELECT * FROM users", "SELECT", "users"),
    ("select id from users where id = 1", "SELECT", "users"),
    ("SELECT u.id FROM users u WHERE u.id = ?", "SELECT", "users"),
    ("SELECT u.id FROM users AS u ORDER BY a, b", "SELECT", "users"),
    ('SELECT "auth_user"."id" FROM "auth_user" WHERE "auth_user"."id" = %s', "SELECT", "auth_user"),
    ('SELECT * FROM "public"."users"', "SELECT", "public.users"),
    ("SELECT * FROM `shop`.`orders` LIMIT 1, 2", "SELECT", "shop.orders"),
    ("SELECT * FROM [dbo].[Users]", "SELECT", "dbo.Users"),
    ("SELECT * FROM MySchema.MyTable", "SELECT", "MySchema.MyTable"),
    ("SELECT EXTRACT(YEAR FROM created), valid_from FROM events", "SELECT", "events"),
    ("SELECT * FROM a JOIN b ON a.id = b.a_id", "SELECT", None),
    ("SELECT * FROM a LEFT OUTER JOIN b USING (id)", "SELECT", None),
    ("SELECT * FROM a, b WHERE a.id = b.id", "SELECT", None),
    ("SELECT * FROM a x, b y", "SELECT", None),
    ("SELECT * FROM (SELECT 1) AS sub", "SELECT", None),
    ("SELECT * FROM users WHERE id IN (SELECT user_id FROM orders)", "SELECT", None),
    ("SELECT a FROM t1 UNION SELECT a FROM t2", "SELECT", None),
    ("SELECT * FROM generate_series(1, 10)", "SELECT", None),
    ("SELECT 1", "SELECT", None),
    ("SELECT now()", "SELECT", None),
    ("SELECT * FROM users; DELETE FROM users", "SELECT", None),
    ("INSERT INTO users (a, b) VALUES (1, 2)", "INSERT", "users"),
    ("insert into users values (?, ?)", "INSERT", "users"),
    ("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", "INSERT", "kv"),
    ("INSERT IGNORE INTO `logs` SET a = 1", "INSERT", "logs"),
    ("INSERT INTO archive SELECT * FROM users", "INSERT", None),
    ("REPLACE INTO kv VALUES (1, 2)", "REPLACE", "kv"),
    ("UPDATE users SET name = 'x' WHERE id = 1", "UPDATE", "users"),
    ("UPDATE users u SET name = ? FROM orders o WHERE o.uid = u.id", "UPDATE", None),
    ("UPDATE users SET n = (SELECT count(*) FROM orders)", "UPDATE", None),
    ("DELETE FROM users WHERE id = 1", "DELETE", "users"),
    ("DELETE FROM users USING orders WHERE users.id = orders.uid", "DELETE", None),
    ("CREATE TABLE users (id INT)", "CREATE", "users"),
    ("CREATE TABLE IF NOT EXISTS users (id INT)", "CREATE", "users"),
    ("create temporary table if not exists tmp_x (id int)", "CREATE", "tmp_x"),
    ("CREATE INDEX ix ON users (name)", "CREATE", None),
    ("CREATE TABLE copy AS SELECT * FROM users", "CREATE", None),
    ("DROP TABLE users", "DROP", "users"),
    ("DROP TABLE IF EXISTS public.users", "DROP", "public.users"),
    ("DROP TABLE a, b", "DROP", None),
    ("ALTER TABLE users ADD COLUMN age INT", "ALTER", "users"),
    ("TRUNCATE TABLE users", "TRUNCATE", "users"),
    ("COPY users (name, age) FROM STDIN", "COPY", "users"),
    ("COPY (SELECT name FROM users) TO STDOUT", "COPY", None),
    ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH", None),
    ("BEGIN", "BEGIN", None),
    ("commit", "COMMIT", None),
    ("ROLLBACK TO SAVEPOINT sp1", "ROLLBACK", None),
    ("SAVEPOINT sa_savepoint_1", "SAVEPOINT", None),
    ("RELEASE SAVEPOINT sa_savepoint_1", "RELEASE", None),
    ("PRAGMA foreign_keys = ON", "PRAGMA", None),
    ("SET search_path TO app", "SET", None),
    ("SHOW TABLES", "SHOW", None),
    ("CALL do_things(1)", "CALL", None),
    ("EXEC sp_who", "EXEC", None),
    ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "MERGE", None),
    ("-- leading comment\n/* and another */  SELECT * FROM users", "SELECT", "users"),
    ("EXPLAIN SELECT * FROM users", None, None),
    ("VACUUM", None, None),
    ("(SELECT 1)", None, None),
    ("select1 from t", None, None),
    ("", None, None),
    ("   ", None, None),
]


@pytest.mark.parametrize("statement, operation, collection", SUMMARY_CASES)
def test_summarize(statement, operation, collection):
    assert summarize_sql(statement) == (operation, collection)


@pytest.mark.parametrize(
    "operation, collection, system, expected",
    [
        ("SELECT", "users", "sqlite", "SELECT users"),
        ("SELECT", None, "sqlite", "SELECT"),
        (None, None, "sqlite", "sqlite"),
        (None, None, "", "other_sql"),
    ],
)
def test_span_name_for(operation, collection, system, expected):
    assert span_name_for(operation, collection, system) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("sqlite", "sqlite"),
        ("postgresql", "postgresql"),
        ("postgres", "postgresql"),
        ("postgresql+psycopg2", "postgresql"),
        ("mysql", "mysql"),
        ("MySQL", "mysql"),
        ("mariadb", "mariadb"),
        ("oracle", "oracle.db"),
        ("mssql", "microsoft.sql_server"),
        ("microsoft", "microsoft.sql_server"),
        ("firebird", "firebirdsql"),
        ("duckdb", "other_sql"),
        ("", "other_sql"),
        (None, "other_sql"),
    ],
)
def test_db_system_name(name, expected):
    assert db_system_name(name) == expected


def test_truncate():
    assert truncate("abcdef", None) == "abcdef"
    assert truncate("abcdef", 10) == "abcdef"
    assert truncate("abcdef", 6) == "abcdef"
    assert truncate("abcdef", 3) == "abc"
    assert truncate("abcdef", 0) == ""


# --- properties -----------------------------------------------------------

TEMPLATES = [
    ("SELECT * FROM users WHERE name = {} AND id = ?", "SELECT * FROM users WHERE name = ? AND id = ?"),
    ("INSERT INTO t (a, b) VALUES ({}, %s)", "INSERT INTO t (a, b) VALUES (?, %s)"),
    ("UPDATE t SET a = {} -- done\nWHERE b = :b", "UPDATE t SET a = ? \nWHERE b = :b"),
    ("SELECT {}", "SELECT ?"),
]


def _quote(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _leaks(value, out, expected):
    # A value that is also part of the expected text proves nothing.
    return value in out and value not in expected


@settings(max_examples=300, deadline=None)
@given(value=st.text(min_size=1), template=st.sampled_from(TEMPLATES))
def test_quoted_literal_never_survives(value, template):
    text, expected = template
    out = sanitize_sql(text.format(_quote(value)))
    assert out == expected
    assert not _leaks(value, out, expected)


@settings(max_examples=200, deadline=None)
@given(value=st.text(min_size=1).filter(lambda v: "$$" not in v and not v.endswith("$")),
       template=st.sampled_from(TEMPLATES))
def test_dollar_quoted_literal_never_survives(value, template):
    text, expected = template
    out = sanitize_sql(text.format("$$" + value + "$$"))
    assert out == expected
    assert not _leaks(value, out, expected)


NUMBERS = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.integers(min_value=0).map(hex),
)


@settings(max_examples=300, deadline=None)
@given(value=NUMBERS, template=st.sampled_from(TEMPLATES))
def test_number_never_survives(value, template):
    text, expected = template
    out = sanitize_sql(text.format(value))
    assert out == expected
    assert not _leaks(value.lstrip("-"), out, expected)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_sanitize_and_summarize_never_raise(statement):
    assert isinstance(sanitize_sql(statement), str)
    operation, collection = summarize_sql(statement)
    assert operation is None or isinstance(operation, str)
    assert collection is None or isinstance(collection, str)

"""Literals out of database error messages.

Drivers quote the offending part of a statement in their messages: SQLite's
``unrecognized token: "'secret"``, MySQL's ``Duplicate entry 'bob@example.com' for key
'email'`` and ``near 'hunter2' at line 1``, PostgreSQL's ``Key (email)=(bob@example.com)
already exists``, ``Failing row contains (...)`` and ``LINE 1: SELECT ... 'secret'``.
``scrub_error_message`` replaces, in a message:

* every quoted text, single or double quotes (a backslash escapes the next character;
  an apostrophe between two letters, as in ``doesn't``, is no quote) with ``?``: a
  literal and an identifier cannot be told apart in a message, so identifiers go too;
  an unclosed quote runs to the end of the message;
* the parenthesised values after ``=(``, ``contains (`` and ``value is (`` (to the last
  ``)`` of the line) with ``?``;
* the statement echoed after ``LINE n:`` sanitized like ``db.query.text``.

``scrub_traceback`` does the same to the exception lines of a formatted traceback (the
lines that are not indented: a chained exception repeats the driver's message there),
leaving file names and source lines alone. ``is_database_error(type_name)`` tells, by
the module of a ``qualified_type``, whether an exception comes from a database driver
(or SQLAlchemy's or Django's wrappers of one). One pass over the text, linear in its
length.
"""

__all__ = ["scrub_error_message", "scrub_traceback", "is_database_error", "DATABASE_ERROR_MODULES"]

DATABASE_ERROR_MODULES = (
    "sqlite3.", "psycopg2.", "psycopg.", "asyncpg.", "pg8000.", "pymysql.", "MySQLdb.", "_mysql_exceptions.",
    "mysql.connector.", "mariadb.", "aiomysql.", "aiosqlite.", "cx_Oracle.", "oracledb.", "pyodbc.",
    "pymssql.", "ibm_db", "duckdb.", "snowflake.connector.", "sqlalchemy.exc.", "django.db.",
)

_OPEN_QUOTE = r"(?:(?<![A-Za-z])'|'(?![A-Za-z]))"
# Each alternative that can run long always succeeds (an unclosed quote ends at the end).
_QUOTED = (
    _OPEN_QUOTE + r"(?:[^'\\]+|\\[\s\S]|(?<=[A-Za-z])'(?=[A-Za-z]))*'?"
    r'|"(?:[^"\\]+|\\[\s\S])*"?'
)
_VALUES = r"(?:=|\bcontains |\bvalue is )\("
_quoted_re = _values_re = _echo_re = None


def is_database_error(type_name):
    """Is ``type_name`` (``module.Class``) a database driver's exception?"""
    return isinstance(type_name, str) and type_name.startswith(DATABASE_ERROR_MODULES)


def scrub_error_message(text, dialect=None):
    """``text`` (a database error message) with its literals replaced by ``?``."""
    global _quoted_re, _values_re, _echo_re
    if not isinstance(text, str):
        text = str(text)
    if "'" not in text and '"' not in text and "(" not in text and "LINE " not in text:
        return text
    if _quoted_re is None:
        import re

        _quoted_re = re.compile(_QUOTED)
        _values_re = re.compile(_VALUES)
        _echo_re = re.compile(r"(?m)^(LINE \d+: )(.*)$")
    if "LINE " in text:
        text = _echo_re.sub(lambda m: m.group(1) + _sanitized(m.group(2), dialect), text)
    if "(" in text:
        text = _values(text)
    return _quoted_re.sub("?", text)


def _values(text):
    """The parenthesised values after ``=(``, ``contains (``, ``value is (``: to the last
    ``)`` of the line (the line's end if none) become ``?``."""
    out = []
    last = 0
    for match in _values_re.finditer(text):
        begin = match.end()
        if begin <= last:
            continue
        out.append(text[last:begin])
        out.append("?")
        last = value_end(text, begin, ")")
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def value_end(text, begin, closer):
    """Where a bracketed value that starts at ``begin`` ends: at the last ``closer`` of its
    line (a value may hold the closer itself), else at the line's end."""
    line_end = text.find("\n", begin)
    if line_end == -1:
        line_end = len(text)
    close = text.rfind(closer, begin, line_end)
    return close if close != -1 else line_end


def scrub_traceback(text, dialect=None):
    """A formatted traceback with each run of non-indented lines (an exception's
    ``Type: message``, however many lines) scrubbed; frames are indented and kept."""
    if not isinstance(text, str):
        text = str(text)
    out = []
    block = []
    for line in text.split("\n"):
        if line and not line[0].isspace():
            block.append(line)
            continue
        if block:
            out.append(scrub_error_message("\n".join(block), dialect))
            block = []
        out.append(line)
    if block:
        out.append(scrub_error_message("\n".join(block), dialect))
    return "\n".join(out)


def _sanitized(statement, dialect):
    from .sql import sanitize_sql

    return sanitize_sql(statement, dialect)

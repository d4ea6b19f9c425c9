"""SQL statement summarising for database spans: the operation, the one table a
statement works on, the span name, and ``db.system.name`` values.

Works on the sanitized statement (``sql.sanitize_sql``, so no comment or literal can
trip it up); ``sql.summarize_sql`` puts the two together. Matching is anchored (``re.match`` at a known position)
or plain ``str.find`` on an upper-cased copy, each pass over the text once.
"""

__all__ = ["summarize_sanitized", "span_name_for", "db_system_name", "truncate"]

_OPERATIONS = frozenset(
    (
        "SELECT INSERT UPDATE DELETE CREATE DROP ALTER BEGIN COMMIT ROLLBACK "
        "PRAGMA WITH REPLACE MERGE TRUNCATE CALL EXEC SAVEPOINT RELEASE SHOW SET COPY"
    ).split()
)

# A possibly quoted identifier, and a name of up to three dotted parts.
_IDENT = r'(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[^\W\d][\w$]*)'
_NAME = r"(" + _IDENT + r"(?:\." + _IDENT + r"){0,2})"

# Where the single target table sits, per operation: matched right after the
# operation keyword in the upper-cased sanitized text, so no IGNORECASE
# (slow to compile and to run).
_TARGET_PATTERNS = {
    "INSERT": r"(?:\s+(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE|OR\s+\w+))*"
    r"\s+INTO\s+" + _NAME,
    "REPLACE": r"(?:\s+(?:LOW_PRIORITY|DELAYED))?\s+INTO\s+" + _NAME,
    "UPDATE": r"(?:\s+(?:LOW_PRIORITY|IGNORE|ONLY|OR\s+\w+))*\s+" + _NAME,
    "DELETE": r"(?:\s+(?:LOW_PRIORITY|QUICK|IGNORE))*\s+FROM\s+(?:ONLY\s+)?" + _NAME,
    "CREATE": r"(?:\s+OR\s+REPLACE)?(?:\s+(?:GLOBAL|LOCAL))?"
    r"(?:\s+(?:TEMP|TEMPORARY))?(?:\s+UNLOGGED)?\s+TABLE"
    r"(?:\s+IF\s+NOT\s+EXISTS)?\s+" + _NAME,
    "DROP": r"(?:\s+TEMPORARY)?\s+TABLE(?:\s+IF\s+EXISTS)?\s+" + _NAME,
    "ALTER": r"\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?\s+" + _NAME,
    "TRUNCATE": r"(?:\s+TABLE)?(?:\s+ONLY)?\s+" + _NAME,
    # PostgreSQL's COPY table [(columns)] FROM/TO; COPY (query) TO has no single table.
    "COPY": r"\s+" + _NAME,
    # SELECT: the name right after the top-level FROM.
    "SELECT": r"\s+" + _NAME,
}

_summary_res = None
# Target regexes, compiled per operation on first use.
_targets = {}


def _compile_summary():
    global _summary_res
    import re

    _summary_res = {
        "first": re.compile(r"[A-Za-z]+\b"),
        # Keywords that bring a second table into the statement.
        "multi": re.compile("JOIN|UNION|INTERSECT|EXCEPT|USING|SELECT"),
        # Optional alias then a comma: a list of several tables.
        "list": re.compile(r"\s*(?:(?:AS\s+)?" + _IDENT + r"\s*)?,"),
        "call": re.compile(r"\s*\("),
    }


def _target(op):
    pattern = _targets.get(op)
    if pattern is None and op in _TARGET_PATTERNS:
        import re

        pattern = _targets[op] = re.compile(_TARGET_PATTERNS[op])
    return pattern


_UNQUOTE = {ord(c): None for c in '"`[]'}


def _in_word(c):
    # Characters that continue a word, so "from" in "valid_from", "t.from"
    # or "from" quoted as an identifier is no keyword.
    return c.isalnum() or c in '_$."`'


def _find_word(upper, word, start):
    """Index of keyword ``word`` (upper case) in ``upper`` from ``start``."""
    size = len(word)
    i = upper.find(word, start)
    while i != -1:
        end = i + size
        if (i == 0 or not _in_word(upper[i - 1])) and (
            end == len(upper) or not _in_word(upper[end])
        ):
            return i
        i = upper.find(word, end)
    return -1


def _collection(op, text, pos):
    """Return the single table ``text`` works on, or None when unsure.

    ``text`` is sanitized (no comments or string literals to trip over) and
    ``pos`` is just past the operation keyword.
    """
    res = _summary_res
    pattern = _target(op)
    if pattern is None:
        return None
    # Plain str.find on an upper-cased copy beats a case-insensitive regex
    # scan by far; bail out if upper-casing moved the offsets (e.g. "ß").
    upper = text.upper()
    if len(upper) != len(text):
        return None
    # Several statements: the summary would describe only the first one.
    if ";" in text.rstrip(" \t\r\n;"):
        return None
    # The operation keyword is before ``pos``: any SELECT found is a
    # subquery (or INSERT/CREATE ... SELECT) reading another table.
    for m in res["multi"].finditer(upper, pos):
        start, end = m.span()
        if not _in_word(upper[start - 1]) and (
            end == len(upper) or not _in_word(upper[end])
        ):
            return None
    if op == "SELECT" or op == "UPDATE":
        # FROM inside parentheses belongs to EXTRACT(x FROM y) and the like.
        i = _find_word(upper, "FROM", pos)
        depth = 0
        while i != -1:
            depth += upper.count("(", pos, i) - upper.count(")", pos, i)
            if depth == 0:
                break
            pos = i
            i = _find_word(upper, "FROM", i + 4)
        if op == "UPDATE":
            if i != -1:
                return None  # UPDATE ... FROM other_table
        elif i == -1:
            return None
        else:
            pos = i + 4
    m = pattern.match(upper, pos)
    if m is None:
        return None
    end = m.end()
    if res["list"].match(upper, end):
        return None
    if (op == "SELECT" or op == "DELETE") and res["call"].match(upper, end):
        return None  # table function: FROM generate_series(...)
    # Same offsets in ``text``: the name as written.
    return text[m.start(1) : m.end(1)].translate(_UNQUOTE)


def summarize_sanitized(text):
    """``(operation, collection)`` of a sanitized statement (see ``sql.summarize_sql``)."""
    if _summary_res is None:
        _compile_summary()
    m = _summary_res["first"].match(text)
    if m is None:
        return None, None
    op = m.group().upper()
    if op not in _OPERATIONS:
        return None, None
    return op, _collection(op, text, m.end())


def span_name_for(operation, collection, system):
    """Span name: ``"SELECT users"``, ``"SELECT"`` or the system name."""
    if operation:
        if collection:
            return operation + " " + collection
        return operation
    return system or "other_sql"


_SYSTEM_NAMES = {
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "oracle": "oracle.db",
    "mssql": "microsoft.sql_server",
    "microsoft": "microsoft.sql_server",
    # Other SQLAlchemy dialects with a defined db.system.name value.
    "cockroachdb": "cockroachdb",
    "redshift": "aws.redshift",
    "db2": "ibm.db2",
    "ibm_db_sa": "ibm.db2",
    "hana": "sap.hana",
    "clickhouse": "clickhouse",
    "trino": "trino",
    "spanner": "gcp.spanner",
    "firebird": "firebirdsql",
    "teradatasql": "teradata",
}


def db_system_name(dialect_or_vendor):
    """Map a SQLAlchemy dialect or Django vendor name to ``db.system.name``.

    Accepts driver-qualified names too (``postgresql+psycopg2``).
    """
    if not dialect_or_vendor:
        return "other_sql"
    name = str(dialect_or_vendor).strip().lower().partition("+")[0]
    return _SYSTEM_NAMES.get(name, "other_sql")


def truncate(text, limit):
    """Cut ``text`` to ``limit`` characters; None (or negative) = no limit."""
    if limit is None or limit < 0 or len(text) <= limit:
        return text
    return text[:limit]


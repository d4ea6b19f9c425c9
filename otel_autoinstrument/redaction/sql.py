"""SQL statement sanitizing and summarising for database spans.

Shared by the SQLAlchemy and Django instrumentations; follows the stable
OpenTelemetry database semantic conventions (``db.query.text``,
``db.operation.name``, ``db.collection.name``, ``db.system.name``).

Sanitizing keeps the statement's whitespace as written: comments are removed
(a block comment that separated two tokens becomes one space) and the result
is stripped at both ends. Everything runs on the application's hot path, so
the regexes are compiled on first use and results are cached per statement.
"""

from functools import lru_cache

__all__ = [
    "sanitize_sql",
    "summarize_sql",
    "span_name_for",
    "db_system_name",
    "truncate",
]

# Statements longer than this are sanitized without caching, so a few bulk
# INSERTs cannot pin megabytes of text in the LRU caches.
_CACHE_MAX_LEN = 4096

# Marks a replaced literal until IN-lists are collapsed, so that lists of
# bind placeholders (``IN (?, ?)``) are left alone.
_LIT = "\x00"
# Marks a literal whose first character (an E/N/X/B string prefix or the dot
# of ``.5``) was already copied to the output and must be dropped.
_LIT_DROP_PREV = "\x01"

_STRING_BODY = r"[^'\\]*(?:(?:''|\\[\s\S]?)[^'\\]*)*(?:'|\Z)"
_NUM_TAIL = (
    r"(?:(?<=0)[xX][0-9A-Fa-f]+|(?<=0)[bB][01]+"
    r"|\d*(?:\.\d*)?(?:[eE][+-]?\d+)?)(?![\w$])"
)
_FRACTION_TAIL = r"\d*(?:[eE][+-]?\d+)?(?![\w$])"
_QUOTED_IDENT = r'(?:"[^"]*(?:""[^"]*)*"|`[^`]*(?:``[^`]*)*`)'

# One alternation scanned left to right: whichever token starts first wins,
# so a quote inside a comment never opens a string and ``--`` inside a string
# never opens a comment. Every token begins with a character of the leading
# class, which lets the regex engine skip ordinary text in C; each
# alternative then looks behind to see which character that was.
_TOKEN_PATTERN = r"""
[-/"`'$0-9<BOOL_FIRST>](?:
  (?P<lc>(?<=-)-[^\r\n]*)                              # -- comment: removed
| (?P<bc>(?<=/)\*[\s\S]*?(?:\*/|\Z)\s*)                # /* comment */: removed
  # Quoted identifiers are kept. A run of them ("t"."a", "t"."b") is one
  # match, because Django quotes every identifier.
| (?P<qi>
    (?:(?<=")[^"]*(?:""[^"]*)*"|(?<=`)[^`]*(?:``[^`]*)*`)
    (?:[\s,.()]*<QI>)*
  )
  # E'..', N'..', X'ff', B'01' strings and .5 numbers: their first
  # character was already copied to the output.
| (?P<drop>
    (?<=')(?<=[^\w$][EeNnXxBb]')<STRING>
  | (?<=\d)(?<=[^\w$.)\]"`]\.\d)<FRAC>
  )
| (?P<lit>
    # 'string' with '' and \' escapes. Unterminated, it runs to the end so
    # its tail can never leak.
    (?<=')<STRING>
    # PostgreSQL $$dollar$$ / $tag$quoted$tag$ string.
  | (?<=\$)(?<![\w$].)(?P<tag>[A-Za-z_]\w*|)\$[\s\S]*?(?:\$(?P=tag)\$|\Z)
    # Number. Digits after a word character, '$', '.', '@', '?' or a lone
    # ':' belong to identifiers or bind placeholders (t1, $1, @p1, ?1, :1).
  | (?<=\d)(?<![\w$.@?].)(?<![^\w:]:.)<NUM>
    # A minus is a sign right after an operator, '(', ',' or a keyword
    # (x = -5, SELECT -1), not after an operand (a-5).
  | (?<=-)(?:(?<=[=<>(,+*/%-].)|(?<=[=<>(,+*/%-]\s.)<SIGN_KEYWORDS>)
    (?:\d<NUM>|\.\d<FRAC>)
<BOOL>  )
)
"""
# Looking for booleans means stopping at every T and F, so only statements
# that contain "true" or "false" get the variant that does.
_BOOL = r"""    # TRUE / FALSE, but not :true, %(true)s or t.true.
  | (?<=[Tt])(?<![\w$.:@].)(?<!%\(.)(?i:rue)(?![\w$])
  | (?<=[Ff])(?<![\w$.:@].)(?<!%\(.)(?i:alse)(?![\w$])
"""

# Keywords after which a minus is a sign, grouped by length because each
# look-behind must have a fixed width.
_SIGN_KEYWORDS = "".join(
    r"|(?<=\b(?i:" + words + r")\s-)"
    for words in (
        "by|or|is",
        "and|not",
        "then|else|when|like",
        "limit|where",
        "select|offset|values|return|having",
    )
)

# A parenthesised list of literals right after IN (at most one space between
# them). It starts with "(" so the engine can jump from one "(" to the next.
_IN_LIST_PATTERN = (
    r"\((?:(?<=[^\w$][Ii][Nn]\()|(?<=[^\w$][Ii][Nn]\s\())"
    r"\s*\x00(?:\s*,\s*\x00)*\s*\)"
)

_token_re = None
_token_bool_re = None
_in_list_re = None
_drop_prev_re = None


def _token_pattern(with_bool):
    pattern = _TOKEN_PATTERN
    for key, value in (
        ("<BOOL_FIRST>", "TtFf" if with_bool else ""),
        ("<BOOL>", _BOOL if with_bool else ""),
        ("<QI>", _QUOTED_IDENT),
        ("<STRING>", _STRING_BODY),
        ("<SIGN_KEYWORDS>", _SIGN_KEYWORDS),
        ("<NUM>", _NUM_TAIL),
        ("<FRAC>", _FRACTION_TAIL),
    ):
        pattern = pattern.replace(key, value)
    return pattern


def _compile():
    global _token_re, _in_list_re, _drop_prev_re
    import re

    _in_list_re = re.compile(_IN_LIST_PATTERN)
    _drop_prev_re = re.compile(r"[\s\S]\x01")
    _token_re = re.compile(_token_pattern(False), re.VERBOSE)


def _compile_bool():
    global _token_bool_re
    import re

    _token_bool_re = re.compile(_token_pattern(True), re.VERBOSE)


def _replace_token(m):
    kind = m.lastgroup
    if kind == "lit":
        return _LIT
    if kind == "qi":
        return m.group()
    if kind == "lc":
        return ""
    if kind == "drop":
        return _LIT_DROP_PREV
    # Block comment: keep one space only if it was the sole separator.
    start = m.start()
    if start == 0 or m.string[start - 1].isspace():
        return ""
    return " "


def _sanitize(statement):
    if _token_re is None:
        _compile()
    low = statement.lower()
    if "true" in low or "false" in low:
        if _token_bool_re is None:
            _compile_bool()
        out = _token_bool_re.sub(_replace_token, statement)
    else:
        out = _token_re.sub(_replace_token, statement)
    if _LIT_DROP_PREV in out:
        out = _drop_prev_re.sub(_LIT, out)
    if _LIT in out:
        out = _in_list_re.sub("(\x00)", out)
        out = out.replace(_LIT, "?")
    return out.strip()


_sanitize_cached = lru_cache(maxsize=256)(_sanitize)


def sanitize_sql(statement):
    """Return ``statement`` with every literal replaced by ``?``.

    Strings, dollar-quoted strings, numbers, hex/bit literals and booleans
    become ``?``; ``IN (<literals>)`` collapses to ``IN (?)``; comments are
    removed. Identifiers (also quoted ones) and bind placeholders are kept.
    Whitespace is kept as written. Never raises on a ``str``.
    """
    if statement.__class__ is not str:
        statement = _as_text(statement)
    if len(statement) > _CACHE_MAX_LEN:
        return _sanitize(statement)
    return _sanitize_cached(statement)


def _as_text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


# --- summarising --------------------------------------------------------

_OPERATIONS = frozenset(
    (
        "SELECT INSERT UPDATE DELETE CREATE DROP ALTER BEGIN COMMIT ROLLBACK "
        "PRAGMA WITH REPLACE MERGE TRUNCATE CALL EXEC SAVEPOINT RELEASE SHOW SET"
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


def _summarize(statement):
    if _summary_res is None:
        _compile_summary()
    text = sanitize_sql(statement)
    m = _summary_res["first"].match(text)
    if m is None:
        return None, None
    op = m.group().upper()
    if op not in _OPERATIONS:
        return None, None
    return op, _collection(op, text, m.end())


_summarize_cached = lru_cache(maxsize=256)(_summarize)


def summarize_sql(statement):
    """Return ``(operation, collection)`` for ``statement``.

    ``operation`` is the upper-cased first keyword when it is a known SQL
    command, else None. ``collection`` is the one table the statement works
    on (quotes stripped, ``schema.table`` kept), or None for joins, several
    tables, subqueries, WITH, and whenever unsure.
    """
    if statement.__class__ is not str:
        statement = _as_text(statement)
    if len(statement) > _CACHE_MAX_LEN:
        return _summarize(statement)
    return _summarize_cached(statement)


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

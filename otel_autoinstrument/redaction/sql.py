"""SQL statement sanitizing for database spans, per dialect.

Shared by the SQLAlchemy and Django instrumentations (and plugins) through
``instrumentation.db``; summarising (operation, table, span name) is in ``sql_summary``
and re-exported here. Follows the stable OpenTelemetry database semantic conventions
(``db.query.text``, ``db.operation.name``, ``db.collection.name``, ``db.system.name``).

Dialects decide what a literal is (``dialect`` is a SQLAlchemy dialect name, a Django
vendor, or a ``db.system.name`` value):

* ``mysql`` family (mysql, mariadb): a backslash escapes the next character inside
  strings, double-quoted text is a string too (we assume ANSI_QUOTES is off, the
  server default: with it on, double-quoted identifiers become ``?`` as well, which
  hides names but never a literal), ``#`` starts a comment;
* ``standard`` (sqlite, postgresql, mssql, oracle and every other known database): a
  backslash is an ordinary character, ``'...'`` with ``''`` is the only string, double
  quotes, backticks and brackets quote identifiers; PostgreSQL's ``E'...'`` escape
  strings and ``$tag$...$tag$`` dollar quoting are literals too (in every dialect);
* ``default`` (no dialect given, or an unknown one): the standard rules, except that
  a string whose closing quote follows an odd number of backslashes (``'C:\\'``, or
  MySQL's ``'it\\'s'``) is where the two readings part: from there on, the whole rest
  of the statement becomes ``?``, so neither reading can leak a literal.

Sanitizing keeps the statement's whitespace as written: comments are removed (a block
comment that separated two tokens becomes one space) and the result is stripped at
both ends. A statement longer than ``SANITIZE_MAX_LEN`` (32 KiB) is sanitized by its
first 32 KiB and the rest is left out: the cost on the application's thread stays
bounded, and a literal cut in two still counts as a literal (an unterminated string,
comment or dollar quote runs to the end). Every pattern runs in linear time: each
alternative that can scan far either always succeeds (an unterminated string ends at
the end of the text) or starts only where no earlier attempt scanned. The regexes are
compiled on first use per dialect; results are cached per (statement, dialect).
"""

from functools import lru_cache

from .sql_summary import db_system_name, span_name_for, summarize_sanitized, truncate  # noqa: F401  (re-exported)

__all__ = [
    "sanitize_sql",
    "summarize_sql",
    "span_name_for",
    "db_system_name",
    "dialect_family",
    "truncate",
    "SANITIZE_MAX_LEN",
]

MYSQL, STANDARD, DEFAULT = "mysql", "standard", "default"
SANITIZE_MAX_LEN = 32 * 1024

# Statements longer than this are sanitized without caching, so a few bulk
# INSERTs cannot pin megabytes of text in the LRU caches.
_CACHE_MAX_LEN = 4096

# Marks a replaced literal until IN-lists are collapsed, so that lists of
# bind placeholders (``IN (?, ?)``) are left alone.
_LIT = "\x00"
# Marks a literal whose first character (an E/N/X/B string prefix or the dot
# of ``.5``) was already copied to the output and must be dropped.
_LIT_DROP_PREV = "\x01"

# String bodies after the opening quote. Each always succeeds (an unterminated string
# runs to the end), so the engine never backtracks into it.
_STANDARD_STRING = r"[^']*(?:''[^']*)*(?:'|\Z)"
_ESCAPED_STRING = r"[^'\\]*(?:(?:''|\\[\s\S]?)[^'\\]*)*(?:'|\Z)"
_ESCAPED_DQ_STRING = r'[^"\\]*(?:(?:""|\\[\s\S]?)[^"\\]*)*(?:"|\Z)'
# Default: backslash pairs are kept together; a quote after an odd number of
# backslashes ends the string in standard SQL but not in MySQL: mask to the end.
_GUARDED_STRING = r"(?:[^'\\]+|''|\\\\|\\(?!'))*(?:'|\\'[\s\S]*|\Z)"
_STRINGS = {STANDARD: _STANDARD_STRING, MYSQL: _ESCAPED_STRING, DEFAULT: _GUARDED_STRING}

_NUM_TAIL = (
    r"(?:(?<=0)[xX][0-9A-Fa-f]+|(?<=0)[bB][01]+"
    r"|\d*(?:\.\d*)?(?:[eE][+-]?\d+)?)(?![\w$])"
)
_FRACTION_TAIL = r"\d*(?:[eE][+-]?\d+)?(?![\w$])"
_QUOTED_IDENT = {
    STANDARD: r'(?:"[^"]*(?:""[^"]*)*"|`[^`]*(?:``[^`]*)*`)',
    MYSQL: r"`[^`]*(?:``[^`]*)*`",
}
_IDENT_BODY = {
    STANDARD: r'(?<=")[^"]*(?:""[^"]*)*"|(?<=`)[^`]*(?:``[^`]*)*`',
    MYSQL: r"(?<=`)[^`]*(?:``[^`]*)*`",
}

# One alternation scanned left to right: whichever token starts first wins,
# so a quote inside a comment never opens a string and ``--`` inside a string
# never opens a comment. Every token begins with a character of the leading
# class, which lets the regex engine skip ordinary text in C; each
# alternative then looks behind to see which character that was.
_TOKEN_PATTERN = r"""
[-/"`'$0-9<LEAD>](?:
  (?P<lc>(?<=-)-[^\r\n]*)                              # -- comment: removed
| (?P<bc>(?<=/)\*[\s\S]*?(?:\*/|\Z)\s*)                # /* comment */: removed
<HASH>
  # Quoted identifiers are kept. A run of them ("t"."a", "t"."b") is one
  # match, because Django quotes every identifier.
| (?P<qi>
    (?:<IDENT_BODY>)
    (?:[\s,.()]*<QI>)*
  )
  # E'..', N'..', X'..', B'..' strings and .5 numbers: their first character was
  # already copied to the output. E'..' is PostgreSQL's escape string.
| (?P<drop>
    (?<=')(?<=[^\w$][Ee]')<ESCAPED>
  | (?<=')(?<=[^\w$][NnXxBb]')<STRING>
  | (?<=\d)(?<=[^\w$.)\]"`]\.\d)<FRAC>
  )
| (?P<lit>
    # 'string'. Unterminated, it runs to the end so its tail can never leak.
    (?<=')<STRING>
<DQ_STRING>
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
_HASH_COMMENT = "| (?P<hc>(?<=\\#)[^\\r\\n]*)                       # MySQL's # comment: removed\n"
_MYSQL_DQ_STRING = '  | (?<=")' + _ESCAPED_DQ_STRING + "\n"
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

_token_res = {}  # (family, with_bool) -> compiled token pattern
_in_list_re = None
_drop_prev_re = None
_families = {}


def _token_pattern(family, with_bool):
    mysql = family == MYSQL
    pattern = _TOKEN_PATTERN
    for key, value in (
        ("<LEAD>", ("#" if mysql else "") + ("TtFf" if with_bool else "")),
        ("<HASH>", _HASH_COMMENT if mysql else ""),
        ("<DQ_STRING>", _MYSQL_DQ_STRING if mysql else ""),
        ("<BOOL>", _BOOL if with_bool else ""),
        ("<IDENT_BODY>", _IDENT_BODY[MYSQL if mysql else STANDARD]),
        ("<QI>", _QUOTED_IDENT[MYSQL if mysql else STANDARD]),
        ("<ESCAPED>", _ESCAPED_STRING),
        ("<STRING>", _STRINGS[family]),
        ("<SIGN_KEYWORDS>", _SIGN_KEYWORDS),
        ("<NUM>", _NUM_TAIL),
        ("<FRAC>", _FRACTION_TAIL),
    ):
        pattern = pattern.replace(key, value)
    return pattern


def _token_re(family, with_bool):
    global _in_list_re, _drop_prev_re
    import re

    if _in_list_re is None:
        _in_list_re = re.compile(_IN_LIST_PATTERN)
        _drop_prev_re = re.compile(r"[\s\S]\x01")
    compiled = _token_res[family, with_bool] = re.compile(_token_pattern(family, with_bool), re.VERBOSE)
    return compiled


def dialect_family(dialect):
    """``mysql``, ``standard`` or ``default``: how ``dialect`` writes its literals."""
    family = _families.get(dialect)
    if family is None:
        name = str(dialect).strip().lower() if dialect else ""
        system = db_system_name(name) if name else "other_sql"
        if system in ("mysql", "mariadb") or name in ("mysql", "mariadb"):
            family = MYSQL
        elif system != "other_sql" or name in _STANDARD_SYSTEM_NAMES:
            family = STANDARD
        else:
            family = DEFAULT
        if len(_families) < 256:
            _families[dialect] = family
    return family


# db.system.name values of databases that follow standard SQL quoting.
_STANDARD_SYSTEM_NAMES = frozenset((
    "sqlite", "postgresql", "oracle.db", "microsoft.sql_server", "cockroachdb", "aws.redshift", "ibm.db2",
    "sap.hana", "clickhouse", "trino", "gcp.spanner", "firebirdsql", "teradata",
))


def _replace_token(m):
    kind = m.lastgroup
    if kind == "lit":
        return _LIT
    if kind == "qi":
        return m.group()
    if kind == "lc" or kind == "hc":
        return ""
    if kind == "drop":
        return _LIT_DROP_PREV
    # Block comment: keep one space only if it was the sole separator.
    start = m.start()
    if start == 0 or m.string[start - 1].isspace():
        return ""
    return " "


def _sanitize(statement, family=DEFAULT):
    if len(statement) > SANITIZE_MAX_LEN:
        statement = statement[:SANITIZE_MAX_LEN]
    low = statement.lower()
    with_bool = "true" in low or "false" in low
    pattern = _token_res.get((family, with_bool)) or _token_re(family, with_bool)
    out = pattern.sub(_replace_token, statement)
    if _LIT_DROP_PREV in out:
        out = _drop_prev_re.sub(_LIT, out)
    if _LIT in out:
        out = _in_list_re.sub("(\x00)", out)
        out = out.replace(_LIT, "?")
    return out.strip()


_sanitize_cached = lru_cache(maxsize=256)(_sanitize)


def sanitize_sql(statement, dialect=None):
    """Return ``statement`` with every literal replaced by ``?``, read as ``dialect``
    writes literals (see the module docstring; None: the default rules).

    Strings, dollar-quoted strings, numbers, hex/bit literals and booleans
    become ``?``; ``IN (<literals>)`` collapses to ``IN (?)``; comments are
    removed. Identifiers (also quoted ones) and bind placeholders are kept.
    Whitespace is kept as written. Never raises on a ``str``.
    """
    if statement.__class__ is not str:
        statement = _as_text(statement)
    family = DEFAULT if dialect is None else _families.get(dialect) or dialect_family(dialect)
    if len(statement) > _CACHE_MAX_LEN:
        return _sanitize(statement, family)
    return _sanitize_cached(statement, family)


def _as_text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _summarize(statement, family):
    return summarize_sanitized(_sanitize_cached(statement, family) if len(statement) <= _CACHE_MAX_LEN
                               else _sanitize(statement, family))


_summarize_cached = lru_cache(maxsize=256)(_summarize)


def summarize_sql(statement, dialect=None):
    """Return ``(operation, collection)`` for ``statement`` (read as ``dialect``).

    ``operation`` is the upper-cased first keyword when it is a known SQL
    command, else None. ``collection`` is the one table the statement works
    on (quotes stripped, ``schema.table`` kept), or None for joins, several
    tables, subqueries, WITH, and whenever unsure.
    """
    if statement.__class__ is not str:
        statement = _as_text(statement)
    family = DEFAULT if dialect is None else _families.get(dialect) or dialect_family(dialect)
    if len(statement) > _CACHE_MAX_LEN:
        return _summarize(statement, family)
    return _summarize_cached(statement, family)

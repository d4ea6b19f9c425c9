"""The redaction processor: secrets and personal data out of every exported string.

Configured by ``OTEL_PYTHON_REDACTION`` (see ``config.parse_redaction``). It runs in the
export thread, never on the application's: ``RedactingExporter`` wraps each exporter
(``pipeline.py``) and rewrites the batch it is handed, then calls the real exporter.
Every string is scanned: span attributes, the status message, event and link
attributes, log bodies and log attributes (also inside lists and maps). A match becomes
``[REDACTED:<rule>]``.

Built-in rules (``default`` turns them all on):

* ``url_credentials``: userinfo in any URL (``https://user:pw@host``, ``https://token@host``);
* ``url_query``: values of sensitive query parameters in URLs inside any text (the list
  of ``urls.DEFAULT_SENSITIVE_QUERY_PARAMS`` plus OTEL_PYTHON_URL_SENSITIVE_QUERY_PARAMS),
  e.g. in an HTTP library's exception message;
* ``bearer``: the token after ``Bearer`` (the word is kept);
* ``jwt``: JSON Web Tokens (``eyJ...``.``ey...``.``...``);
* ``aws_key``: AWS access key ids (``AKIA``/``ASIA`` + 16 characters);
* ``email``: e-mail addresses;
* ``card``: payment card numbers (13 to 19 digits, optionally grouped by spaces or
  dashes, first digit 2 to 6) that pass the Luhn check;
* ``sql_error``: in SQLAlchemy's exception messages, the literals of ``[SQL: ...]``
  (sanitized like db.query.text) and the whole ``[parameters: ...]``.

Cost: one precompiled pattern (all rules as one alternation) searched once per string;
strings shorter than the shortest possible match and non-strings are skipped, and the
replacement work runs only for strings that match. A failure here raises: the batch
processor then drops the batch, counted (an unredacted export is never the fallback).
"""

from .. import _log
from . import REDACTION_RULES

__all__ = ["Redactor", "RedactingExporter", "redactor_from_settings", "luhn_ok"]

_MIN_BUILTIN = 6  # "a@b.co": nothing shorter can match a built-in rule
_CACHE_SIZE = 4096  # strings remembered, with their redacted form
_CACHE_MAX_LEN = 512  # longer strings (statements, stack traces) are always scanned
_WORD = "A-Za-z0-9"

# One alternative per rule (non-capturing groups only inside). Each starts with a literal
# or a small character set where it can, so the regex engine skips ahead quickly.
_BUILTIN = {
    # "://" then userinfo up to an "@"; already redacted userinfo is left alone.
    "url_credentials": r"://(?!REDACTED:REDACTED@)[^/\s@?#\"'<>]{1,256}@",
    # Filled with the parameter names at compile time.
    "url_query": None,
    "bearer": r"(?:[Bb]earer|BEARER)[ \t]+[A-Za-z0-9\-._~+/]{4,}=*",
    "jwt": r"eyJ[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    "aws_key": r"(?:AKIA|ASIA)(?<![A-Z0-9]....)[A-Z0-9]{16}(?![A-Z0-9])",
    "email": r"[%s._%%+-]{1,64}@[%s-]{1,63}(?:\.[%s-]{1,63})*\.[A-Za-z]{2,24}\b" % (_WORD, _WORD, _WORD),
    "card": r"[2-6](?<![0-9].)(?:[ -]?[0-9]){12,18}(?![0-9])",
    # SQLAlchemy: "[SQL: <statement>]" then "\n[parameters: <repr>]" (or the end).
    "sql_error": r"\[SQL: (?s:.*?)\](?=\n|$)|\[parameters: [^\n]*\]",
}
_BIT = {rule: 1 << index for index, rule in enumerate(REDACTION_RULES)}
_URL_CREDENTIALS, _URL_QUERY, _BEARER, _JWT, _AWS_KEY, _EMAIL, _CARD, _SQL_ERROR = (
    _BIT[rule] for rule in REDACTION_RULES)
# Digits -> "0", anything else -> "x": a string's digit runs, found by C-level searches.
_DIGITS = bytes(48 if 48 <= i <= 57 else 120 for i in range(256))


def luhn_ok(digits):
    """The Luhn check of a string of digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position & 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _query_pattern(names):
    import re

    # Longest first, so "access_token" is not cut short by "token" (both anchored by "=").
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return r"[?&;#](?i:%s)=(?!REDACTED(?:[&#\s]|$))[^&#\s\"'<>]+" % alternatives


def _possible(value):
    """The built-in rules that can match ``value`` at all, by substring tests that cost
    nanoseconds: most strings need no regex scan, the others a scan for one rule."""
    mask = 0
    if "@" in value:
        mask = _EMAIL | _URL_CREDENTIALS if "://" in value else _EMAIL
    if "=" in value:
        mask |= _URL_QUERY
    if "earer" in value or "EARER" in value:
        mask |= _BEARER
    if "eyJ" in value:
        mask |= _JWT
    if "AKIA" in value or "ASIA" in value:
        mask |= _AWS_KEY
    if "[SQL: " in value or "[parameters: " in value:
        mask |= _SQL_ERROR
    if len(value) >= 13:
        digits = value.encode("utf-8", "replace").translate(_DIGITS)
        if digits.find(b"0000") != -1 and digits.count(b"0") >= 13:  # every card has a 4-digit group
            mask |= _CARD
    return mask


class Redactor:
    """Rewrites strings (and the spans and log records holding them) by its rules."""

    def __init__(self, rules=REDACTION_RULES, regexes=(), sensitive_params=None):
        import re

        if sensitive_params is None:
            from .urls import DEFAULT_SENSITIVE_QUERY_PARAMS as sensitive_params
        self.rules = tuple(r for r in REDACTION_RULES if r in rules)
        self._patterns = {rule: _BUILTIN[rule] for rule in self.rules}
        if "url_query" in self._patterns:
            self._patterns["url_query"] = _query_pattern(sensitive_params)
        self._mask = sum(_BIT[rule] for rule in self.rules)
        user = []  # (name, pattern): one alternation of their own, scanned on every string
        self._separate = []  # user patterns that cannot join an alternation (e.g. global flags)
        for name, pattern in regexes:
            try:
                re.compile("(?:%s)|x" % pattern)
                user.append((name, pattern))
            except re.error:
                self._separate.append((name, re.compile(pattern)))
        self._scanners = {}  # mask of built-in rules -> (search, sub, replace)
        self._user = self._compile(user, builtin=False) if user else None
        self.min_length = _MIN_BUILTIN if not regexes else 1
        self.enabled = bool(self.rules or regexes)
        self._sanitize_sql = None
        # Attribute values repeat (methods, routes, hosts, user agents, log templates):
        # a string seen recently is not scanned again. One Redactor per export thread.
        self._cache = {}

    def _scanner(self, mask):
        scanner = self._scanners[mask] = self._compile(
            [(rule, self._patterns[rule]) for rule in self.rules if mask & _BIT[rule]])
        return scanner

    def _compile(self, parts, builtin=True):
        import re

        pattern = re.compile("|".join("(?P<r%d>%s)" % (i, p) for i, (_, p) in enumerate(parts)))
        rule_of = {pattern.groupindex["r%d" % i]: name for i, (name, _) in enumerate(parts)}

        def replace(match):
            rule = rule_of.get(match.lastindex, "regex")
            return self._replace(rule, match.group()) if builtin else "[REDACTED:%s]" % rule

        return pattern.search, pattern.sub, replace

    # --- strings --------------------------------------------------------------------

    def text(self, value):
        """``value`` with every match replaced by its marker (the same object if none)."""
        if len(value) < self.min_length:
            return value
        cache = self._cache
        found = cache.get(value)
        if found is not None:
            return found
        result = self._text(value)
        if len(value) <= _CACHE_MAX_LEN:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[value] = result
        return result

    def _text(self, value):
        mask = _possible(value) & self._mask
        if mask:
            scanner = self._scanners.get(mask) or self._scanner(mask)
            if scanner[0](value) is not None:
                value = scanner[1](scanner[2], value)
        scanner = self._user
        if scanner is not None and scanner[0](value) is not None:
            value = scanner[1](scanner[2], value)
        for name, pattern in self._separate:
            value = pattern.sub("[REDACTED:%s]" % name, value)
        return value

    def _replace(self, rule, found):
        if rule == "card":
            digits = found.replace(" ", "").replace("-", "")
            return "[REDACTED:card]" if luhn_ok(digits) else found
        if rule == "bearer":
            return found.split(None, 1)[0] + " [REDACTED:bearer]"
        if rule == "url_query":
            return found.split("=", 1)[0] + "=[REDACTED:url_query]"
        if rule == "url_credentials":
            return "://[REDACTED:url_credentials]@"
        if rule == "sql_error":
            return self._sql_error(found)
        return "[REDACTED:%s]" % rule

    def _sql_error(self, found):
        if found.startswith("[parameters: "):
            return "[parameters: [REDACTED:sql_error]]"
        if self._sanitize_sql is None:
            from .sql import sanitize_sql

            self._sanitize_sql = sanitize_sql
        return "[SQL: %s]" % self._sanitize_sql(found[6:-1])

    def value(self, value):
        """An attribute value or log body: strings, and strings inside lists and maps."""
        kind = type(value)
        if kind is str:
            return self.text(value) if len(value) >= self.min_length else value
        if kind is tuple or kind is list:
            return kind(self.value(v) for v in value)
        if kind is dict:
            return {k: self.value(v) for k, v in value.items()}
        return value

    def attributes(self, attributes):
        """Rewrite a dict's values in place (its keys and size never change)."""
        value = self.value
        for key, item in attributes.items():
            kind = type(item)
            if kind is str or kind is tuple or kind is list or kind is dict:
                new = value(item)
                if new is not item and new != item:
                    attributes[key] = new

    # --- spans and log records -------------------------------------------------------

    def span(self, span):
        self.attributes(span.attributes)
        if span.status_message:
            span.status_message = self.text(span.status_message)
        for event in span.events or ():
            if event.attributes:
                self.attributes(event.attributes)
        for link in span.links or ():
            if link.attributes:
                self.attributes(link.attributes)

    def log(self, record):
        record.body = self.value(record.body)
        if record.attributes:
            self.attributes(record.attributes)


class RedactingExporter:
    """An exporter that redacts the batch, then hands it to the real one. Everything
    else (``after_fork``, ``stop_by``, ``shutdown``, ...) is the real exporter's."""

    def __init__(self, exporter, signal, make_redactor):
        self.exporter = exporter
        self.signal = signal
        self._make_redactor = make_redactor
        self._redactor = None

    def export(self, items, deadline):
        redactor = self._redactor
        if redactor is None:
            from ..export import preload

            # Compiled in the export thread; first imports under the fork lock (see preload).
            preload.modules("re", "otel_autoinstrument.redaction.urls", "otel_autoinstrument.redaction.sql")
            redactor = self._redactor = self._make_redactor()
        if redactor.enabled:
            rewrite = redactor.span if self.signal == "traces" else redactor.log
            for item in items:
                rewrite(item)
        return self.exporter.export(items, deadline)

    def __getattr__(self, name):
        return getattr(self.exporter, name)


_VARIABLE = "OTEL_PYTHON_REDACTION"


def resolve(items):
    """Config items -> (built-in rule names, [(name, pattern)])."""
    rules, regexes = [], []
    removed = set()
    for item in items:
        if item == "default":
            rules.extend(r for r in REDACTION_RULES if r not in rules)
        elif item.startswith("-"):
            removed.add(item[1:])
        elif item.startswith("regex:"):
            regexes.append(("regex", item[6:]))
        elif item.startswith("regex("):
            name, _, pattern = item[6:].partition("):")
            regexes.append((name or "regex", pattern))
        elif item in REDACTION_RULES and item not in rules:
            rules.append(item)
    return [r for r in REDACTION_RULES if r in rules and r not in removed], regexes


def redactor_from_settings(settings):
    """The settings' Redactor; an invalid user pattern is left out with one warning."""
    import re

    rules, regexes = resolve(settings.python_redaction)
    valid = []
    for name, pattern in regexes:
        try:
            re.compile(pattern)
        except re.error as exc:
            _log.warning("%s: pattern %r left out: %s", _VARIABLE, pattern, exc)
            continue
        valid.append((name, pattern))
    extra = settings.python_url_sensitive_query_params
    from .urls import DEFAULT_SENSITIVE_QUERY_PARAMS

    sensitive = DEFAULT_SENSITIVE_QUERY_PARAMS.union(extra) if extra else DEFAULT_SENSITIVE_QUERY_PARAMS
    return Redactor(rules, valid, sensitive)


def wrap(exporter, signal, settings):
    """``exporter`` behind the redaction processor, unless OTEL_PYTHON_REDACTION=none."""
    if settings.python_redaction == ["none"]:
        return exporter
    return RedactingExporter(exporter, signal, lambda: redactor_from_settings(settings))

"""The redaction processor's rules over one string, each in time linear in its length.

Python's regular expressions backtrack, so a pattern is only safe when every attempt
that can fail is bounded, or starts where no earlier attempt already scanned. The
rules here keep to that:

* ``sql_error`` and ``[parameters: ...]`` are found with ``str.find`` (each needle's
  next position remembered, so the text is scanned once per needle), not with a lazy
  ``.*?`` that rescans the rest of the text from every ``[SQL: ``; a statement whose
  closing ``]`` is missing is sanitized to the end of the text, never left as it is.
* ``url_query`` / ``key_value``: a candidate ``name=`` starts only where a name starts
  (a look-behind), with at most 128 name characters and a bounded look-ahead for a
  sensitive part; the name is then decided by the cached ``names`` matcher and the
  value is matched where it stands. Names longer than 128 characters are not looked at.
* ``jwt`` and ``email`` start only at the start of a run of their characters (a
  look-behind), so a long run is scanned once, not once per position; the local part of
  an address is at most 64 characters before the ``@`` (RFC 5321), the labels 63.
* ``url_credentials`` (256), ``aws_key`` (16) and ``card`` (19 digits) are bounded;
  ``bearer`` always succeeds once it has started.
* The message and stack trace of a database driver's exception (``exception.*``
  attributes of an exception event or a log record) go through
  ``sql_errors.scrub_error_message``, part of ``sql_error``: one pass each.

User patterns (``regex:...``) run as written: their cost is theirs.
"""

from . import REDACTION_RULES
from .names import SENSITIVE_NAMES
from .sql_errors import DATABASE_ERROR_MODULES, value_end

__all__ = ["TextRedactor", "luhn_ok"]

MIN_BUILTIN = 6  # "a@b.co": nothing shorter can match a built-in rule
_CACHE_SIZE = 4096  # strings remembered, with their redacted form
_CACHE_MAX_LEN = 512  # longer strings (statements, stack traces) are always scanned
_PASSES = 3
_CARD_GROUPS_MAX = 8
_WORD = "A-Za-z0-9"
_NAME_CHARS = r"A-Za-z0-9_.\-\[\]%"
_NAME_MAX = 128
# A name must contain one of these (or a percent-encoded character) to be asked about.
_NAME_STEMS = ("tok", "secr", "pass", "pwd", "key", "auth", "sess", "sid", "sig", "cred", "csrf", "xsrf",
               "cookie", "jwt", "bearer", "otp", "code", "%")

# Rules scanned by one alternation (each alternative a literal or a small class first).
_ALTERNATION = {
    # "://" then userinfo up to an "@"; already redacted userinfo is left alone.
    "url_credentials": r"://(?!REDACTED:REDACTED@)[^/\s@?#\"'<>]{1,256}@",
    "bearer": r"(?:[Bb]earer|BEARER)[ \t]+[A-Za-z0-9\-._~+/]{4,}=*",
    "jwt": r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    "aws_key": r"(?:AKIA|ASIA)(?<![A-Z0-9]....)[A-Z0-9]{16}(?![A-Z0-9])",
    "email": r"(?<![%s._%%+-])[%s._%%+-]{1,64}@[%s-]{1,63}(?:\.[%s-]{1,63})*\.[A-Za-z]{2,24}\b"
             % (_WORD, _WORD, _WORD, _WORD),
    "card": r"[2-6](?<![0-9].)(?:[ -]?[0-9]){12,18}(?![0-9])",
}
# The value of a sensitive name: quoted (to the closing quote or the end of the line),
# an authorization scheme and its credentials, or a run of value characters.
_TEXT_VALUE = (r"\"[^\"\r\n]*\"?|'[^'\r\n]*'?|(?i:bearer|basic|digest|token|negotiate)[ \t]+[^\s&,;\"'<>]+"
               r"|[^\s&,;\"'<>]+")
_URL_VALUE = r"[^&#\s\"'<>]+"
_URL_PREFIXES = "?&;#"
_NOT_SECRETS = frozenset(("?", "%s", "REDACTED"))  # placeholders, and what urls.py already masked

_BIT = {rule: 1 << index for index, rule in enumerate(REDACTION_RULES)}
_URL_CREDENTIALS, _URL_QUERY, _KEY_VALUE, _BEARER, _JWT, _AWS_KEY, _EMAIL, _CARD, _SQL_ERROR = (
    _BIT[rule] for rule in REDACTION_RULES)
_PAIRS = _URL_QUERY | _KEY_VALUE
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


def _card(found):
    """The card number in a run of digit groups: all of it, or else the widest whole
    groups in it that are one (a card next to another number: ``4111 1111 1111 1111 2``,
    ``page 2 4111 1111 1111 1111``). Runs of more than 8 groups are no card layout."""
    if luhn_ok(found.replace(" ", "").replace("-", "")):
        return "[REDACTED:card]"
    starts = [0] + [i + 1 for i, c in enumerate(found) if c in " -"]
    if len(starts) > _CARD_GROUPS_MAX:
        return found
    ends = [i - 1 for i in starts[1:]] + [len(found)]
    windows = [(a, b) for a in starts for b in ends if b > a]
    windows.sort(key=lambda w: w[0] - w[1])  # widest first
    for a, b in windows:
        digits = found[a:b].replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return found[:a] + "[REDACTED:card]" + found[b:]
    return found


def _possible(value):
    """The built-in rules that can match ``value`` at all, by substring tests that cost
    nanoseconds: most strings need no regex scan, the others a scan for few rules."""
    mask = 0
    if "@" in value:
        mask = _EMAIL | _URL_CREDENTIALS if "://" in value else _EMAIL
    if "=" in value:
        mask |= _PAIRS
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


class _Needles:
    """The next position of each needle at or after a moving start, each found once."""

    def __init__(self, text, needles):
        self.text = text
        self.next = {needle: text.find(needle) for needle in needles}

    def find(self, needle, start):
        at = self.next[needle]
        if at != -1 and at < start:
            at = self.next[needle] = self.text.find(needle, start)
        return at


class TextRedactor:
    """Rewrites strings by the enabled built-in rules, then by the user's patterns."""

    def __init__(self, rules=REDACTION_RULES, regexes=(), names=SENSITIVE_NAMES):
        import re

        self.rules = tuple(r for r in REDACTION_RULES if r in rules)
        self._mask = sum(_BIT[rule] for rule in self.rules)
        self._names = names
        self._pair_re = self._value_re = self._url_value_re = None
        if self._mask & _PAIRS:
            stems = _NAME_STEMS + tuple(sorted(getattr(names, "extra", ())))
            self._pair_re = re.compile(r"(?<![%s])(?=[%s]{0,%d}?(?i:%s))([%s]{1,%d})=" % (
                _NAME_CHARS, _NAME_CHARS, _NAME_MAX, "|".join(re.escape(s) for s in stems), _NAME_CHARS, _NAME_MAX))
            self._value_re = re.compile(_TEXT_VALUE)
            self._url_value_re = re.compile(_URL_VALUE)
        user = []  # (name, pattern): one alternation of their own, scanned on every string
        self._separate = []  # user patterns that cannot join an alternation (e.g. global flags)
        for name, pattern in regexes:
            try:
                re.compile("(?:%s)|x" % pattern)
                user.append((name, pattern))
            except re.error:
                self._separate.append((name, re.compile(pattern)))
        self._scanners = {}  # mask of alternation rules -> (search, sub, replace)
        self._user = self._compile(user, builtin=False) if user else None
        self.min_length = MIN_BUILTIN if not regexes else 1
        self.enabled = bool(self.rules or regexes)
        self.scrubs_database_errors = bool(self._mask & _SQL_ERROR)
        self._sanitize_sql = None
        # Attribute values repeat (methods, routes, hosts, user agents, log templates):
        # a string seen recently is not scanned again. One redactor per export thread.
        self._cache = {}

    def _compile(self, parts, builtin=True):
        import re

        pattern = re.compile("|".join("(?P<r%d>%s)" % (i, p) for i, (_, p) in enumerate(parts)))
        rule_of = {pattern.groupindex["r%d" % i]: name for i, (name, _) in enumerate(parts)}

        def replace(match):
            rule = rule_of.get(match.lastindex, "regex")
            return self._replace(rule, match.group()) if builtin else "[REDACTED:%s]" % rule

        return pattern.search, pattern.sub, replace

    def _scanner(self, mask):
        scanner = self._scanners[mask] = self._compile(
            [(rule, _ALTERNATION[rule]) for rule in self.rules if rule in _ALTERNATION and mask & _BIT[rule]])
        return scanner

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
            if mask & _SQL_ERROR:
                value = self._sql_error(value)
            if mask & _PAIRS:
                value = self._pairs(value)
            mask &= ~(_SQL_ERROR | _PAIRS)
            if mask:
                scanner = self._scanners.get(mask) or self._scanner(mask)
                # A match may end inside the run where another would have started
                # ("4111...1111bob@x.io"): what a pass replaced is scanned again, a
                # bounded number of times (markers match no rule).
                for _ in range(_PASSES):
                    if scanner[0](value) is None:
                        break
                    new = scanner[1](scanner[2], value)
                    if new == value:
                        break
                    value = new
        scanner = self._user
        if scanner is not None and scanner[0](value) is not None:
            value = scanner[1](scanner[2], value)
        for name, pattern in self._separate:
            value = pattern.sub("[REDACTED:%s]" % name, value)
        return value

    def _replace(self, rule, found):
        if rule == "card":
            return _card(found)
        if rule == "bearer":
            return found.split(None, 1)[0] + " [REDACTED:bearer]"
        if rule == "url_credentials":
            return "://[REDACTED:url_credentials]@"
        return "[REDACTED:%s]" % rule

    # --- name=value pairs ---------------------------------------------------------------

    def _pairs(self, text):
        """Values of sensitive names: ``url_query`` after ``? & ; #``, else ``key_value``."""
        out = None
        last = 0
        names = self._names
        mask = self._mask
        for match in self._pair_re.finditer(text):
            start = match.start()
            if start < last or match.group(1) not in names:
                continue
            in_url = start > 0 and text[start - 1] in _URL_PREFIXES
            rule = _URL_QUERY if in_url else _KEY_VALUE
            if not mask & rule:
                continue
            value_start = match.end()
            value = (self._url_value_re if in_url else self._value_re).match(text, value_start)
            if value is None or value.group() in _NOT_SECRETS or value.group().startswith("[REDACTED"):
                continue
            if out is None:
                out = []
            out.append(text[last:value_start])
            out.append("[REDACTED:url_query]" if in_url else "[REDACTED:key_value]")
            last = value.end()
        if out is None:
            return text
        out.append(text[last:])
        return "".join(out)

    # --- SQLAlchemy's error messages ----------------------------------------------------

    def _sql_error(self, text):
        """``[SQL: <statement>]`` sanitized like db.query.text (to the end of the text when
        its ``]`` is missing), and all of ``[parameters: ...]`` (to the end of its line)."""
        if not self._mask & _SQL_ERROR:
            return text
        needles = _Needles(text, ("[SQL: ", "[parameters: ", "]\n[parameters: ", "]\n(Background on this error",
                                  "]\n"))
        out = []
        last = 0
        while True:
            sql = needles.find("[SQL: ", last)
            params = needles.find("[parameters: ", last)
            if sql == -1 and params == -1:
                break
            if params == -1 or (sql != -1 and sql < params):
                body = sql + 6
                end = _first(needles.find("]\n[parameters: ", body), needles.find("]\n(Background on this error", body))
                if end == -1:
                    end = needles.find("]\n", body)
                if end == -1:
                    end = len(text) - 1 if text.endswith("]") and len(text) > body else len(text)
                out.append(text[last:body])
                out.append(self._sanitized(text[body:end]))
                last = end
            else:
                body = params + 13
                out.append(text[last:body])
                out.append("[REDACTED:sql_error]")
                last = value_end(text, body, "]")
                if text.startswith("[REDACTED:sql_error]", body):  # redacted already: as it is
                    last = body + 20
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)

    def database_exception(self, attributes):
        """For the ``exception.*`` attributes of a database driver's exception: its message
        and the exception lines of its stack trace scrubbed of literals, in place. Returns
        ``(message, scrubbed message)``, the second None when nothing changed."""
        message = attributes.get("exception.message")
        kind = attributes.get("exception.type")
        if type(kind) is not str or type(message) is not str or not kind.startswith(DATABASE_ERROR_MODULES):
            return message, None
        from .sql_errors import scrub_error_message, scrub_traceback

        shown = scrub_error_message(message)
        stacktrace = attributes.get("exception.stacktrace")
        if type(stacktrace) is str:
            attributes["exception.stacktrace"] = scrub_traceback(stacktrace)
        if shown == message:
            return message, None
        attributes["exception.message"] = shown
        return message, shown

    def _sanitized(self, statement):
        if self._sanitize_sql is None:
            from .sql import sanitize_sql

            self._sanitize_sql = sanitize_sql
        return self._sanitize_sql(statement)


def _first(a, b):
    if a == -1:
        return b
    if b == -1:
        return a
    return min(a, b)

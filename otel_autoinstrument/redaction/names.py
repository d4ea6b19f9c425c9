"""Which names are sensitive: query parameters (``url.full``, ``url.query``), captured
HTTP headers, and ``name=value`` pairs in exported text, decided by ONE pattern of name
parts instead of a list of names.

A name is percent-decoded, split into words at every character that is not an ASCII
letter or digit (``auth_token``, ``X-Auth-Token``, ``user[password]``) and at camelCase
boundaries (``accessToken``, ``X-CSRFToken`` -> csrf, token), and lower-cased. It is
sensitive when one of its words

* is a sensitive word (``WORDS``: token, secret, password, passwd, pass, pwd, key, auth,
  authorization, session, sid, signature, sig, credential, csrf, xsrf, cookie, jwt, ...);
* or ends with a sensitive compound (``SUFFIXES``), for names written in one lower-case
  word: ``accesstoken``, ``clientsecret``, ``apikey``, ``jsessionid``, ``awsaccesskeyid``
  (HTTP header names reach the agent lower-cased, so ``X-CSRFToken`` arrives as
  ``x-csrftoken``);
* or starts with one of ``PREFIXES`` (``passwordhash``, ``csrfmiddlewaretoken``);

or when the whole name is one of ``WHOLE_NAMES`` (``code``: an OAuth authorization code,
while ``error_code`` and ``status_code`` are not secrets).

A word that merely *contains* a part is not matched: ``keyword``, ``monkey``,
``passenger``, ``bypass``, ``author``, ``authority``, ``tokenizer`` and ``secretary`` pass.
A name whose last word describes the secret rather than holding it (``METADATA``:
``token_type``, ``session_timeout``, ``key_size``, ``auth_method``) is not sensitive.
Deliberate false positives (masking too much is the safe side): other names with a
whole word ``key``, ``session``, ``auth`` or ``pass`` (``sort_key``, ``session_state``,
``pass_through``); ``-name`` entries in the configuration exempt a name.

Decisions are cached per name (names repeat on every request); the work per new name
is linear in its length.
"""

__all__ = ["SensitiveNames", "SENSITIVE_NAMES", "from_settings", "WORDS", "SUFFIXES", "PREFIXES", "WHOLE_NAMES",
           "METADATA"]

WORDS = frozenset((
    "token", "tokens", "secret", "secrets", "password", "passwords", "passwd", "pass", "pwd", "passphrase",
    "key", "keys", "apikey", "auth", "authn", "authz", "authorization", "session", "sessionid", "sessid", "sid",
    "signature", "sig", "credential", "credentials", "creds", "csrf", "xsrf", "cookie", "jwt", "bearer",
    "otp", "totp", "hotp",
))
SUFFIXES = (
    "token", "tokens", "secret", "secrets", "password", "passwords", "passwd", "pwd", "sessionid", "sessid",
    "signature", "credential", "credentials", "csrf", "xsrf", "cookie",
    "apikey", "accesskey", "accesskeyid", "secretkey", "privatekey", "sessionkey", "signingkey", "authkey",
    "encryptionkey", "masterkey", "licensekey", "clientkey", "appkey", "accountkey", "subscriptionkey",
)
PREFIXES = ("password", "passwd", "csrf", "xsrf", "apikey", "sessionid")
WHOLE_NAMES = frozenset(("code",))
METADATA = frozenset((
    "type", "types", "count", "length", "size", "expires", "expiry", "expiration", "ttl", "timeout", "kind",
    "format", "version", "policy", "algorithm", "method",
))

_CACHE_MAX = 4096  # decisions remembered per matcher (hostile names cannot grow it further)
_CACHE_NAME_MAX = 256  # longer names are decided every time, never cached
_word_re = None
_unquote_plus = None


def _words(name):
    global _word_re, _unquote_plus
    if "%" in name or "+" in name:
        if _unquote_plus is None:
            from urllib.parse import unquote_plus as _unquote_plus
        name = _unquote_plus(name)
    if _word_re is None:
        import re

        # An upper-case run before a capitalised word (CSRF|Token), a capitalised or
        # lower-case word, an upper-case run, digits. Each alternative consumes what it
        # matched: one pass over the name.
        _word_re = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
    return [word.lower() for word in _word_re.findall(name)]


def _pattern_matches(name):
    words = _words(name)
    if len(words) == 1 and words[0] in WHOLE_NAMES:
        return True
    if words and words[-1] in METADATA:
        return False
    for word in words:
        if word in WORDS or word.endswith(SUFFIXES) or word.startswith(PREFIXES):
            return True
    return False


def _plain(name):
    """``name`` as an entry of an explicit list: lower-case, percent-decoded, stripped."""
    if "%" in name or "+" in name:
        global _unquote_plus
        if _unquote_plus is None:
            from urllib.parse import unquote_plus as _unquote_plus
        name = _unquote_plus(name)
    return name.strip().lower()


class SensitiveNames:
    """The sensitive-name test: ``name in matcher``. ``extra`` names are sensitive too and
    ``exempt`` names never are (exact names, case-insensitive; ``user[extra]`` and
    ``extra[]`` forms included)."""

    __slots__ = ("extra", "exempt", "_decisions")

    def __init__(self, extra=(), exempt=()):
        self.extra = frozenset(_plain(n) for n in extra if n and n.strip())
        self.exempt = frozenset(_plain(n) for n in exempt if n and n.strip())
        self._decisions = {}

    def __contains__(self, name):
        found = self._decisions.get(name)
        if found is None:
            found = self._decide(name)
        return found

    def _decide(self, name):
        if name.__class__ is not str:
            name = name.decode("latin-1") if isinstance(name, (bytes, bytearray)) else str(name)
        plain = _plain(name)
        inner = plain
        if plain.endswith("]"):  # password[] and user[password] (PHP / Rails style)
            open_at = plain.rfind("[")
            if open_at != -1:
                inner = plain[open_at + 1:-1] or plain[:open_at]
        if plain in self.exempt or inner in self.exempt:
            found = False
        else:
            found = plain in self.extra or inner in self.extra or _pattern_matches(name)
        if len(name) <= _CACHE_NAME_MAX:
            decisions = self._decisions
            if len(decisions) >= _CACHE_MAX:
                decisions.clear()
            decisions[name] = found
        return found

    def union(self, names):
        """This matcher with ``names`` added (``-name`` entries exempt a name instead)."""
        names = [n for n in names if n and n.strip()]
        exempt = [n.strip()[1:] for n in names if n.strip().startswith("-")]
        extra = [n for n in names if not n.strip().startswith("-")]
        return SensitiveNames(self.extra.union(_plain(n) for n in extra), self.exempt.union(_plain(n) for n in exempt))

    def __repr__(self):
        return "SensitiveNames(extra=%s, exempt=%s)" % (sorted(self.extra), sorted(self.exempt))


SENSITIVE_NAMES = SensitiveNames()
"""The default matcher: the pattern alone."""


def from_settings(settings):
    """The pattern plus OTEL_PYTHON_URL_SENSITIVE_QUERY_PARAMS (names, ``-name`` exempts)."""
    entries = settings.python_url_sensitive_query_params
    return SENSITIVE_NAMES.union(entries) if entries else SENSITIVE_NAMES

"""URL, query-string and header redaction for HTTP spans and diagnostics.

Shared by the server and client HTTP instrumentations (``url.full``,
``url.query``, ``http.request.header.*``) and by the agent's own log output.

Rules (OpenTelemetry HTTP semantic conventions):

* Any non-empty userinfo (``user:pass@`` or a bare ``token@``) becomes
  ``REDACTED:REDACTED@``, so the output never tells whether a password was
  there; the host, port and path are kept. Userinfo exists only after
  ``//`` (``mailto:a@b`` is kept). A raw ``/``, ``?`` or ``#`` in a password
  cuts the authority short; if what is left is no valid ``host[:port]`` and
  an ``@`` follows, everything up to that ``@`` is masked as well.
* Values of sensitive query parameters become ``REDACTED``; names, order,
  separators and all other bytes are kept. Which names are sensitive is decided
  by the pattern of name parts in ``names`` (``auth_token``, ``accessToken``,
  ``X-Amz-Signature``, ``user[password]``, also percent-encoded), or by the
  exact set of names a caller passes instead.
* The fragment is kept (semconv: include it when known), but ``name=value``
  pairs in it (OAuth implicit flow ``#access_token=...``, hash routing
  ``#/cb?token=...``) are redacted like a query.
* Parsing is hand-rolled string slicing: faster than ``urllib.parse`` and
  unable to raise on odd input such as a broken IPv6 literal.
"""

__all__ = [
    "DEFAULT_SENSITIVE_QUERY_PARAMS",
    "ALWAYS_REDACTED_HEADERS",
    "REDACTED",
    "redact_url",
    "redact_query",
    "mask_secret_in_url",
    "HeaderCapture",
]

REDACTED = "REDACTED"
_USERINFO_REDACTED = "REDACTED:REDACTED"
_HEADER_REDACTED = "[REDACTED]"

# Well-known sensitive parameter names, all matched by the pattern (``SENSITIVE_NAMES``),
# kept for plugins that pass an exact set of lower-case names instead of the pattern.
DEFAULT_SENSITIVE_QUERY_PARAMS = frozenset(
    {
        # Passwords and shared secrets.
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        # Bearer and OAuth tokens, and OAuth authorization codes.
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "private_token",
        "auth",
        "authorization",
        "code",
        # API keys.
        "api_key",
        "apikey",
        "api-key",
        "key",
        # Session identifiers.
        "session",
        "sessionid",
        "session_id",
        "sid",
        "jsessionid",
        "phpsessid",
        # Request signatures: generic, Azure SAS ("sig"), and the legacy S3
        # query-string auth pair ("Signature", "AWSAccessKeyId").
        "signature",
        "sig",
        "awsaccesskeyid",
        # AWS SigV4 presigned URLs.
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        # Google Cloud Storage V4 signed URLs.
        "x-goog-signature",
        "x-goog-credential",
    }
)

# Never captured in clear, whatever the configuration says.
ALWAYS_REDACTED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

_query_sep_re = None
_unquote_plus = None


def _is_sensitive(name, sensitive):
    """Is query parameter ``name`` (as written) sensitive by ``sensitive``: a
    ``names.SensitiveNames`` matcher (None: the default one), or an exact set of
    lower-case names?"""
    if not isinstance(sensitive, (set, frozenset)):
        return name in sensitive
    global _unquote_plus
    key = name.lower()
    if key in sensitive:
        return True
    if key.isalnum():
        return False
    if "%" in key or "+" in key:
        if _unquote_plus is None:
            # Imported only when needed: most names are plain.
            from urllib.parse import unquote_plus as _unquote_plus
        key = _unquote_plus(key).lower()
    key = key.strip()
    if key in sensitive:
        return True
    if key.endswith("]"):
        # password[] and user[password] (PHP / Rails style).
        open_at = key.rfind("[")
        if open_at != -1:
            inner = key[open_at + 1 : -1]
            return (inner or key[:open_at]) in sensitive
    return False


def _redact_pairs(query, sensitive):
    if sensitive is None:
        sensitive = _default_names()
    global _query_sep_re
    if ";" in query:
        # Some servers also split on ";": redact those pairs as well.
        if _query_sep_re is None:
            import re

            _query_sep_re = re.compile("([&;])")
        parts = _query_sep_re.split(query)  # pairs at even indices
        step, joiner = 2, ""
    else:
        parts = query.split("&")
        step, joiner = 1, "&"
    changed = False
    for i in range(0, len(parts), step):
        part = parts[i]
        eq = part.find("=")
        if eq <= 0:
            continue  # no value to hide, or an empty name
        if _is_sensitive(part[:eq], sensitive):
            parts[i] = part[: eq + 1] + REDACTED
            changed = True
    return joiner.join(parts) if changed else query


_names = None


def _default_names():
    # Imported on first use: this module loads with the plugin API at start-up.
    global _names
    if _names is None:
        from .names import SENSITIVE_NAMES as _names
    return _names


def redact_query(query, sensitive=None):
    """Return ``query`` (no leading ``?``) with sensitive values redacted."""
    try:
        if query.__class__ is not str:
            query = "" if query is None else _text(query)  # ASGI: bytes
        if "=" not in query:
            return query
        return _redact_pairs(query, sensitive)
    except Exception:
        return REDACTED


def _first_of(text, start):
    """Index of the first "/", "?" or "#" at or after ``start``, else len."""
    end = len(text)
    i = text.find("/", start)
    if i != -1:
        end = i
    i = text.find("?", start, end)
    if i != -1:
        end = i
    i = text.find("#", start, end)
    return end if i == -1 else i


def _broken_port(url, start, end):
    """True when authority ``url[start:end]`` is no valid ``host[:port]``."""
    authority = url[start:end]
    colon = authority.find(":")
    if colon == -1 or "[" in authority:  # no port, or an IPv6 literal
        return False
    # No host, several colons, or a port that is not a number.
    return colon == 0 or not authority[colon + 1 :].isdigit()


def _redact(url, sensitive, loose):
    first = _first_of(url, 0)
    if url.startswith("//", first):
        # Authority after the first "//" that no path, query or fragment
        # precedes. Lenient about what comes before it (a scheme, or junk),
        # so malformed input still gets its userinfo masked.
        start = first + 2
        rest = _first_of(url, start)
        at = url.rfind("@", start, rest)  # passwords may hold a raw "@"
        if at == -1 and _broken_port(url, start, rest):
            # "user:pa#ss@host": an unencoded "/", "?" or "#" in a password
            # cut the authority short. Mask up to the "@" that follows.
            at = url.find("@", rest)
            if at != -1:
                slash = url.find("/", at)
                at = url.rfind("@", at, len(url) if slash == -1 else slash)
                rest = _first_of(url, at + 1)
        if at > start:
            url = url[:start] + _USERINFO_REDACTED + url[at:]
            rest += len(_USERINFO_REDACTED) - (at - start)
    else:
        rest = first
        if loose:
            # Diagnostics: also mask scheme-less "user:pass@host:port".
            at = url.rfind("@", 0, rest)
            if at > 0:
                url = _USERINFO_REDACTED + url[at:]
                rest += len(_USERINFO_REDACTED) - at

    hash_at = url.find("#", rest)
    end = len(url) if hash_at == -1 else hash_at
    q = url.find("?", rest, end)
    if q != -1 and url.find("=", q, end) != -1:
        query = url[q + 1 : end]
        new = _redact_pairs(query, sensitive)
        if new is not query:
            url = url[: q + 1] + new + url[end:]
            if hash_at != -1:
                hash_at += len(new) - len(query)
    if hash_at != -1 and url.find("=", hash_at) != -1:
        # Pairs in the fragment: "#access_token=..." or, with hash routing,
        # "#/route?token=...".
        start = url.find("?", hash_at) + 1 or hash_at + 1
        fragment = url[start:]
        new = _redact_pairs(fragment, sensitive)
        if new is not fragment:
            url = url[:start] + new
    return url


def _fallback(url, sensitive, loose):
    # Non-str input (bytes, None, objects): never raise, never leak.
    try:
        if url is None:
            return ""
        if isinstance(url, (bytes, bytearray)):
            text = bytes(url).decode("latin-1")
        else:
            text = str(url)
        return _redact(text, sensitive, loose)
    except Exception:
        return REDACTED


def redact_url(url, sensitive=None):
    """Return ``url`` with userinfo and sensitive query values redacted.

    Suitable for ``url.full``. URLs without ``@``, ``?`` or ``#`` are
    returned as they are, without parsing. Never raises.
    """
    try:
        if "@" not in url and "?" not in url and "#" not in url:
            return url
        return _redact(url, sensitive, False)
    except Exception:
        return _fallback(url, sensitive, False)


def mask_secret_in_url(url):
    """Mask credentials in a URL for the agent's own logs and diagnostics.

    Like :func:`redact_url`, and also masks scheme-less ``user:pass@host``
    (as found in configuration values), erring on the side of masking.
    """
    try:
        if "@" not in url and "?" not in url and "#" not in url:
            return url
        return _redact(url, None, True)
    except Exception:
        return _fallback(url, None, True)


# --- headers -------------------------------------------------------------

# An entry containing one of these is a regular expression, else a name.
# A name such as "x.y" read as a regex still matches itself.
_REGEX_CHARS = frozenset(".*+?[](){}|^$\\")

_SKIP, _CAPTURE, _REDACT = 0, 1, 2
_DECISION_CACHE_MAX = 512


def _compile_names(entries):
    """Split configured entries into exact lower-case names and one regex."""
    if isinstance(entries, str):
        entries = entries.split(",")
    exact = set()
    patterns = []
    if entries:
        import re

        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            if _REGEX_CHARS.isdisjoint(entry):
                exact.add(entry.lower())
                continue
            try:
                re.compile(entry)
            except re.error:
                exact.add(entry.lower())  # not a valid regex: a literal name
            else:
                patterns.append("(?:" + entry + ")")
        if patterns:
            return frozenset(exact), re.compile("|".join(patterns), re.IGNORECASE)
    return frozenset(exact), None


def _text(value):
    if value.__class__ is str:
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")  # ASGI headers are bytes
    return str(value)


class HeaderCapture:
    """Turn configured HTTP headers into ``http.*.header.<name>`` attributes.

    ``allow`` lists the headers to capture (the
    ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` lists). A captured header's
    value is replaced by ``[REDACTED]`` when its name is sensitive by the
    pattern of name parts (``names.SENSITIVE_NAMES``: ``X-Auth-Token``,
    ``X-CSRFToken``, ``X-Api-Key``, ...) or listed in ``sanitize``
    (``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS``), where a
    ``-name`` entry exempts a name from the pattern. Entries are
    case-insensitive names; an entry with regex metacharacters (``x-.*``) is a
    regular expression that must match the whole name; an invalid regex is
    taken as a plain name. A comma-separated string is accepted too.
    :data:`ALWAYS_REDACTED_HEADERS` are redacted whatever the lists say.
    """

    __slots__ = ("enabled", "_allow", "_allow_re", "_sanitize", "_sanitize_re", "_names", "_decisions")

    def __init__(self, allow=(), sanitize=()):
        self._allow, self._allow_re = _compile_names(allow)
        if isinstance(sanitize, str):
            sanitize = sanitize.split(",")
        sanitize = [entry.strip() for entry in sanitize or () if entry and entry.strip()]
        exempt = [entry[1:] for entry in sanitize if entry.startswith("-")]
        self._sanitize, self._sanitize_re = _compile_names([e for e in sanitize if not e.startswith("-")])
        from .names import SENSITIVE_NAMES, SensitiveNames

        self._names = SensitiveNames(exempt=exempt) if exempt else SENSITIVE_NAMES
        # Callers test this first and skip all header work when False.
        self.enabled = bool(self._allow or self._allow_re)
        # Lower-case header name -> decision; header names repeat on every
        # request, so regexes run once per name.
        self._decisions = {}

    def _decide(self, key):
        if key in self._allow or (self._allow_re and self._allow_re.fullmatch(key)):
            if (
                key in ALWAYS_REDACTED_HEADERS
                or key in self._sanitize
                or (self._sanitize_re and self._sanitize_re.fullmatch(key))
                or key in self._names
            ):
                decision = _REDACT
            else:
                decision = _CAPTURE
        else:
            decision = _SKIP
        decisions = self._decisions
        if len(decisions) >= _DECISION_CACHE_MAX:
            decisions.clear()  # bound memory against hostile header names
        decisions[key] = decision
        return decision

    def attributes(self, prefix, headers):
        """Return ``{prefix + lower-case name: [values]}`` for ``headers``.

        ``prefix`` is ``"http.request.header."`` or
        ``"http.response.header."``; ``headers`` is a mapping (values may be
        lists) or an iterable of ``(name, value)`` pairs, str or bytes.
        Repeated headers append to the same list.
        """
        if not self.enabled or not headers:
            return {}
        items = headers.items() if hasattr(headers, "items") else headers
        decisions = self._decisions
        result = {}
        for name, value in items:
            key = _text(name).lower()
            decision = decisions.get(key)
            if decision is None:
                decision = self._decide(key)
            if decision == _SKIP:
                continue
            attr = prefix + key
            if decision == _REDACT:
                result[attr] = [_HEADER_REDACTED]
                continue
            values = result.get(attr)
            if values is None:
                values = result[attr] = []
            if isinstance(value, (list, tuple)):
                values.extend(_text(v) for v in value)
            else:
                values.append(_text(value))
        return result

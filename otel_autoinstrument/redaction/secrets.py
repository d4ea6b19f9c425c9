"""Secrets out of the agent's own messages: start-up lines, warnings, export errors,
``--info``. Every message that may carry a secret goes through this module, and only
this module decides what it may show of the exporter's configuration:

* ``mask_url(url)``: an endpoint as it may be printed: credentials become
  ``REDACTED:REDACTED@`` (also in a URL written without a scheme,
  ``bob:S3CRET@collector:4318``), the query and fragment are dropped (an API key may
  hide under any parameter name).
* ``secret_strings(urls, headers)``: what must never appear in a message: header values,
  URL credentials and query values, raw and percent-decoded, longest first.
* ``mask(text, secrets, limit)``: a message with those strings replaced by ``***`` and
  URL credentials masked, *then* cut to ``limit`` characters, so a cut never leaves half
  a secret behind. Linear in the text (C-level replaces and one bounded pattern).
* ``shown_header_name(name)``: a configured header's name as it may be printed: its
  leading valid characters only (``Authorization: Bearer xyz=...`` put the token in the
  name).
"""

_CUT_MARK = "..."
HEADER_NAME_CHARS = frozenset(  # RFC 9110 token characters
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEADER_NAME_SHOWN = 64
_USERINFO_MAX = 256
_credentials_re = None


def mask_url(url):
    """The endpoint as it may appear in the agent's messages (never raises)."""
    if not isinstance(url, str):
        url = "" if url is None else str(url)
    if "@" not in url and "?" not in url and "#" not in url:
        return url  # nothing to mask: the start-up line imports no URL parser for it
    try:
        from .urls import mask_secret_in_url

        url = mask_secret_in_url(url)
    except Exception:
        at = url.rfind("@")
        if at != -1:
            url = "REDACTED:REDACTED" + url[at:]
    return url.split("?", 1)[0].split("#", 1)[0]


def shown_header_name(name):
    """A header name's leading valid characters (at most 64), ``...`` if more followed."""
    if not isinstance(name, str):
        name = str(name)
    end = 0
    while end < len(name) and end < _HEADER_NAME_SHOWN and name[end] in HEADER_NAME_CHARS:
        end += 1
    return name if end == len(name) else name[:end] + _CUT_MARK


def secret_strings(urls=(), headers=None, min_length=3):
    """Header values and URL credentials and query values, raw and decoded, longest first."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    found = set()
    for value in (headers or {}).values():
        if isinstance(value, str):
            found.update((value, value.strip(), value.partition(" ")[2]))
    for url in urls:
        if not url:
            continue
        url = url.strip()
        if "://" not in url and "@" in url:
            url = "//" + url  # user:pass@host:port without a scheme
        try:
            parts = urlsplit(url)
            for value in (parts.username, parts.password):
                if value:
                    found.update((value, unquote(value)))
            for _, value in parse_qsl(parts.query) + parse_qsl(parts.fragment):
                found.update((value, unquote(value)))
            if parts.query:
                found.add(parts.query)
        except ValueError:
            pass
    return sorted((s for s in found if len(s) >= min_length), key=len, reverse=True)


def mask(text, secrets=(), limit=None):
    """``text`` with every known secret replaced by ``***`` and URL credentials masked,
    then cut to ``limit`` characters (scrub before cut)."""
    if not isinstance(text, str):
        text = str(text)
    text = _masked(text, secrets)
    if limit is not None and len(text) > limit:
        text = text[:limit] + _CUT_MARK
    return text


def _masked(text, secrets):
    global _credentials_re
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    if "@" in text and "://" in text:
        if _credentials_re is None:
            import re

            # "scheme://user:pw@host" anywhere in a text; bounded, so linear on any input.
            _credentials_re = re.compile(r"://[^/?#@ \t\r\n\"'<>]{1,%d}@" % _USERINFO_MAX)
        text = _credentials_re.sub("://REDACTED:REDACTED@", text)
    return text

"""Secrets out of the agent's own messages: start-up lines, warnings, ``--info``.

One place decides what a message may show of the exporter's configuration:

* ``mask_url(url)``: an endpoint as it may be printed: credentials become
  ``REDACTED:REDACTED@`` (also in a URL written without a scheme,
  ``bob:S3CRET@collector:4318``), the query and fragment are dropped (an API key may
  hide under any parameter name).
* ``secret_strings(urls, headers)``: what must never appear in a message: header values,
  URL credentials and query values, raw and percent-decoded, longest first.
* ``mask(text, secrets, limit)``: a message with those strings replaced by ``***`` and
  URL credentials masked, *then* cut to ``limit`` characters, so a cut never leaves half
  a secret behind.
"""

_CUT_MARK = "..."
_USERINFO_MAX = 256


def mask_url(url):
    """The endpoint as it may appear in the agent's messages (never raises)."""
    if not isinstance(url, str):
        url = "" if url is None else str(url)
    try:
        from .urls import mask_secret_in_url

        url = mask_secret_in_url(url)
    except Exception:
        at = url.rfind("@")
        if at != -1:
            url = "REDACTED:REDACTED" + url[at:]
    return url.split("?", 1)[0].split("#", 1)[0]


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
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    if "@" in text and "://" in text:
        text = _mask_url_credentials(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + _CUT_MARK
    return text


def _mask_url_credentials(text):
    """``scheme://user:pw@host`` anywhere in a text -> ``scheme://REDACTED:REDACTED@host``."""
    out = []
    start = 0
    while True:
        scheme = text.find("://", start)
        if scheme == -1:
            break
        end = scheme + 3
        stop = end
        bound = min(len(text), end + _USERINFO_MAX)  # linear time on any input
        while stop < bound and text[stop] not in "/?#@ \t\r\n\"'<>":
            stop += 1
        if stop < len(text) and text[stop] == "@" and stop > end:
            out.append(text[start:end] + "REDACTED:REDACTED")
            start = stop
        else:
            out.append(text[start:end])
            start = end
    out.append(text[start:])
    return "".join(out)

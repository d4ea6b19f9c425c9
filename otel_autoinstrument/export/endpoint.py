"""What an OTLP endpoint URL and an export header list may be, checked when an exporter
is built: a bad value is reported once there and never reaches the transport."""

from .. import _log


def endpoint_problem(url):
    """Why ``url`` cannot be an OTLP/HTTP endpoint, or None when it can."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError as exc:
        return "not a valid URL (%s)" % exc
    if parts.scheme not in ("http", "https"):
        return "not an http:// or https:// URL"
    if not parts.hostname:
        return "no host in the URL"
    if any(ch in url for ch in "\r\n\t\x00 "):
        return "whitespace or control characters in the URL"
    return None


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def valid_headers(headers, source):
    """The headers HTTP can carry; each invalid one is left out with a warning (value masked)."""
    valid = {}
    for name, value in headers.items():
        name = name.strip() if isinstance(name, str) else ""
        value = value.strip() if isinstance(value, str) else ""
        problem = None
        if not name or not _TOKEN_CHARS.issuperset(name):
            problem = "not a valid header name"
        elif any(ch in value for ch in "\r\n\x00"):
            problem = "line breaks in the value"
        else:
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                problem = "characters HTTP headers cannot carry in the value (percent-encode them)"
        if problem:
            _log.warning("%s: header %r left out: %s", source, name[:64], problem)
            continue
        valid[name] = value
    return valid

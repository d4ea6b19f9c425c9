"""What an OTLP endpoint URL and an export header list may be, checked when an exporter
is built: a bad value is reported once there and never reaches the transport."""

from .. import _log
from ..redaction.secrets import HEADER_NAME_CHARS, shown_header_name


def endpoint_problem(url):
    """Why ``url`` cannot be an OTLP/HTTP endpoint, or None when it can."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError as exc:
        # Never the exception's text: it quotes the part of the URL it choked on, which
        # is half a password when the password holds a "#", "?" or "/".
        return "not a valid URL (%s)" % ("the port is not a number from 0 to 65535" if "port" in str(exc).lower()
                                         else "malformed authority")
    if parts.scheme not in ("http", "https"):
        return "not an http:// or https:// URL"
    if not parts.hostname:
        return "no host in the URL"
    if any(ch in url for ch in "\r\n\t\x00 "):
        return "whitespace or control characters in the URL"
    return None


def valid_headers(headers, source):
    """The headers HTTP can carry; each invalid one is left out with a warning (value masked)."""
    valid = {}
    for name, value in headers.items():
        name = name.strip() if isinstance(name, str) else ""
        value = value.strip() if isinstance(value, str) else ""
        problem = None
        if not name or not HEADER_NAME_CHARS.issuperset(name):
            problem = "not a valid header name"
        elif any(ch in value for ch in "\r\n\x00"):
            problem = "line breaks in the value"
        else:
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                problem = "characters HTTP headers cannot carry in the value (percent-encode them)"
        if problem:
            _log.warning("%s: header %r left out: %s", source, shown_header_name(name), problem)
            continue
        valid[name] = value
    return valid

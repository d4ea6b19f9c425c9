"""W3C Baggage: the ``baggage`` header, name=value pairs that travel with a trace.

Values are percent-encoded on the wire; properties after ``;`` are accepted and
dropped. Limits follow the W3C recommendation (180 members, 8192 bytes in all):
entries past them are ignored rather than failing the request.
"""

from urllib.parse import quote, unquote

_MAX_MEMBERS = 180
_MAX_BYTES = 8192
_TOKEN_EXCLUDED = set('()<>@,;:\\"/[]?={} \t')


def _valid_name(name):
    return bool(name) and all(0x21 <= ord(c) <= 0x7E and c not in _TOKEN_EXCLUDED for c in name)


def parse_baggage(value):
    """Parse a ``baggage`` header into a dict; invalid members are skipped."""
    entries = {}
    if not value or not isinstance(value, str) or len(value) > _MAX_BYTES:
        return entries
    for member in value.split(","):
        if len(entries) >= _MAX_MEMBERS:
            break
        pair = member.split(";", 1)[0]
        name, sep, val = pair.partition("=")
        name = name.strip()
        if not sep or not _valid_name(name):
            continue
        try:
            entries[unquote(name)] = unquote(val.strip(), errors="strict")
        except UnicodeDecodeError:
            continue
    return entries


def format_baggage(entries):
    parts = []
    size = 0
    for name, value in entries.items():
        part = quote(str(name), safe="") + "=" + quote(str(value), safe="")
        size += len(part) + 1
        if size > _MAX_BYTES or len(parts) >= _MAX_MEMBERS:
            break
        parts.append(part)
    return ",".join(parts)


class BaggagePropagator:
    fields = ("baggage",)
    baggage_only = True  # writes nothing for a context without baggage

    def extract(self, get, carried):
        entries = parse_baggage(get("baggage"))
        if entries:
            carried.baggage = dict(carried.baggage or {}, **entries)

    def inject(self, set_header, context, baggage):
        if baggage:
            header = format_baggage(baggage)
            if header:
                set_header("baggage", header)

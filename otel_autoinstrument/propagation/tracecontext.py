"""W3C Trace Context: the ``traceparent`` and ``tracestate`` headers.

Parsing never raises: a malformed header is ignored and a new trace starts, as the
W3C recommendation says. A malformed ``tracestate`` alone is dropped, keeping the parent.
"""

from ..trace.span import SpanContext

_HEX = frozenset("0123456789abcdef")
_MAX_TRACESTATE_MEMBERS = 32


def _is_hex(text):
    return bool(text) and _HEX.issuperset(text)


def parse_traceparent(value):
    """``00-<32 hex>-<16 hex>-<2 hex>`` -> (trace_id, span_id, flags), or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) < 55:
        return None
    version, trace_id, span_id, flags = value[0:2], value[3:35], value[36:52], value[53:55]
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    if not (_is_hex(version) and _is_hex(trace_id) and _is_hex(span_id) and _is_hex(flags)):
        return None
    if version == "ff" or (version == "00" and len(value) != 55):
        return None
    if version != "00" and len(value) > 55 and value[55] != "-":
        return None  # a future version may append fields, but only after a dash
    trace, span = int(trace_id, 16), int(span_id, 16)
    if trace == 0 or span == 0:
        return None
    return trace, span, int(flags, 16)


_LCALPHA = frozenset("abcdefghijklmnopqrstuvwxyz")
_LCALNUM = _LCALPHA | frozenset("0123456789")
_KEY_CHARS = _LCALNUM | frozenset("_-*/")


def _valid_key(key):
    """``simple-key`` (lcalpha first, at most 256) or ``tenant-id@system-id`` (tenant:
    alnum first, at most 241; system: lcalpha first, at most 14), as W3C defines them."""
    tenant, at, system = key.partition("@")
    if not at:
        return 0 < len(key) <= 256 and key[0] in _LCALPHA and _KEY_CHARS.issuperset(key)
    return (0 < len(tenant) <= 241 and tenant[0] in _LCALNUM and _KEY_CHARS.issuperset(tenant)
            and 0 < len(system) <= 14 and system[0] in _LCALPHA and _KEY_CHARS.issuperset(system))


def _valid_value(value):
    if not value or len(value) > 256 or value[-1] == " ":
        return False
    return all(0x20 <= ord(c) <= 0x7E and c not in ",=" for c in value)


def parse_tracestate(value):
    """Validate a ``tracestate`` header; returns the normalized string, '' when invalid."""
    if not value or not isinstance(value, str):
        return ""
    members = []
    seen = set()
    for member in value.split(","):
        member = member.strip()
        if not member:
            continue
        key, sep, val = member.partition("=")
        if not sep or not _valid_key(key) or not _valid_value(val) or key in seen:
            return ""
        seen.add(key)
        members.append(key + "=" + val)
    if len(members) > _MAX_TRACESTATE_MEMBERS:
        return ""
    return ",".join(members)


def format_traceparent(context):
    return "00-%032x-%016x-%02x" % (context.trace_id, context.span_id, context.trace_flags & 0xFF)


class TraceContextPropagator:
    fields = ("traceparent", "tracestate")

    def extract(self, get, carried):
        parsed = parse_traceparent(get("traceparent"))
        if parsed is None:
            return
        trace_id, span_id, flags = parsed
        carried.span_context = SpanContext(trace_id, span_id, flags, parse_tracestate(get("tracestate")),
                                           is_remote=True)

    def inject(self, set_header, context, baggage):
        if context is None or not (context.trace_id and context.span_id):  # is_valid, inlined
            return
        set_header("traceparent", "00-%032x-%016x-%02x" % (  # format_traceparent(), inlined
            context.trace_id, context.span_id, context.trace_flags & 0xFF))
        if context.trace_state:
            set_header("tracestate", context.trace_state)

"""How many bytes an item will take once encoded, estimated on the application's thread.

The batch processor bounds its queue (and each request) by these estimates, so they
must follow what the encoders write: every string counts its length (span names,
status messages, attribute values, the strings inside list values such as captured
headers, event and link attributes, exception stack traces, log bodies of any type,
nested lists and maps included), every attribute a fixed allowance for its key and
framing, every item one for its ids, times and flags.

Cheap on the hot path: for the usual attributes (strings and numbers) it is a few
C-level calls per dict; a list, bytes or map value switches that dict to a walk. A
nested value is walked at most ``MAX_NODES`` nodes and ``MAX_DEPTH`` levels deep; one
larger than that is estimated as ``UNBOUNDED`` (and so dropped as "too large"), which
also ends the walk of a value that contains itself.

Strings count characters: for text outside ASCII the encoded bytes are up to 3 times
more (UTF-8), so the queue's byte bound holds within that factor; request bodies are
cut by their real encoded size (``encoding.MAX_REQUEST_BYTES``), never by the estimate.
"""

from operator import length_hint

from .encoding import MAX_DEPTH

ITEM_BYTES = 64  # ids, times, kind, flags, status and framing of a span or log record
PAIR_BYTES = 24  # one attribute: a typical key, a number, and the framing
MAX_NODES = 10000
UNBOUNDED = 1 << 40
_SCALARS = frozenset((str, int, float, bool))


def attributes_size(attributes, _sum=sum, _map=map, _len=length_hint, _type=type, _scalars=_SCALARS):
    values = attributes.values()
    if _scalars.issuperset(_map(_type, values)):
        return _sum(_map(_len, values)) + PAIR_BYTES * len(values)
    return value_size(attributes)


def value_size(value):
    """The encoded size of any value (a walk: lists, tuples and maps, to MAX_DEPTH)."""
    size = 0
    nodes = 0
    stack = [(value, 0)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH + 1:
            return UNBOUNDED
        kind = type(value)
        if kind is str or kind is bytes:
            size += len(value) + 4
        elif kind is int or kind is float or kind is bool or value is None:
            size += 12
        elif isinstance(value, (list, tuple)):
            size += 4
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, dict):
            size += 4
            for key, item in value.items():
                size += (len(key) if type(key) is str else 16) + 8
                stack.append((item, depth + 1))
        elif isinstance(value, (str, bytes)):
            size += len(value) + 4
        else:
            size += 64  # another object, encoded as its str(): not called here
    return size


def estimate_span(span, _len=len, _sum=sum, _map=map, _hint=length_hint, _type=type, _scalars=_SCALARS):
    """Approximate encoded size of an ended span."""
    attributes = span.attributes
    values = attributes.values()
    if _scalars.issuperset(_map(_type, values)):  # attributes_size(), inlined: the hot path
        size = ITEM_BYTES + _len(span.name) + _sum(_map(_hint, values)) + PAIR_BYTES * _len(values)
    else:
        size = ITEM_BYTES + _len(span.name) + value_size(attributes)
    if span.status_message:
        size += _len(span.status_message)
    events = span.events
    if events:
        for event in events:
            size += 16 + _len(event.name) + attributes_size(event.attributes)
    links = span.links
    if links:
        for link in links:
            size += 48 + attributes_size(link.attributes)
    return size


def estimate_log(record, _len=len):
    """Approximate encoded size of a log record: body (any type) and attributes."""
    body = record.body
    size = ITEM_BYTES + (_len(body) if type(body) is str else value_size(body)) + _len(record.severity_text)
    attributes = record.attributes
    if attributes:
        size += attributes_size(attributes)
    return size

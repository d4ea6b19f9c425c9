"""What every encoder shares: text that always encodes, one item's failure kept to that
item, and request bodies of bounded size.

Strings come from the application (a client's JSON with a lone surrogate such as
``"\\udcff"``, a file name decoded with ``surrogateescape``): UTF-8 cannot carry such
code points, so they are replaced with U+FFFD, in every encoder and the console. The
happy path pays nothing: an encoder encodes an item with strict UTF-8 and only when that
raises does it encode the same item again with ``safe_utf8``.

An item that cannot be encoded at all (a value whose ``str()`` raises, a log body nested
deeper than ``MAX_DEPTH`` or referring to itself) is dropped alone and counted as
``could not be encoded``; the rest of the batch goes out. Items are grouped into request
bodies of at most ``MAX_REQUEST_BYTES`` (measured on the encoded bytes, not estimated);
an item larger than that on its own is dropped as ``too large``.
"""

import codecs

from . import outcome as reasons

MAX_REQUEST_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 16  # nested lists/maps in one value: receivers refuse deep messages (protobuf: 100 levels)
_REPLACE = "otel_autoinstrument.replace"


def _replace_with_fffd(error):
    if isinstance(error, UnicodeEncodeError):
        return b"\xef\xbf\xbd" * (error.end - error.start), error.end  # U+FFFD in UTF-8
    raise error


try:
    codecs.lookup_error(_REPLACE)
except LookupError:
    codecs.register_error(_REPLACE, _replace_with_fffd)


def safe_utf8(text):
    """UTF-8 of ``text`` with every code point UTF-8 cannot carry replaced by U+FFFD."""
    return text.encode("utf-8", _REPLACE)


def safe_text(text):
    """``text`` with lone surrogates replaced by U+FFFD (for text written to a stream)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return safe_utf8(text).decode("utf-8")


class TooDeep(ValueError):
    """A value nested deeper than MAX_DEPTH (or containing itself)."""


class Encoded:
    """What an encoder made of one batch: request bodies, each with its item count, and
    the items it had to drop by reason (``problem``: the first failure, for the log)."""

    __slots__ = ("bodies", "dropped", "problem")

    def __init__(self):
        self.bodies = []
        self.dropped = {}
        self.problem = ""

    def drop(self, reason, detail=""):
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        if detail and not self.problem:
            self.problem = detail


def by_scope(items):
    """[(scope, [items])] in the order the scopes first appear."""
    groups = {}
    scopes = {}
    for item in items:
        scope = item.scope
        key = scope.key if scope is not None else None
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
            scopes[key] = scope
        group.append(item)
    return [(scopes[key], group) for key, group in groups.items()]


def encode_items(items, encode, safe_encode, out):
    """The encoded form (bytes) of each of ``items``; failures are counted in ``out``."""
    done = []
    for item in items:
        try:
            try:
                encoded = encode(item)
            except UnicodeEncodeError:
                encoded = safe_encode(item)
        except (TooDeep, RecursionError) as exc:
            out.drop(reasons.UNENCODABLE, "%s: nested deeper than %d levels" % (type(exc).__name__, MAX_DEPTH))
            continue
        except Exception as exc:  # the type only: the message may carry the application's data
            out.drop(reasons.UNENCODABLE, "%s raised while encoding a value" % type(exc).__name__)
            continue
        done.append(encoded)
    return done


def chunks(groups, limit, out):
    """Split ``[(scope, header size, [encoded item])]`` into requests of at most ``limit``
    bytes: ``[[(scope, [encoded])]]``. A group's header (its scope) counts in each request
    the group appears in."""
    requests = []
    current = []
    used = 0
    for scope, header, encoded in groups:
        group = []
        for item in encoded:
            size = len(item)
            if size + header > limit:
                out.drop(reasons.TOO_LARGE, "an item of %d bytes encoded" % size)
                continue
            need = size if group else size + header
            if used + need > limit:
                if group:
                    current.append((scope, group))
                requests.append(current)
                current, group, used = [], [], 0
                need = size + header
            group.append(item)
            used += need
        if group:
            current.append((scope, group))
    if current:
        requests.append(current)
    return requests

"""What one export call did with a batch: how many were delivered, how many dropped and why."""

# Drop reasons, counted per signal; the names appear in the agent's log messages.
QUEUE_FULL = "queue full"
EXPORT_FAILED = "export failed"
REJECTED = "rejected by the receiver"
REDIRECTED = "redirected by the receiver"
MISCONFIGURED = "exporter misconfigured"
SHUTDOWN = "not exported before the exit bound"
TOO_LARGE = "too large"
UNENCODABLE = "could not be encoded"


class Outcome:
    """``exported`` delivered, ``dropped`` lost for ``reason``; ``also`` holds other
    drops of the same batch by reason (items the encoder could not encode, say)."""

    __slots__ = ("exported", "dropped", "reason", "detail", "also")

    def __init__(self, exported=0, dropped=0, reason=None, detail="", also=None):
        self.exported = exported
        self.dropped = dropped
        self.reason = reason
        self.detail = detail
        self.also = also

    def __repr__(self):
        return "Outcome(exported=%d, dropped=%d, reason=%r, also=%r)" % (
            self.exported, self.dropped, self.reason, self.also)

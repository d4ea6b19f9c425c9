"""What one export call did with a batch: how many were delivered, how many dropped and why."""

# Drop reasons, counted per signal; the names appear in the agent's log messages.
QUEUE_FULL = "queue full"
EXPORT_FAILED = "export failed"
REJECTED = "rejected by the receiver"
MISCONFIGURED = "exporter misconfigured"
SHUTDOWN = "not exported before the exit bound"
TOO_LARGE = "too large"


class Outcome:
    __slots__ = ("exported", "dropped", "reason", "detail")

    def __init__(self, exported=0, dropped=0, reason=None, detail=""):
        self.exported = exported
        self.dropped = dropped
        self.reason = reason
        self.detail = detail

    def __repr__(self):
        return "Outcome(exported=%d, dropped=%d, reason=%r)" % (self.exported, self.dropped, self.reason)

"""An in-memory span processor for in-process tests: it keeps every ended span."""


class MemoryProcessor:
    def __init__(self):
        self.spans = []

    def on_end(self, span):
        self.spans.append(span)

    def force_flush(self, timeout_s=None):
        return True

    def shutdown(self, timeout_s=None):
        pass

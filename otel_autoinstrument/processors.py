"""The processors of one signal, as one: what the tracer provider and the log pipeline
hand their ended items to, and what flush and shutdown walk with one shared deadline."""

import time


def within(targets, method, timeout_s, guard=None):
    """Call ``target.method(remaining_s)`` on each target in turn, all within ``timeout_s``.
    With ``guard(what)``, a target that raises is reported there and the others still run."""
    deadline = time.monotonic() + timeout_s
    for target in targets:
        if target is None:
            continue
        remaining = max(0.0, deadline - time.monotonic())
        if guard is None:
            getattr(target, method)(remaining)
            continue
        try:
            getattr(target, method)(remaining)
        except Exception:
            guard(method)


class Processors(list):
    """A list of processors that is itself a processor: ``on_end`` hands an item to each."""

    __slots__ = ()

    def on_end(self, item):
        for processor in self:
            processor.on_end(item)

    def dispatcher(self):
        """What hands an item to every processor, at the least cost: the one processor's
        own ``on_end`` when there is just one (a call less per item), else this list's."""
        return self[0].on_end if len(self) == 1 else self.on_end

    def force_flush(self, timeout_s=5.0):
        within(self, "force_flush", timeout_s)

    def shutdown(self, timeout_s=5.0):
        within(self, "shutdown", timeout_s)

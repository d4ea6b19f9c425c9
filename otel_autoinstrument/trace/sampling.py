"""Head samplers of the specification, selected by OTEL_TRACES_SAMPLER(_ARG).

A sampler answers one question for a new span: record and export it, or not. The
decision is a bool; ``parentbased_*`` follow a valid parent's sampled flag and use
their root sampler only for new traces.
"""

_TRACE_ID_LOW = (1 << 64) - 1


class AlwaysOn:
    description = "AlwaysOnSampler"

    def should_sample(self, parent, trace_id):
        return True


class AlwaysOff:
    description = "AlwaysOffSampler"

    def should_sample(self, parent, trace_id):
        return False


class TraceIdRatio:
    """Samples a fixed share of traces, deciding from the trace id's low 64 bits so that
    every process of the trace decides alike."""

    def __init__(self, ratio):
        self.ratio = ratio
        self.bound = round(ratio * (1 << 64))
        self.description = "TraceIdRatioBased{%s}" % ratio

    def should_sample(self, parent, trace_id):
        return (trace_id & _TRACE_ID_LOW) < self.bound


class ParentBased:
    def __init__(self, root):
        self.root = root
        self.description = "ParentBased{root:%s}" % root.description

    def should_sample(self, parent, trace_id):
        if parent is not None and parent.is_valid:
            return bool(parent.trace_flags & 1)
        return self.root.should_sample(parent, trace_id)


def from_settings(name, ratio):
    """Build the sampler named by OTEL_TRACES_SAMPLER (already validated by config)."""
    base, _, root = name.partition("_") if name.startswith("parentbased_") else ("", "", name)
    if root == "always_off":
        sampler = AlwaysOff()
    elif root == "traceidratio":
        sampler = TraceIdRatio(ratio)
    else:
        sampler = AlwaysOn()
    return ParentBased(sampler) if base == "parentbased" else sampler

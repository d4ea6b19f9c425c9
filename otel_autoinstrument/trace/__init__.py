"""The tracing core: span model, context, samplers, tracer."""

"""The OpenTelemetry API served by the agent's core: an adapter at the edge.

Imported only when the application imports an ``opentelemetry`` API module (the import
hooks of ``agent/apibridge.py``); the core never imports the API. ``context`` serves the
API's runtime context from the core's context variables, ``spans`` presents core spans as
API spans, ``trace``, ``propagate``, ``logs`` and ``metrics`` are the providers installed
with the API's own setters, ``contrib`` runs the official instrumentation packages on this core.
See docs/opentelemetry-api.md.
"""

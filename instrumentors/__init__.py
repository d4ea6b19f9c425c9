"""Built-in instrumentors, shipped as ``otel_autoinstrument.instrumentors``.

Each module instruments one library through the public plugin API
(``otel_autoinstrument.instrumentation``) and is registered as an entry point in
``pyproject.toml``, exactly as a third-party plugin would be.
"""

"""Starlette and FastAPI: a SERVER span per HTTP request (and per WebSocket connection),
named after the matched route template (``GET /items/{item_id}``).

Patched where each class builds its middleware stack, ``build_middleware_stack``: the
stack it returns is wrapped once by the shared ASGI tracing
(``otel_autoinstrument.instrumentation.asgi``), outside every middleware, so the span
covers the exception handlers and the user's middleware too. Starlette builds the
stack on the first request, so every application is traced, whether it was created
before or after the agent loaded (even when the application imported the framework
before the agent: see the README), and the ``Starlette`` class is never swapped.
``FastAPI`` subclasses ``Starlette`` but defines its own ``build_middleware_stack``
without calling Starlette's: it is patched too, by the ``fastapi`` instrumentor, which
has its own name (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=fastapi``) and excluded-URL
variable, and turns off FastAPI's own request spans and metrics
(``no_native_request_telemetry``). A mounted application's own stack sees that the
request is already traced and leaves it alone.

The route is read when the response starts: Starlette's router puts the matched route
in ``scope["route"]`` (FastAPI's ``APIRoute.path`` includes the router prefixes);
through ``Mount``\\s the mounts' templates are put in front. Older Starlette versions
that do not set ``scope["route"]`` are matched against the application's routes, as
the official instrumentation does. No match (a 404) keeps the name ``{method}``.
"""

from otel_autoinstrument.instrumentation import Instrumentor, internal_error


class StarletteInstrumentor(Instrumentor):
    name = "starlette"
    requires = ("starlette >= 0.27",)
    modules = ("starlette.applications",)
    target = ("starlette.applications", "Starlette.build_middleware_stack")
    excluded_variable = "OTEL_PYTHON_STARLETTE_EXCLUDED_URLS"

    def patches(self):
        from otel_autoinstrument.instrumentation.asgi import AsgiTracing

        self._tracing = AsgiTracing(self, self.excluded_variable, route=route_template)
        module, path = self.target
        return [(module, path, self._build_middleware_stack)]

    def _uninstrument(self):
        # Stacks already built keep the wrapper: it passes every request through.
        tracing = getattr(self, "_tracing", None)
        if tracing is not None:
            tracing.active = False

    def _build_middleware_stack(self, wrapped, instance, args, kwargs):
        stack = wrapped(*args, **kwargs)
        try:
            return self._tracing.wrap_app(stack, instance)
        except Exception:
            internal_error("wrapping a Starlette middleware stack")
            return stack


class FastAPIInstrumentor(StarletteInstrumentor):
    name = "fastapi"
    requires = ("fastapi >= 0.100",)
    modules = ("fastapi",)
    target = ("fastapi.applications", "FastAPI.build_middleware_stack")
    excluded_variable = "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS"

    def _build_middleware_stack(self, wrapped, instance, args, kwargs):
        try:
            no_native_request_telemetry(instance)
        except Exception:
            internal_error("turning FastAPI's own request spans and metrics off")
        return super()._build_middleware_stack(wrapped, instance, args, kwargs)


def no_native_request_telemetry(app):
    """Recent FastAPI versions trace and measure requests themselves as soon as an
    OpenTelemetry tracer or meter provider is set globally (the agent's OpenTelemetry API
    bridge sets both when FastAPI imports the API): a second SERVER span per request, made
    without the agent's settings (redaction, header capture, excluded URLs), with INTERNAL
    spans for the dependencies, the endpoint and the serialization under it, and a second
    ``http.server.request.duration`` and ``http.server.active_requests`` (counting every
    request twice). For the apps the agent traces, FastAPI's own spans and metrics are
    turned off, each unless the application gave FastAPI a provider of its own; its log
    records are left as they are."""
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict):
        return
    if config.get("tracing") and config.get("tracer_provider") is None:
        config["tracing"] = False
    if config.get("metrics") and config.get("meter_provider") is None:
        config["metrics"] = False


def route_template(scope, app):
    """The template of the route that handled this request, or None."""
    route = scope.get("route")
    if route is None:
        return _matched_route(scope, app)
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    if "app_root_path" in scope:  # came through a Mount
        return _mounted(scope, app, route, path)
    return path or "/"


def _mounted(scope, app, target, path):
    """The templates of the mounts in front of ``target``'s, found again from the top."""
    root = scope["app_root_path"]
    request_path = scope.get("path", "")
    if root and request_path.startswith(root):
        request_path = request_path[len(root):]
    prefix = _mount_prefix(getattr(app, "routes", ()), request_path, target, 0)
    if prefix is None:
        return path or "/"
    return (prefix + path) or "/"


def _mount_prefix(routes, request_path, target, depth):
    """``"/api/v1"`` for a route reached through those mounts; "" if it is one of
    ``routes``; None if it is not found (bounded depth)."""
    if depth > 8:
        return None
    for route in routes:
        if route is target:
            return ""
        inner = getattr(route, "routes", None)
        regex = getattr(route, "path_regex", None)
        if not inner or regex is None:
            continue
        match = regex.match(request_path)
        if match is None or "path" not in match.groupdict():
            continue
        found = _mount_prefix(inner, "/" + match.group("path"), target, depth + 1)
        if found is not None:
            return route.path + found
    return None


def _matched_route(scope, app):
    """Starlette before ``scope["route"]``: match the application's routes."""
    routes = getattr(app, "routes", None)
    if not routes or "endpoint" not in scope:
        return None
    from starlette.routing import Match

    if "app_root_path" in scope:
        scope = dict(scope, root_path=scope["app_root_path"])
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return getattr(route, "path", None)
        if match is Match.PARTIAL and partial is None:
            partial = route
    return getattr(partial, "path", None)

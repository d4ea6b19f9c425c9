"""At start-up, the OpenTelemetry API bridge and the contrib instrumentors are only hooks.

When ``opentelemetry-api`` is installed, one import hook per API module loads the
matching part of ``otel_autoinstrument.bridge`` right after the application imports
that module (``HOOKS``); contrib instrumentors get import hooks on the libraries they
instrument (``agent/contrib.py`` plans them from metadata). Nothing of the API or of
the bridge is imported here: a process that never imports ``opentelemetry`` pays one
dictionary entry per hook.

Each signal is one entry of ``HOOKS``: ``install(agent, module)`` of the named bridge
module calls the API module's own setter (``set_meter_provider`` for metrics).

The runtime context is the one part the API lets no setter replace: it reads
``OTEL_PYTHON_CONTEXT`` once, while ``opentelemetry.context`` imports, and loads that
``opentelemetry_context`` entry point. The variable is set for exactly that import
(so child processes do not inherit it) when our entry point is installed.
"""

import os

from .. import _log
from .contrib import plan
from .discovery import CONTEXT_GROUP
from .importhooks import before_import, when_imported

API_DISTRIBUTION = "opentelemetry-api"
# The oldest API the bridge is tested with (tests/e2e/test_api_versions.py).
API_SUPPORTED = ">= 1.20"
CONTEXT_VARIABLE = "OTEL_PYTHON_CONTEXT"
CONTEXT_NAME = "otel_autoinstrument"
HOOKS = {
    "opentelemetry.context": "otel_autoinstrument.bridge.context:install",
    "opentelemetry.trace": "otel_autoinstrument.bridge.trace:install",
    "opentelemetry.propagate": "otel_autoinstrument.bridge.propagate:install",
    "opentelemetry._logs": "otel_autoinstrument.bridge.logs:install",
    "opentelemetry.metrics": "otel_autoinstrument.bridge.metrics:install",
}


class ApiState:
    """What the agent does with the OpenTelemetry API in this process (``--info`` shows it)."""

    __slots__ = ("version", "status", "detail", "served")

    def __init__(self, version):
        self.version = version
        self.status = "not_installed" if version is None else "waiting"
        self.detail = ""
        self.served = []  # API modules the agent serves so far


def api_state(installed):
    """The installed API and whether the agent serves it (``waiting``: on first import)."""
    from ..instrumentation import satisfies

    api = ApiState(installed.version(API_DISTRIBUTION))
    if api.version is not None and not satisfies(api.version, API_SUPPORTED):
        api.status = "unsupported"
        api.detail = "%s %s is installed; the agent serves %s %s" % (
            API_DISTRIBUTION, api.version, API_DISTRIBUTION, API_SUPPORTED)
    return api


def planned_contrib(installed, disabled, ours, api):
    """The contrib instrumentors' states; none loads without an API the agent serves."""
    from ..instrumentation import satisfies

    states = plan(installed, disabled, ours, satisfies)
    if api.status in ("not_installed", "unsupported"):
        for state in states:
            if state.status == "waiting":
                state.status = "skipped"
                state.detail = api.detail or "%s is not installed" % API_DISTRIBUTION
    return states


def install(agent, installed, disabled, ours):
    """Plan the contrib instrumentors and register the API's import hooks."""
    api = agent.api = api_state(installed)
    agent.contrib = {state.name: state for state in planned_contrib(installed, disabled, ours, api)}
    if api.status == "unsupported":
        _log.warning("%s: API calls stay no-ops and contrib instrumentors are not loaded", api.detail)
    if api.status != "waiting":
        return
    if any(ep.name == CONTEXT_NAME and ep.distribution == "otel-autoinstrument"
           for ep in installed.groups.get(CONTEXT_GROUP, ())):
        before_import("opentelemetry.context", _select_our_context)
    when_imported("opentelemetry.context", _restore_context_variable)
    for module, target in HOOKS.items():
        when_imported(module, _server(agent, target))
    for state in agent.contrib.values():
        if state.status == "waiting":
            for module in state.modules:
                when_imported(module, _contrib_hook(agent, state, "activate"))
        elif state.status == "skipped" and state.detail.startswith("the agent's own"):
            when_imported(state.entry_point.value.partition(":")[0].strip(), _contrib_hook(agent, state, "neutralize"))


_saved_context_variable = []


def _select_our_context():
    """Right before ``opentelemetry.context`` runs: name our runtime context."""
    previous = os.environ.get(CONTEXT_VARIABLE)
    _saved_context_variable.append(previous)
    if previous and previous != CONTEXT_NAME:
        _log.warning("%s=%s is replaced by %s: the agent and the OpenTelemetry API share one context",
                     CONTEXT_VARIABLE, previous, CONTEXT_NAME)
    os.environ[CONTEXT_VARIABLE] = CONTEXT_NAME


def _restore_context_variable(module):
    """Right after ``opentelemetry.context`` ran: the variable as the application had it."""
    while _saved_context_variable:
        previous = _saved_context_variable.pop()
        if previous is None:
            os.environ.pop(CONTEXT_VARIABLE, None)
        else:
            os.environ[CONTEXT_VARIABLE] = previous


def _server(agent, target):
    def serve(module):
        import importlib

        module_name, _, function = target.partition(":")
        getattr(importlib.import_module(module_name), function)(agent, module)
        agent.api.served.append(module.__name__)
        agent.api.status = "active"

    return serve


def _contrib_hook(agent, state, what):
    def hook(module):
        from ..bridge import contrib

        getattr(contrib, what)(agent, state, module)

    return hook

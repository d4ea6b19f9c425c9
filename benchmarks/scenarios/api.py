"""The OpenTelemetry API on this core (issue 13), against this agent's own API and the SDK:
  api-span-cost      µs per span (start, 3 attributes, end) through `opentelemetry.trace`
                     on this core (`this+api`), through this agent's own API (`this`), and
                     through the official SDK (`official`)
  api-startup-pass   `otel-run python -c pass`, with the API and ten contrib instrumentation
                     packages installed (`this+api`) and without (`this`), 20 runs
  api-startup-flask  the same for `python -c "import flask"`
  api-import-logging, api-import-api   `python -c "import logging"` and `python -c "import
                     logging, opentelemetry.trace"` without the agent and under otel-run: the
                     difference between the two added costs is the bridge's (importing
                     logging alone already builds the agent's log pipeline)

`this+api` runs from its own venv (contenders.API_CONTENDERS), only in these scenarios.
"""
import dataclasses

from . import inprocess, startup

IDS = ["api-span-cost", "api-startup-pass", "api-startup-flask", "api-import-logging", "api-import-api"]
IMPORTS = {"api-import-logging": "import logging", "api-import-api": "import logging, opentelemetry.trace"}
STARTUP_RUNS = 20


def _with_api(ctx):
    """ctx's runtimes plus `this+api` (None when it cannot be built, e.g. in smoke runs
    from the test environment, which has no API installed)."""
    import contenders as C
    import venvs

    if ctx.smoke:
        return None, "smoke run: the API venv is not built"
    extra = venvs.runtimes(C.API_CONTENDERS, C.VENVS, log=ctx.log)
    live = [rt for rt in extra if not rt.skipped]
    if not live:
        return None, "; ".join(rt.skipped for rt in extra)
    modules = dict(ctx.modules)
    for rt in live:
        modules[rt.name] = modules.get("this", set())
    return dataclasses.replace(ctx, runtimes=list(ctx.runtimes) + live, modules=modules), None


def _only(ctx, names):
    return dataclasses.replace(ctx, runtimes=[rt for rt in ctx.runtimes if rt.name in names])


def _bare_api(ctx):
    """`this+api` and the same venv without the launcher (`bare+api`, the baseline)."""
    (api,) = [rt for rt in ctx.runtimes if rt.name == "this+api"]
    bare = dataclasses.replace(api, command_prefix=[], contender=dataclasses.replace(
        api.contender, name="bare+api", launcher=[], role="baseline"))
    return dataclasses.replace(ctx, runtimes=[bare, api], baseline="bare+api")


def run(ctx, settings, ids):
    full, why = _with_api(ctx)
    out = []
    for sid in ids:
        if full is None:
            rec = startup.scenario_record(sid, "OpenTelemetry API: " + sid, "", "")
            rec["skipped"] = why
            out.append(rec)
        elif sid == "api-span-cost":
            out.append(inprocess._spans(
                _only(full, ("this", "this+api", "official")), settings, sid, settings.span_n,
                settings.span_warmup, settings.span_rounds, inprocess.SPAN_COLUMNS,
                "In-process: one span (start, 3 attributes, end) through the OpenTelemetry API on this "
                "core (this+api), this agent's own API (this), the official SDK (official)",
                "time per span, median", "µs", "lower"))
        elif sid in IMPORTS:
            out.append(startup.measure(_bare_api(full), settings, sid, IMPORTS[sid], [],
                                       "`python -c \"%s\"` without the agent (bare+api) and under otel-run "
                                       "(this+api)" % IMPORTS[sid], STARTUP_RUNS))
        else:
            code, mods = ("pass", []) if sid == "api-startup-pass" else ("import flask", ["flask"])
            out.append(startup.measure(_only(full, ("bare", "this", "this+api")), settings, sid, code, mods,
                                       "Start-up with the API and ten contrib packages installed (this+api) "
                                       "and without (this): `otel-run python -c \"%s\"`" % code,
                                       STARTUP_RUNS))
    return out

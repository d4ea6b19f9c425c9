"""Scenarios 7-8, metrics:
  metrics-per-request  µs the metrics add per request: each agent runs apps/metrics_work.py
                       (a Flask request through the WSGI callable, a SQLAlchemy statement, a
                       requests call, all in process; CPU time per operation) with
                       OTEL_METRICS_EXPORTER=otlp and =none,
                       interleaved; the paired differences per operation, summed as one
                       request that makes one statement and one call (the three duration
                       histograms, plus the server's active-requests counter)
  runtime-metrics      µs per collection of the process/runtime metrics: the agent's own
                       (/proc, os.times, resource, gc) and the official
                       opentelemetry-instrumentation-system-metrics (psutil), in process
"""
from .common import APPS, last_json_line, median, rotate, run_measured, scenario_record

IDS = ["metrics-per-request", "runtime-metrics"]

REQUEST_COLUMNS = [("server_us", "server request +µs", "%+.2f"), ("db_us", "SQL statement +µs", "%+.2f"),
                   ("client_us", "HTTP client call +µs", "%+.2f"), ("total_us", "per request +µs", "%+.2f"),
                   ("off_total_us", "same operations, metrics off, µs", "%.0f"), ("runs", "runs", "%d")]
RUNTIME_COLUMNS = [("us", "µs per collection (median)", "%.0f"), ("points", "points", "%d"),
                   ("runs", "runs", "%d")]
_OPS = (("server_us", "wsgi_us"), ("db_us", "sql_us"), ("client_us", "http_us"))


def _once(ctx, settings, rt, service, metrics_on):
    extra = {"OTEL_METRICS_EXPORTER": "otlp" if metrics_on else "none"}
    res = run_measured(rt.cmd("python", str(APPS / "metrics_work.py"), ctx.upstream_url(),
                              str(settings.metrics_wsgi_n), str(settings.metrics_sql_n),
                              str(settings.metrics_http_n), str(settings.metrics_warmup)),
                       ctx.env_for(rt, service, extra), cwd=ctx.tmp, timeout=settings.proc_timeout)
    out = last_json_line(res["stdout"])
    if res["rc"] != 0 or not out:
        raise RuntimeError("exit %s: %s" % (res["rc"], res["stderr"].strip()[-600:]))
    return out


def per_request(ctx, settings):
    rec = scenario_record("metrics-per-request", "Metrics added per request: the server, client and database "
                          "duration histograms (metrics on vs off, same agent, in process)",
                          "added CPU µs per request (median of paired rounds)", "µs", columns=REQUEST_COLUMNS)
    rts, why = ctx.able(["flask", "sqlalchemy", "requests"])
    rts = [rt for rt in rts if rt.contender.launcher]  # the bare app has no metrics to switch
    rec["notes"] += why
    rec["notes"].append("each agent against itself with metrics off: traces and logs are exported in both runs")
    if not rts:
        rec["skipped"] = "; ".join(why) or "no agent"
        return rec
    ctx.log("metrics-per-request: %d rounds x 2 runs x %d contenders" % (settings.metrics_rounds, len(rts)))
    diffs = {rt.name: [] for rt in rts}
    errors = {}
    for r in range(settings.metrics_rounds):
        for rt in rotate(rts, r):
            if rt.name in errors:
                continue
            order = (True, False) if r % 2 == 0 else (False, True)
            try:
                runs = {on: _once(ctx, settings, rt, "bench-metrics-%s-%d-%s" % (rt.name, r, on), on)
                        for on in order}
            except RuntimeError as exc:
                errors[rt.name] = str(exc)
                continue
            diffs[rt.name].append({name: runs[True][key] - runs[False][key] for name, key in _OPS})
            diffs[rt.name][-1]["off_total_us"] = sum(runs[False][key] for _, key in _OPS)
    for rt in rts:
        rounds = diffs[rt.name]
        if not rounds:
            rec["results"][rt.name] = {"error": errors.get(rt.name, "no run")}
            continue
        fig = {name: median([x[name] for x in rounds]) for name, _ in _OPS}
        fig["total_us"] = median([sum(x[name] for name, _ in _OPS) for x in rounds])
        fig["off_total_us"] = median([x["off_total_us"] for x in rounds])
        fig["runs"] = len(rounds)
        rec["results"][rt.name] = {"value": fig["total_us"], "added": None, "figures": fig, "delivery": None}
    return rec


def runtime_collection(ctx, settings):
    rec = scenario_record("runtime-metrics", "One collection of the process and runtime metrics, in process",
                          "µs per collection (median)", "µs", columns=RUNTIME_COLUMNS)
    this = next((rt for rt in ctx.runtimes if rt.contender.role == "subject"), None)
    candidates = [("this", this.python if this else None),
                  ("official", ctx.extra_pythons.get("official-system-metrics"))]
    rec["notes"].append("official: opentelemetry-instrumentation-system-metrics %s with its default metrics "
                        "(psutil), collected by the SDK's InMemoryMetricReader"
                        % ctx.extra_versions.get("official-system-metrics", ""))
    for name, python in candidates:
        if not python:
            rec["results"][name] = {"error": "its environment is not available"}
            continue
        runs, error = [], None
        for _ in range(settings.runtime_rounds):
            res = run_measured([python, str(APPS / "runtime_metrics_work.py"), name, str(settings.runtime_n)],
                               ctx.base_env(), cwd=ctx.tmp, timeout=settings.proc_timeout)
            out = last_json_line(res["stdout"])
            if res["rc"] != 0 or not out:
                error = "exit %s: %s" % (res["rc"], res["stderr"].strip()[-600:])
                break
            runs.append(out)
        if error:
            rec["results"][name] = {"error": error}
            continue
        fig = {"us": median([x["us"] for x in runs]), "points": runs[-1]["points"], "runs": len(runs)}
        rec["results"][name] = {"value": fig["us"], "added": None, "figures": fig, "delivery": None}
    return rec


def run(ctx, settings, ids):
    out = []
    if "metrics-per-request" in ids:
        out.append(per_request(ctx, settings))
    if "runtime-metrics" in ids:
        out.append(runtime_collection(ctx, settings))
    return out

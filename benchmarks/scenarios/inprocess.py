"""Scenarios 4-6, each a script run under the contender's launcher (apps/*_work.py):
  span-cost          µs per manual-API span (start, 3 attributes, end), export running
  export-throughput  spans/s delivered to the sink when produced flat out; dropped
  requests-call / httpx-call / sql-statement   µs per traced `requests` call, httpx call,
                                 SQLAlchemy statement
"""
from .common import (APPS, delivered, delivery, last_json_line, median, per_call_results, per_call_runs, rotate,
                     run_measured, scenario_record)

IDS = ["span-cost", "export-throughput", "requests-call", "httpx-call", "sql-statement"]

SPAN_COLUMNS = [("us_per_span", "µs/span (median)", "%.2f"),
                ("cpu_us_per_span", "CPU µs/span incl. export", "%.1f"),
                ("created", "created", "%d"),
                ("delivered", "delivered", "%d"), ("exit_s", "process s (median)", "%.2f"),
                ("runs", "runs", "%d")]
EXPORT_COLUMNS = [("delivered_per_s", "delivered spans/s (median)", "%.0f"),
                  ("produced_per_s", "produced spans/s", "%.0f"), ("created", "created", "%d"),
                  ("delivered", "delivered", "%d"), ("dropped", "dropped", "%d"),
                  ("runs", "runs", "%d")]
CALL_COLUMNS = [("us", "µs/call (median)", "%.1f"), ("added_us", "added µs/call", "%+.1f"),
                ("runs", "runs", "%d")]


def _run_spans(ctx, settings, rt, service, n, warmup):
    return run_measured(rt.cmd("python", str(APPS / "spans_work.py"), rt.contender.tracer,
                               str(n), str(warmup)),
                        ctx.env_for(rt, service), cwd=ctx.tmp, timeout=settings.proc_timeout)


def _cpu_per_span(ctx, settings, rt, r):
    """Process CPU (all threads: export included) of 10 + `cpu_n` spans minus that of 10
    spans (which already pays the one-off costs: lazy imports of the exporter, first
    connection), per span; cpu_n fits the default queue, so every span is exported."""
    n = settings.span_cpu_n
    empty = _run_spans(ctx, settings, rt, "bench-span-cpu0-%s-%d" % (rt.name, r), 10, 0)
    full = _run_spans(ctx, settings, rt, "bench-span-cpu-%s-%d" % (rt.name, r), 10 + n, 0)
    if empty["rc"] or full["rc"]:
        return None
    return (full["cpu_s"] - empty["cpu_s"]) / n * 1e6


def _spans(ctx, settings, sid, n, warmup, rounds, columns, title, metric, unit, better):
    rec = scenario_record(sid, title, metric, unit, better=better, columns=columns)
    rts = [rt for rt in ctx.runtimes if rt.contender.tracer]
    sitting_out = [rt.name for rt in ctx.runtimes if not rt.contender.tracer]
    if sitting_out:
        rec["notes"].append("no manual tracing API, not run: " + ", ".join(sitting_out))
    if not rts:
        rec["skipped"] = "no contender has a manual API"
        return rec
    ctx.log("%s: %d rounds x %d spans x %d contenders" % (sid, rounds, n, len(rts)))
    runs = {rt.name: [] for rt in rts}
    errors = {}
    for r in range(rounds):
        for rt in rotate(rts, r):
            if rt.name in errors:
                continue
            service = "bench-%s-%s-%d" % (sid, rt.name, r)
            res = _run_spans(ctx, settings, rt, service, n, warmup)
            out = last_json_line(res["stdout"])
            if res["rc"] != 0 or not out:
                errors[rt.name] = "exit %s: %s" % (res["rc"], res["stderr"].strip()[-600:])
                continue
            spans, _, d = delivered(ctx.sink, service)
            out.update(delivered=spans, wall_s=res["wall_s"], last=d.get("last"))
            if sid == "span-cost":
                out["cpu_us_per_span"] = _cpu_per_span(ctx, settings, rt, r)
            runs[rt.name].append(out)
    for rt in rts:
        rs = runs[rt.name]
        if not rs:
            rec["results"][rt.name] = {"error": errors.get(rt.name, "no run")}
            continue
        created = sum(x["created"] for x in rs)
        got = sum(x["delivered"] for x in rs)
        # The warm-up spans were delivered before the timed burst began: not in the rate.
        rates = [max(0, x["delivered"] - (x["created"] - x["timed"])) / (x["last"] - x["t_start"])
                 if x["delivered"] and x["last"] and x["last"] > x["t_start"] else 0.0 for x in rs]
        fig = {"us_per_span": median([x["us_per_span"] for x in rs]), "created": created,
               "delivered": got, "dropped": max(0, created - got),
               "exit_s": median([x["wall_s"] for x in rs]), "runs": len(rs),
               "cpu_us_per_span": median([x.get("cpu_us_per_span") for x in rs]),
               "delivered_per_s": median(rates),
               "produced_per_s": median([x["timed"] / x["seconds"] for x in rs if x["seconds"]])}
        value = fig["delivered_per_s"] if better == "higher" else fig["us_per_span"]
        res = {"value": value, "added": None, "figures": fig, "delivery": delivery(created, got)}
        if rt.name in errors:
            res["error"] = errors[rt.name]
        rec["results"][rt.name] = res
    return rec


def _calls(ctx, settings, ids):
    http = scenario_record("requests-call", "In-process: one traced `requests` GET (keep-alive "
                           "Session) to a local server", "time per call, median", "µs",
                           columns=CALL_COLUMNS)
    httpx = scenario_record("httpx-call", "In-process: one traced httpx GET (keep-alive `Client`) to "
                            "a local server", "time per call, median", "µs", columns=CALL_COLUMNS)
    sql = scenario_record("sql-statement", "In-process: one SQLAlchemy statement on SQLite "
                          "(:memory:)", "time per statement, median", "µs", columns=CALL_COLUMNS)
    recs = [r for r in (http, httpx, sql) if r["id"] in ids]
    rts, why = ctx.able(["requests", "httpx", "sqlalchemy"])
    for rec in recs:
        rec["notes"] += why
        rec["notes"].append("delivery counts the spans of the whole script (requests and httpx "
                            "calls and SQL statements together)")
    if not rts:
        for rec in recs:
            rec["skipped"] = "; ".join(why)
        return recs
    n_http, n_sql, rounds = settings.calls_http_n, settings.calls_sql_n, settings.calls_rounds
    ctx.log("calls: %d rounds x (%d requests + %d statements) x %d contenders"
            % (rounds, n_http, n_sql, len(rts)))
    runs, errors = per_call_runs(ctx, settings, rts, rounds, "calls",
                                 (str(APPS / "calls_work.py"), ctx.upstream_url(), str(n_http), str(n_sql),
                                  str(settings.calls_warmup)))
    per_call_results(ctx, rts, runs, errors, ((http, "http_us"), (httpx, "httpx_us"), (sql, "sql_us")),
                     ("http_calls", "sql_statements"))
    return recs


def run(ctx, settings, ids):
    out = []
    if "span-cost" in ids:
        ctx.log("span-cost: also CPU per exported span (%d spans vs none)" % settings.span_cpu_n)
        out.append(_spans(ctx, settings, "span-cost", settings.span_n, settings.span_warmup,
                          settings.span_rounds, SPAN_COLUMNS,
                          "In-process: one span (start, 3 attributes, end) via the manual API, "
                          "exporting to the sink", "time per span, median", "µs", "lower"))
    if "export-throughput" in ids:
        out.append(_spans(ctx, settings, "export-throughput", settings.export_n, settings.span_warmup,
                          settings.export_rounds, EXPORT_COLUMNS,
                          "Export throughput: spans produced flat out, default batch settings",
                          "spans/s delivered to the sink, median", "spans/s", "higher"))
    if "requests-call" in ids or "httpx-call" in ids or "sql-statement" in ids:
        out += _calls(ctx, settings, ids)
    return out

"""Scenario 1: start-up wall time and peak RSS of `LAUNCHER python -c CODE`."""
from .common import median, rotate, run_measured, scenario_record

CASES = [
    ("startup-pass", "pass", []),
    ("startup-imports", "import flask, requests, sqlalchemy", ["flask", "requests", "sqlalchemy"]),
]
IDS = [c[0] for c in CASES]
COLUMNS = [("wall_ms", "wall ms (median)", "%.1f"), ("added_ms", "added ms", "%+.1f"),
           ("rss_mb", "peak RSS MB", "%.1f"), ("added_rss_mb", "added RSS MB", "%+.1f"),
           ("runs", "runs", "%d")]


def run(ctx, settings, ids):
    return [measure(ctx, settings, sid, code, mods) for sid, code, mods in CASES if sid in ids]


def measure(ctx, settings, sid, code, mods, title=None, runs=None):
    """One start-up record: `LAUNCHER python -c CODE` for every runtime of ctx, interleaved."""
    runs = runs or settings.startup_runs
    rec = scenario_record(sid, title or "Start-up: `LAUNCHER python -c \"%s\"`" % code,
                          "wall time, median", "ms", columns=COLUMNS)
    rts, why = ctx.able(mods)
    rec["notes"] += why
    if not rts:
        rec["skipped"] = "; ".join(why) or "no contender can run it"
        return rec
    walls = {rt.name: {} for rt in rts}
    rss = {rt.name: {} for rt in rts}
    errors = {}
    ctx.log("%s: %d runs x %d contenders" % (sid, runs, len(rts)))
    for r in range(-settings.startup_warmup, runs):
        for rt in rotate(rts, r):
            if rt.name in errors:
                continue
            res = run_measured(rt.cmd("python", "-c", code),
                               ctx.env_for(rt, "bench-startup-" + rt.name), cwd=ctx.tmp,
                               timeout=120)
            if res["rc"] != 0:
                errors[rt.name] = "exit %s: %s" % (res["rc"], res["stderr"].strip()[-600:])
            elif r >= 0:  # negative rounds are warm-up (pyc caches, page cache)
                walls[rt.name][r] = res["wall_s"] * 1e3
                rss[rt.name][r] = res["maxrss_kb"] / 1024.0
    base = ctx.baseline if ctx.baseline in walls and ctx.baseline not in errors else None
    for rt in rts:
        if rt.name in errors:
            rec["results"][rt.name] = {"error": errors[rt.name]}
            continue
        w, m = walls[rt.name], rss[rt.name]
        fig = {"wall_ms": median(w.values()), "rss_mb": median(m.values()), "runs": len(w)}
        if base:
            fig["added_ms"] = median([w[r] - walls[base][r] for r in w if r in walls[base]])
            fig["added_rss_mb"] = median([m[r] - rss[base][r] for r in m if r in rss[base]])
        rec["results"][rt.name] = {"value": fig["wall_ms"], "added": fig.get("added_ms"),
                                   "figures": fig, "delivery": None,
                                   "samples_ms": [w[k] for k in sorted(w)]}
    return rec

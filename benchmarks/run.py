#!/usr/bin/env python3
"""Benchmark entry point: python benchmarks/run.py [--smoke] [--only SCENARIO] [--out FILE]

Builds benchmarks/.venvs/* on demand, starts the local OTLP sink and upstream,
runs the scenarios with the contenders interleaved, and writes a Markdown report
plus the raw results as JSON.  See benchmarks/README.md.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import contenders as C  # noqa: E402
import report  # noqa: E402
import venvs  # noqa: E402
from scenarios import api, databases, diagnostics, inprocess, metrics, startup, web  # noqa: E402
from scenarios.common import BgServer, Ctx, sink_counts  # noqa: E402

MODULES = [startup, web, inprocess, databases, api, metrics]
GROUPS = {
    "startup": startup.IDS,
    "flask": ["flask-trivial", "flask-realistic"],
    "django": ["django-orm"],
    "fastapi": ["fastapi-trivial", "fastapi-realistic"],
    "web": web.IDS,
    "spans": ["span-cost"],
    "export": ["export-throughput"],
    "calls": ["requests-call", "httpx-call", "sql-statement"],
    "db": databases.IDS,
    "api": api.IDS,
    "metrics": metrics.IDS,
}
ALL_IDS = startup.IDS + web.IDS + inprocess.IDS + databases.IDS + api.IDS + metrics.IDS
APP_MODULES = ["flask", "django", "gunicorn", "sqlalchemy", "requests", "psycopg", "redis", "fastapi", "uvicorn", "httpx"]


@dataclass
class Settings:
    startup_runs: int = 15
    startup_warmup: int = 2
    flask_trivial_n: int = 3000
    flask_realistic_n: int = 1500
    django_n: int = 1500
    fastapi_trivial_n: int = 3000
    fastapi_realistic_n: int = 1500
    web_rounds: int = 15
    web_warmup: int = 50
    span_n: int = 100000
    span_warmup: int = 1000
    span_rounds: int = 3
    span_cpu_n: int = 2000
    export_n: int = 200000
    export_rounds: int = 3
    calls_http_n: int = 1000
    calls_sql_n: int = 5000
    calls_rounds: int = 5
    calls_warmup: int = 20
    db_n: int = 3000
    db_rounds: int = 5
    metrics_wsgi_n: int = 5000
    metrics_sql_n: int = 5000
    metrics_http_n: int = 5000
    metrics_warmup: int = 200
    metrics_rounds: int = 7
    runtime_n: int = 500
    runtime_rounds: int = 3
    proc_timeout: float = 300.0


SMOKE = Settings(startup_runs=2, startup_warmup=1, flask_trivial_n=20, flask_realistic_n=20,
                 django_n=20, fastapi_trivial_n=20, fastapi_realistic_n=20, web_rounds=2, web_warmup=3,
                 span_n=1000, span_warmup=10,
                 span_cpu_n=200, span_rounds=2, export_n=2000, export_rounds=2, calls_http_n=20, calls_sql_n=50,
                 calls_rounds=2, calls_warmup=5, db_n=20, db_rounds=2, metrics_wsgi_n=50,
                 metrics_sql_n=50, metrics_http_n=20, metrics_warmup=5, metrics_rounds=2,
                 runtime_n=20, runtime_rounds=1, proc_timeout=120.0)


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a handful of requests, 2 repeats")
    ap.add_argument("--only", action="append", default=[],
                    help="scenario id or group (%s); repeatable or comma-separated"
                    % ", ".join(sorted(GROUPS)))
    ap.add_argument("--out", help="Markdown report (default: BENCHMARKS.md at the repo root for "
                    "a full run; benchmarks/.out/BENCHMARKS.md for --smoke, --only or "
                    "--python-from-current-env, so they never overwrite the committed figures)")
    ap.add_argument("--json", help="raw results (default: benchmarks/results.json next to the "
                    "root BENCHMARKS.md, else the --out path with .json)")
    ap.add_argument("--python-from-current-env", action="store_true",
                    help="build no venvs: bare = this interpreter, this = otel-run from the same "
                    "environment, official only if opentelemetry-instrument is installed")
    ap.add_argument("--contenders", help="comma-separated subset of: %s"
                    % ", ".join(c.name for c in C.CONTENDERS))
    ap.add_argument("--no-importtime", action="store_true",
                    help="skip the -X importtime profile of the launchers")
    return ap.parse_args(argv)


def selected_ids(only):
    if not only:
        return list(ALL_IDS)
    ids = []
    for item in only:
        for tok in filter(None, (t.strip() for t in item.split(","))):
            if tok in GROUPS:
                ids += GROUPS[tok]
            elif tok in ALL_IDS:
                ids.append(tok)
            else:
                raise SystemExit("unknown scenario %r; choose from %s or %s"
                                 % (tok, ", ".join(sorted(GROUPS)), ", ".join(ALL_IDS)))
    return [i for i in ALL_IDS if i in ids]


def importable(python, env, cwd):
    code = ("import importlib.util, json; print(json.dumps([m for m in %r "
            "if importlib.util.find_spec(m)]))" % (APP_MODULES,))
    r = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=60)
    try:
        return set(json.loads(r.stdout))
    except ValueError:
        return set()


def repo_state():
    """The commit `this` was built from, and whether the agent's files had local changes."""
    def git(*a):
        r = subprocess.run(["git", "-C", str(HERE.parent)] + list(a), capture_output=True,
                           text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else ""
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "pyproject.toml", "otel_autoinstrument",
                "instrumentors")
    return "%s%s (source hash %s)" % (head or "no commit", " + uncommitted changes" if dirty
                                      else "", venvs.repo_hash()[:12])


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def extra_venv(ctx, key):
    """A venv a scenario measures that is no contender (the official runtime metrics)."""
    try:
        python = venvs.ensure_venv(key, C.VENVS[key], log)
    except Exception as exc:
        log("venv %s failed: %s" % (key, exc))
        return
    ctx.extra_pythons[key] = python
    found = venvs.versions_of(python)
    ctx.extra_versions[key] = ", ".join("%s %s" % kv for kv in sorted(found.items()) if kv[0] != "error")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    t_start = time.time()
    load_start = os.getloadavg()
    settings = SMOKE if args.smoke else Settings()
    ids = selected_ids(args.only)
    partial = args.smoke or bool(args.only) or args.python_from_current_env
    out = Path(args.out) if args.out else (HERE / ".out" / "BENCHMARKS.md" if partial
                                           else HERE.parent / "BENCHMARKS.md")
    out = out.resolve()
    json_out = Path(args.json) if args.json else (
        HERE / "results.json" if out == (HERE.parent / "BENCHMARKS.md").resolve()
        else out.with_suffix(".json"))

    chosen = C.CONTENDERS
    if args.contenders:
        want = [n.strip() for n in args.contenders.split(",") if n.strip()]
        chosen = [c for c in C.CONTENDERS if c.name in want]
    rts = venvs.runtimes(chosen, C.VENVS, current_env=args.python_from_current_env, log=log)
    for rt in rts:
        if rt.skipped:
            log("contender %s skipped: %s" % (rt.name, rt.skipped))
    live = [rt for rt in rts if not rt.skipped]
    if not live:
        raise SystemExit("no contender can run")

    tmp = tempfile.mkdtemp(prefix="otel-bench-")
    sink_py = venvs.sink_python(args.python_from_current_env, C.VENVS, log)
    sink = upstream = None
    scenarios = []
    try:
        sink = BgServer([sink_py, str(HERE / "sink.py"), "--max-seconds", "3600"], name="sink")
        upstream = BgServer([sys.executable, str(HERE / "apps" / "upstream.py"),
                             "--max-seconds", "3600"], name="upstream")
        log("sink on 127.0.0.1:%d (%s), upstream on 127.0.0.1:%d"
            % (sink.port, sink.info, upstream.port))
        baseline = next((rt.name for rt in live if rt.contender.role == "baseline"), None)
        modules = {rt.name: importable(rt.python, rt.base_env, tmp) for rt in live}
        ctx = Ctx(live, sink, upstream, tmp, args.smoke, log, modules, baseline)
        if "runtime-metrics" in ids and not args.python_from_current_env:
            extra_venv(ctx, "official-system-metrics")
        for mod in MODULES:
            want = [i for i in mod.IDS if i in ids]
            if want:
                scenarios += mod.run(ctx, settings, want)
        prof = None
        if not (args.no_importtime or args.smoke) and any(i.startswith("startup") for i in ids):
            prof = diagnostics.importtime_profile(ctx)
        capacity = diagnostics.sink_capacity(ctx)
        counts = sink_counts(sink)
    finally:
        for srv in (upstream, sink):
            if srv:
                srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    known = ("bench-",)
    results = {
        "meta": {
            "command": " ".join(["python benchmarks/run.py"]
                                + list(sys.argv[1:] if argv is None else argv)),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t_start)),
            "duration_s": time.time() - t_start, "smoke": args.smoke,
            "current_env": args.python_from_current_env,
            "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
            "cpu": cpu_model(), "cores": os.cpu_count(), "kernel": platform.release(),
            "platform": platform.platform(), "python": platform.python_version(),
            "repo": repo_state(),
            "sink_decoder": counts.get("decoder"), "sink_errors": counts.get("errors"),
            "sink_capacity_spans_per_s": capacity,
            "settings": asdict(settings),
        },
        "contenders": [dict(name=rt.name, role=rt.contender.role,
                            venv=("(current env: %s)" % sys.prefix if args.python_from_current_env
                                  else rt.contender.venv),
                            launcher=rt.contender.launcher, env=rt.contender.env,
                            versions=rt.versions, skipped=rt.skipped) for rt in rts],
        "scenarios": scenarios,
        "unattributed": {k: v for k, v in counts.get("services", {}).items()
                         if not k.startswith(known)},
        "importtime": prof,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(results, indent=1, default=str))
    rendered = report.render(results)
    if out.exists():  # the hand-written sections (profiles made separately) are kept
        rendered = report.keep_hand_written(out.read_text(), rendered)
    out.write_text(rendered)
    log("wrote %s and %s in %.0f s" % (out, json_out, time.time() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())

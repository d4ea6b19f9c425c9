"""Scenarios 2 and 3: Flask and Django under gunicorn (1 sync worker), FastAPI under
uvicorn (1 process), one new http.client connection per request from the harness,
contenders interleaved in blocks."""
import os
import subprocess
import sys
import time

from .common import (APPS, delivered, delivery, http_get, mean, median, pct, rotate,
                     scenario_record, stop_process, wait_http_ready, free_port)

# id, app module, path, n-setting, spans/request, logs/request, modules needed, title
# (and the server: gunicorn unless said)
CASES = [
    ("flask-trivial", "flask_app:app", "/trivial", "flask_trivial_n", 1, 0,
     ["flask", "gunicorn"], "Flask under gunicorn, trivial route"),
    ("flask-realistic", "flask_app:app", "/realistic", "flask_realistic_n", 3, 1,
     ["flask", "gunicorn", "sqlalchemy", "requests"],
     "Flask under gunicorn, realistic route (SQLAlchemy query + requests call + log line)"),
    ("django-orm", "djapp.wsgi:application", "/item", "django_n", 1, 0,
     ["django", "gunicorn"], "Django under gunicorn, one view with an ORM query (SQLite)"),
    ("fastapi-trivial", "fastapi_app:app", "/trivial", "fastapi_trivial_n", 1, 0,
     ["fastapi", "uvicorn"], "FastAPI under uvicorn, trivial async route", "uvicorn"),
    # two log lines: the app's, and httpx's own "HTTP Request: ..." at INFO
    ("fastapi-realistic", "fastapi_app:app", "/realistic", "fastapi_realistic_n", 2, 2,
     ["fastapi", "uvicorn", "httpx"],
     "FastAPI under uvicorn, realistic async route (a dependency + httpx AsyncClient call + log line)",
     "uvicorn"),
]
IDS = [c[0] for c in CASES]
COLUMNS = [("rps", "req/s", "%.0f"), ("mean_us", "mean µs", "%.0f"), ("p50_us", "p50 µs", "%.0f"),
           ("p99_us", "p99 µs", "%.0f"), ("added_us", "added µs/req", "%+.0f"),
           ("n", "requests", "%d"), ("errors", "errors", "%d")]


def _prepare(ctx, rts, app):
    """Seed the databases once, untimed; returns the app env."""
    env = {"PYTHONPATH": str(APPS), "BENCH_UPSTREAM_URL": ctx.upstream_url(),
           "DJANGO_SETTINGS_MODULE": "djapp.settings"}
    if app.startswith("fastapi"):
        return env
    if app.startswith("flask"):
        sys.path.insert(0, str(APPS))
        try:
            from seed import seed_sqlite
        finally:
            sys.path.pop(0)
        env["BENCH_SQLITE_PATH"] = os.path.join(ctx.tmp, "flask.sqlite")
        seed_sqlite(env["BENCH_SQLITE_PATH"])
    else:
        env["BENCH_DJANGO_DB"] = os.path.join(ctx.tmp, "django.sqlite")
        rt = rts[0]  # migrate + seed with the first contender's python, no launcher
        e = dict(rt.base_env)
        e.update(env)
        r = subprocess.run([rt.python, "-m", "djapp.setup_db"], cwd=str(APPS), env=e,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError("django setup failed: " + r.stderr[-800:])
    return env


def _start(ctx, rt, sid, app, app_env, server="gunicorn"):
    port = free_port()
    service = "bench-%s-%s" % (sid, rt.name)
    if server == "uvicorn":
        cmd = rt.cmd("uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--app-dir", str(APPS),
                     "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "20")
    else:
        cmd = rt.cmd("gunicorn", "-w", "1", "-k", "sync", "-b", "127.0.0.1:%d" % port,
                     "--chdir", str(APPS), "--log-level", "warning", "--graceful-timeout", "20", app)
    logf = open(os.path.join(ctx.tmp, "%s-%s.log" % (sid, rt.name)), "wb")
    proc = subprocess.Popen(cmd, env=ctx.env_for(rt, service, app_env), cwd=str(APPS),
                            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            start_new_session=True)
    logf.close()
    return {"rt": rt, "port": port, "proc": proc, "service": service, "sent": 0,
            "lat": [], "blocks": {}, "errors": 0, "failed": None, "wall": 0.0}


def _block(srv, path, count):
    lat = []
    t0 = time.perf_counter()
    for _ in range(count):
        try:
            dt, status = http_get(srv["port"], path)
        except OSError as exc:
            srv["errors"] += 1
            if srv["proc"].poll() is not None:
                srv["failed"] = "server exited (%s) after %r" % (srv["proc"].returncode, exc)
                break
            continue
        srv["sent"] += 1
        if status != 200:
            srv["errors"] += 1
        lat.append(dt)
    return lat, time.perf_counter() - t0


def run_case(ctx, settings, case):
    sid, app, path, nkey, spans_per, logs_per, mods, title = case[:8]
    server = case[8] if len(case) > 8 else "gunicorn"
    rec = scenario_record(sid, title, "mean latency per request", "µs", columns=COLUMNS)
    rts, why = ctx.able(mods)
    rec["notes"] += why
    if not rts:
        rec["skipped"] = "; ".join(why)
        return rec
    n, rounds = getattr(settings, nkey), settings.web_rounds
    per_block = max(1, n // rounds)
    app_env = _prepare(ctx, rts, app)
    servers = [_start(ctx, rt, sid, app, app_env, server) for rt in rts]
    try:
        for s in servers:
            err = wait_http_ready(s["port"], path, s["proc"], timeout=90)
            if err:
                s["failed"] = "did not come up: " + err
            else:
                s["sent"] += 1
        live = [s for s in servers if not s["failed"]]
        ctx.log("%s: %d x %d requests per contender (+%d warm-up), %d contenders"
                % (sid, rounds, per_block, settings.web_warmup, len(live)))
        for s in live:  # warm-up, untimed
            _block(s, path, settings.web_warmup)
        for r in range(rounds):
            for s in rotate(live, r):
                if s["failed"]:
                    continue
                lat, wall = _block(s, path, per_block)
                s["lat"] += lat
                s["wall"] += wall
                if lat:
                    s["blocks"][r] = mean(lat)
    finally:
        for s in servers:
            stop_process(s["proc"], timeout=40, group=True)
    base = next((s for s in servers if s["rt"].name == ctx.baseline and not s["failed"]), None)
    for s in servers:
        name = s["rt"].name
        if s["failed"] and not s["lat"]:
            rec["results"][name] = {"error": s["failed"] + " (see %s-%s.log)" % (sid, name)}
            continue
        lat = s["lat"]
        fig = {"n": len(lat), "errors": s["errors"], "rps": len(lat) / s["wall"] if s["wall"] else None,
               "mean_us": mean(lat) * 1e6, "p50_us": pct(lat, 50) * 1e6, "p99_us": pct(lat, 99) * 1e6}
        if base:
            fig["added_us"] = median([(b - base["blocks"][r]) * 1e6
                                      for r, b in s["blocks"].items() if r in base["blocks"]])
        spans, logs, _ = delivered(ctx.sink, s["service"])
        is_base = name == ctx.baseline
        expected_logs = s["sent"] * logs_per if s["rt"].contender.logs else 0
        dv = None if is_base else delivery(s["sent"] * spans_per, spans, expected_logs, logs)
        res = {"value": fig["mean_us"], "added": fig.get("added_us"), "figures": fig, "delivery": dv}
        if s["failed"]:
            res["error"] = s["failed"]
        rec["results"][name] = res
    return rec


def run(ctx, settings, ids):
    return [run_case(ctx, settings, c) for c in CASES if c[0] in ids]

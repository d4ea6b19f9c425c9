"""The agent's cost on the application's thread, per row of issue 18, measured in process.

  python benchmarks/hotpath.py ROW [ROW...] [--mode interleave|loop|cprofile|callgrind] [options]

Rows: ``span`` (one manual span), ``sql`` (one SQLAlchemy statement, in-memory SQLite),
``requests`` (one keep-alive GET to a local upstream), ``flask-trivial``,
``flask-realistic`` (one query, one outgoing call, one log line), ``django-orm``.
The web rows call the benchmark apps (``apps/``) as WSGI callables with a
gunicorn-like environ: no server, no network between client and app, so what is left
over the bare app is the agent's.

Modes (each starts ``apps/upstream.py`` and the stdlib-only ``sink.py``, then runs a
worker under ``otel-run`` from this interpreter's environment, exporting to the sink):

* ``interleave`` (default): one process; rounds alternate the app bare (every
  instrumentor uninstrumented) and instrumented, starting side alternating. Prints
  the median per-round paired difference (µs per call) and the mean, which includes
  the export thread's share of the GIL.
* ``loop``: N calls, instrumented or (``--bare``) plain python; µs per call.
* ``cprofile``: N instrumented calls under cProfile; the agent's functions by own time.
* ``callgrind``: instruction counts under ``valgrind --tool=callgrind`` (repeatable
  whatever the machine's load): bare and instrumented processes at two call counts,
  so start-up cancels out; prints instructions added per call, export thread included.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
ROWS = ("span", "sql", "requests", "flask-trivial", "flask-realistic", "django-orm")
PER_ROUND = {"span": 2000, "sql": 400, "requests": 60, "flask-trivial": 300, "flask-realistic": 40,
             "django-orm": 100}


# --- the workloads (worker side) ---------------------------------------------------------

def _environ(path, port=8000):
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "RAW_URI": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "gunicorn/22.0.0", "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "51234", "HTTP_HOST": "127.0.0.1:%d" % port, "HTTP_USER_AGENT": "bench/1.0",
        "HTTP_ACCEPT": "*/*", "HTTP_CONNECTION": "close", "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "wsgi.errors": sys.stderr, "wsgi.input": None,
    }


def _wsgi_call(app, path):
    import io

    template = _environ(path)

    def start_response(status, headers, exc_info=None):
        return None

    def once():
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(b"")
        body = app(environ, start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return once


def workload(row):
    """A no-argument callable doing one unit of ``row``."""
    sys.path.insert(0, APPS)
    if row == "span":
        from otel_autoinstrument import get_tracer

        start = get_tracer("bench").start_as_current_span

        def once():
            with start("op") as span:
                span.set_attribute("bench.i", 1)
                span.set_attribute("bench.kind", "loop")
                span.set_attribute("bench.ratio", 0.5)

        return once
    if row == "sql":
        from sqlalchemy import create_engine, text

        engine = create_engine("sqlite://")
        conn = engine.connect()
        conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, value INTEGER)"))
        conn.execute(text("INSERT INTO item (id, name, value) VALUES (:id, :name, :value)"),
                     [{"id": i, "name": "item-%d" % i, "value": i * 7} for i in range(1, 101)])
        query = text("SELECT id, name, value FROM item WHERE id = :id")
        return lambda: conn.execute(query, {"id": 7}).fetchall()
    if row == "requests":
        import requests

        session, url = requests.Session(), os.environ["BENCH_UPSTREAM_URL"]
        return lambda: session.get(url, timeout=10).content
    if row.startswith("flask-"):
        import logging

        from flask_app import app

        logging.getLogger().handlers[:] = [logging.StreamHandler(open(os.devnull, "w"))]
        return _wsgi_call(app, "/" + row[6:])
    if row == "django-orm":
        os.environ["DJANGO_SETTINGS_MODULE"] = "djapp.settings"
        from djapp.wsgi import application

        return _wsgi_call(application, "/item")
    raise SystemExit("unknown row %r" % row)


class Toggle:
    """Every active instrumentor of the running agent off and on again."""

    def __init__(self):
        from otel_autoinstrument.agent.startup import get_agent

        self.agent = get_agent()
        self.active = [s.instrumentor for s in self.agent.instrumentors.values() if s.status == "active"]

    def off(self):
        for instrumentor in self.active:
            instrumentor.uninstrument()

    def on(self):
        for instrumentor in self.active:
            instrumentor.imported_before_start = True  # SQLAlchemy: find the engine again
            instrumentor.instrument(self.agent)


def _timed(once, n):
    t0 = time.perf_counter()
    for _ in range(n):
        once()
    return (time.perf_counter() - t0) / n * 1e6


def worker(args):
    once = workload(args.row)
    for _ in range(args.warmup):
        once()
    if args.mode == "loop":
        print(json.dumps({"row": args.row, "us": _timed(once, args.n)}), flush=True)
        return
    if args.mode == "cprofile":
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(_timed, once, args.n)
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime")
        rows = []
        for (path, line, name), (cc, nc, tt, ct, _) in stats.stats.items():
            if "otel_autoinstrument" in path or "/instrumentors/" in path or "wrapt" in path:
                rows.append((tt / args.n * 1e6, ct / args.n * 1e6, nc / args.n, "%s:%d %s" % (
                    path.split("site-packages/")[-1].split("/perf/")[-1], line, name)))
        rows.sort(reverse=True)
        print("own µs/call  cum µs/call  calls/call  function (under cProfile: inflated)")
        for row in rows[:args.top]:
            print("%10.2f %12.2f %11.1f  %s" % row)
        return
    toggle = Toggle() if args.row != "span" else None
    bare, diffs = [], []
    for r in range(args.rounds):
        if toggle is None:
            diffs.append(_timed(once, args.per_round))
            continue
        order = (False, True) if r % 2 else (True, False)
        result = {}
        for instrumented in order:
            (toggle.on if instrumented else toggle.off)()
            once()  # the first call after a toggle re-resolves what was re-patched
            result[instrumented] = _timed(once, args.per_round)
        bare.append(result[False])
        diffs.append(result[True] - result[False])
    print(json.dumps({"row": args.row, "bare_us": statistics.median(bare) if bare else None,
                      "added_us_median": statistics.median(diffs), "added_us_mean": statistics.fmean(diffs),
                      "rounds": args.rounds, "per_round": args.per_round}), flush=True)


# --- the driver ---------------------------------------------------------------------------

def _server(script, *extra):
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    match = re.match(r"PORT (\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit("%s did not start: %r" % (script, line))
    return proc, int(match.group(1))


def _environment(tmp, sink_port, upstream_port):
    from seed import seed_sqlite  # apps/seed.py

    db = os.path.join(tmp, "flask.sqlite")
    seed_sqlite(db)
    env = dict(os.environ, BENCH_SQLITE_PATH=db, BENCH_UPSTREAM_URL="http://127.0.0.1:%d/" % upstream_port,
               BENCH_DJANGO_DB=os.path.join(tmp, "django.sqlite"), PYTHONPATH=APPS,
               OTEL_SERVICE_NAME="hotpath", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % sink_port,
               OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_TRACES_EXPORTER="otlp",
               OTEL_LOGS_EXPORTER="otlp", OTEL_METRICS_EXPORTER="none", DJANGO_SETTINGS_MODULE="djapp.settings")
    subprocess.run([sys.executable, "-m", "djapp.setup_db"], cwd=APPS, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return env


def _launcher():
    return [os.path.join(os.path.dirname(sys.executable), "otel-run")]


def _worker_command(args, row, mode, n, bare=False):
    command = [] if bare else _launcher()
    return command + [sys.executable, os.path.abspath(__file__), row, "--worker", "--mode", mode,
                      "--n", str(n), "--rounds", str(args.rounds),
                      "--per-round", str(args.per_round or PER_ROUND[row]), "--warmup", str(args.warmup),
                      "--top", str(args.top)]


def _instructions(command, env, out):
    """(instructions on the main thread, on every other thread) of ``command``."""
    import glob

    # One hash seed: dict layouts, and so the counts, are then the same from run to run.
    # Valgrind runs one thread at a time, slowly: queues and the exit bound large enough
    # that nothing is dropped, so every item's export is counted.
    env = dict(env, PYTHONHASHSEED="0", OTEL_BSP_MAX_QUEUE_SIZE="1000000", OTEL_BLRP_MAX_QUEUE_SIZE="1000000",
               OTEL_PYTHON_EXIT_TIMEOUT="600000")
    done = subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes", "--separate-threads=yes",
                           "--callgrind-out-file=" + out] + command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit("callgrind failed: %s" % done.stderr[-2000:])
    threads = {}
    for path in glob.glob(out + "-*"):
        with open(path) as f:
            total = next(int(line.split()[1]) for line in f if line.startswith(("summary:", "totals:")))
        threads[int(path.rsplit("-", 1)[1])] = total
    main = threads.pop(min(threads))
    return main, sum(threads.values())


def driver(args):
    sys.path.insert(0, APPS)
    sink, sink_port = _server("sink.py")
    upstream, upstream_port = _server(os.path.join("apps", "upstream.py"), "--max-seconds", "3600")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = _environment(tmp, sink_port, upstream_port)
            for row in args.rows:
                if args.mode == "callgrind":
                    n1, n2 = args.n // 5, args.n
                    counts = {}
                    sides = (False,) if row == "span" or args.skip_bare else (True, False)
                    for bare in sides:
                        for n in (n1, n2):
                            out = os.path.join(args.keep or tmp, "callgrind.%s.%s.%d" % (
                                row, "bare" if bare else "this", n))
                            counts[bare, n] = _instructions(_worker_command(args, row, "loop", n, bare), env, out)
                    per_call = {}
                    for bare in sides:
                        for thread in (0, 1):
                            per_call[bare, thread] = (counts[bare, n2][thread] - counts[bare, n1][thread]) / (n2 - n1)
                    base = per_call.get((True, 0), 0.0) + per_call.get((True, 1), 0.0)
                    print(json.dumps({"row": row, "bare_instructions": base,
                                      "added_app_thread": per_call[False, 0] - per_call.get((True, 0), 0.0),
                                      "added_other_threads": per_call[False, 1] - per_call.get((True, 1), 0.0)}),
                          flush=True)
                    continue
                subprocess.run(_worker_command(args, row, args.mode, args.n, args.bare), env=env, check=True)
    finally:
        for proc in (sink, upstream):
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", nargs="+", choices=ROWS, metavar="ROW")
    ap.add_argument("--mode", choices=("interleave", "loop", "cprofile", "callgrind"), default="interleave")
    ap.add_argument("--n", type=int, default=2000, help="calls (loop, cprofile; callgrind: the larger count)")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--per-round", type=int, default=0, help="calls per side per round (default: per row)")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--top", type=int, default=40, help="cprofile: functions shown")
    ap.add_argument("--bare", action="store_true", help="loop: plain python, no agent")
    ap.add_argument("--skip-bare", action="store_true", help="callgrind: the instrumented side only")
    ap.add_argument("--keep", help="callgrind: keep the output files in this folder")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.row = args.rows[0]
        worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()

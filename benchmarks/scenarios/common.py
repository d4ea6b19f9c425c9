"""Shared helpers: processes we start (and stop, by pid), timing, HTTP client, stats,
delivery accounting, and the result record every scenario returns."""
import http.client
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

BENCH = Path(__file__).resolve().parent.parent
APPS = BENCH / "apps"


# ---------------------------------------------------------------- context


@dataclass
class Ctx:
    runtimes: list                 # venvs.Runtime, runnable ones only
    sink: "BgServer"
    upstream: "BgServer"
    tmp: str
    smoke: bool
    log: Callable[[str], None]
    modules: Dict[str, set]        # runtime name -> importable app modules
    baseline: Optional[str] = None  # name of the baseline runtime
    extra_pythons: Dict[str, str] = field(default_factory=dict)   # venv key -> python (not contenders)
    extra_versions: Dict[str, str] = field(default_factory=dict)  # venv key -> what it measures, versions

    def base_env(self):
        """A clean environment (no OTEL_*, no PYTHONPATH) for the extra pythons."""
        from venvs import clean_env
        return clean_env(os.path.dirname(self.runtimes[0].python) if self.runtimes else "")

    def upstream_url(self):
        return "http://127.0.0.1:%d/data" % self.upstream.port

    def env_for(self, rt, service, extra=None):
        from contenders import common_env
        env = rt.env(common_env(self.sink.port, service))
        if extra:
            for k, v in extra.items():
                if k == "PYTHONPATH" and env.get("PYTHONPATH"):
                    v = v + os.pathsep + env["PYTHONPATH"]
                env[k] = v
        return env

    def able(self, modules):
        """Runtimes in which all `modules` import; and why the others cannot run."""
        ok, why = [], []
        for rt in self.runtimes:
            missing = [m for m in modules if m not in self.modules.get(rt.name, set())]
            if missing:
                why.append("%s: %s not installed" % (rt.name, ", ".join(missing)))
            else:
                ok.append(rt)
        return ok, why


def scenario_record(sid, title, metric, unit, better="lower", columns=None):
    """The result record: per-contender `value` (the headline figure), `added`
    (value minus the baseline, paired where possible), `figures` and `delivery`."""
    return {"id": sid, "title": title, "metric": metric, "unit": unit, "better": better,
            "columns": columns or [], "results": {}, "skipped": None, "notes": []}


def rotate(items, r):
    """Round r of an interleaved schedule: A B C, B C A, C A B, ..."""
    if not items:
        return []
    k = r % len(items)
    return list(items[k:]) + list(items[:k])


# ---------------------------------------------------------------- stats


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def mean(xs):
    return sum(xs) / len(xs) if xs else None


def pct(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


# ---------------------------------------------------------------- processes


def run_measured(cmd, env, cwd=None, timeout=120.0):
    """Run cmd to completion; wall time and the child's own peak RSS (os.wait4 on its
    pid: launchers exec, so it is the same process). stdout/stderr go to temp files."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        done = threading.Event()

        def _expire():
            if not done.is_set():
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except OSError:
                    pass

        timer = threading.Timer(timeout, _expire)
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            done.set()
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"rc": p.returncode, "wall_s": wall, "maxrss_kb": usage.ru_maxrss,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace")[-4000:]}


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


class BgServer:
    """A helper server we start (sink.py, upstream.py): prints 'PORT n ...' when up."""

    def __init__(self, cmd, env=None, name="server", timeout=60.0):
        self.name = name
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError("%s did not start (got %r)" % (name, line))
        parts = line.split()
        self.port = int(parts[1])
        self.info = parts[2] if len(parts) > 2 else ""

    def stop(self):
        stop_process(self.proc, 5.0)


def stop_process(proc, timeout=30.0, group=False):
    """SIGTERM the pid we started; after `timeout`, SIGKILL it (and, for servers we
    started in their own session, that session's group: its forked workers)."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            except OSError:
                pass
            proc.wait(10)
    for f in (proc.stdout, proc.stderr):
        if f:
            f.close()
    return proc.returncode


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- HTTP client


def http_get(port, path, timeout=30.0):
    """One request on a NEW connection (gunicorn sync workers close after each):
    returns (seconds, status)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        status = resp.status
    finally:
        conn.close()
    return time.perf_counter() - t0, status


def wait_http_ready(port, path, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "exited with %s" % proc.returncode
        try:
            _, status = http_get(port, path, timeout=5.0)
            if status == 200:
                return None
            return "answered HTTP %d" % status
        except OSError:
            time.sleep(0.05)
    return "not ready after %.0f s" % timeout


# ---------------------------------------------------------------- sink & delivery


def sink_counts(sink):
    conn = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=10)
    try:
        conn.request("GET", "/counts")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def delivered(sink, service):
    d = sink_counts(sink)["services"].get(service) or {}
    return d.get("spans", 0), d.get("logs", 0), d


def delivery(expected_spans, got_spans, expected_logs=0, got_logs=0):
    """Delivery verdict. Expected figures are lower bounds (an agent may add spans)."""
    if expected_spans == 0 and expected_logs == 0:
        return None
    if got_spans == 0 and got_logs == 0:
        status = "NOTHING delivered"
    elif got_spans < expected_spans or got_logs < expected_logs:
        status = "DROPPED"
    else:
        status = "ok"
    return {"status": status, "expected_spans": expected_spans, "spans": got_spans,
            "dropped_spans": max(0, expected_spans - got_spans),
            "expected_logs": expected_logs, "logs": got_logs,
            "dropped_logs": max(0, expected_logs - got_logs)}


def per_call_runs(ctx, settings, rts, rounds, label, script_args):
    """Interleaved rounds of one timing script (``script_args``: the script's path and
    arguments) under each contender: ``({contender: {round: the script's JSON plus
    "delivered"}}, {contender: error})``. A contender whose run fails is left out of
    the later rounds."""
    runs = {rt.name: {} for rt in rts}
    errors = {}
    for r in range(rounds):
        for rt in rotate(rts, r):
            if rt.name in errors:
                continue
            service = "bench-%s-%s-%d" % (label, rt.name, r)
            res = run_measured(rt.cmd("python", *script_args), ctx.env_for(rt, service), cwd=ctx.tmp,
                               timeout=settings.proc_timeout)
            out = last_json_line(res["stdout"])
            if res["rc"] != 0 or not out:
                errors[rt.name] = "exit %s: %s" % (res["rc"], res["stderr"].strip()[-600:])
                continue
            out["delivered"] = delivered(ctx.sink, service)[0]
            runs[rt.name][r] = out
    return runs, errors


def per_call_results(ctx, rts, runs, errors, records, count_keys):
    """Fill each record's results from interleaved rounds of one script that times several
    kinds of call: ``records`` is [(record, "<key>_us")], ``runs`` {contender: {round:
    the script's JSON}}; ``count_keys`` name the script's counts of calls made (the spans
    an agent must deliver). The added cost is paired with the baseline's same round."""
    base = runs.get(ctx.baseline) if ctx.baseline not in errors else None
    for rt in rts:
        rs = runs[rt.name]
        for rec, key in records:
            if not rs:
                rec["results"][rt.name] = {"error": errors.get(rt.name, "no run")}
                continue
            fig = {"us": median([x[key] for x in rs.values()]), "runs": len(rs)}
            if base:
                fig["added_us"] = median([x[key] - base[r][key] for r, x in rs.items() if r in base])
            dv = None
            if rt.name != ctx.baseline:
                expected = sum(sum(x[k] for k in count_keys) for x in rs.values())
                dv = delivery(expected, sum(x["delivered"] for x in rs.values()))
            rec["results"][rt.name] = {"value": fig["us"], "added": fig.get("added_us"),
                                       "figures": fig, "delivery": dv}

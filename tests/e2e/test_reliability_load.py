"""The load test: a Flask app under gunicorn (2 sync workers) serves a couple of
thousand requests, each with a database query, an outgoing HTTP request and a log
line, while its collector is first healthy, then gone, then hanging. Bounded in
requests and time, loopback only, part of the default run (marker ``load``).

Checked: no request fails; the workers' memory stays bounded while nothing can be
exported; the server stops within the exit bound; and every span and log record is
accounted for: each process's exit summary says created == exported + dropped, the
receiver decoded exactly the exported ones (none twice), and created matches the
requests served. The figures (latency per phase, memory, counts) are printed, for
docs/reliability.md (run with -s to see them).
"""

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, Server, free_port, http_get

PHASES = (("healthy", 800), ("absent", 600), ("hanging", 600))
CONCURRENCY = 4
EXIT_BOUND_MS = 2000
STATS = re.compile(r"(traces|logs) \(pid (\d+)\): created (\d+), exported (\d+), dropped (\d+)(?:: (.*))?")


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS for %d" % pid)


def drive(url, count):
    """``count`` GETs from CONCURRENCY threads: (latencies in ms, failures)."""

    def one(_):
        started = time.monotonic()
        try:
            status, _, body = http_get(url, timeout=30)
        except OSError as exc:
            return None, repr(exc)
        elapsed = (time.monotonic() - started) * 1000
        return elapsed, None if (status, body) == (200, b"db=1 upstream=200") else (status, body)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(one, range(count)))
    return [r[0] for r in results if r[0] is not None], [r[1] for r in results if r[1] is not None]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server.url


@pytest.mark.load
@pytest.mark.timeout(240)
def test_load_with_a_healthy_then_absent_then_hanging_collector(own_receiver, service_name, upstream):
    port = free_port()
    env = agent_env(own_receiver, service_name, UPSTREAM_URL=upstream, OTEL_LOG_LEVEL="debug",
                    OTEL_BSP_SCHEDULE_DELAY=200, OTEL_BLRP_SCHEDULE_DELAY=200, OTEL_EXPORTER_OTLP_TIMEOUT=500,
                    OTEL_BSP_EXPORT_TIMEOUT=2000, OTEL_BLRP_EXPORT_TIMEOUT=2000,
                    OTEL_PYTHON_EXIT_TIMEOUT=EXIT_BOUND_MS)
    command = otel_run(os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "2",
                       "-b", "127.0.0.1:%d" % port, "app:app")
    figures = {}
    started = time.monotonic()
    with Server(command, env=env, cwd=APPS_DIR / "reliability_app", port=port, stop_timeout=30) as server:
        deadline = time.monotonic() + 20
        while len(children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = children(server.pid)
        assert len(workers) == 2
        for phase, count in PHASES:
            if phase == "absent":
                own_receiver.stop()
            elif phase == "hanging":
                own_receiver.start()
                own_receiver.behave(hang_seconds=60)
            latencies, failures = drive(server.url + "/work", count)
            assert not failures, (phase, failures[:5])
            figures[phase] = {"requests": count, "p50_ms": round(percentile(latencies, 0.5), 1),
                              "p99_ms": round(percentile(latencies, 0.99), 1),
                              "rss_mb": [round(rss_mb(pid), 1) for pid in workers]}
        assert children(server.pid) == workers  # no worker died or was replaced
        stopping = time.monotonic()
        assert server.stop() == 0
        figures["stop_s"] = round(time.monotonic() - stopping, 2)
    own_receiver.stop()  # ends the hung requests: what they carried is never accepted
    figures["total_s"] = round(time.monotonic() - started, 1)
    stderr = server.output()[1]

    # Bounded memory: nothing could be exported for two phases, the workers grew little.
    healthy = max(figures["healthy"]["rss_mb"])
    worst = max(figures["absent"]["rss_mb"] + figures["hanging"]["rss_mb"])
    assert worst - healthy < 40, figures
    # Stopped within the exit bound (each worker flushes at most 2 s, in parallel).
    assert figures["stop_s"] < EXIT_BOUND_MS / 1000.0 + 8, figures

    # Every span and log record accounted for.
    totals = {"traces": [0, 0, 0], "logs": [0, 0, 0]}
    reasons = {}
    for signal, pid, created, exported, dropped, detail in STATS.findall(stderr):
        created, exported, dropped = int(created), int(exported), int(dropped)
        assert created == exported + dropped, (signal, pid, created, exported, dropped)
        for i, value in enumerate((created, exported, dropped)):
            totals[signal][i] += value
        for part in filter(None, detail.split(", ")):
            n, reason = part.split(" ", 1)
            reasons.setdefault(signal, {}).setdefault(reason, 0)
            reasons[signal][reason] += int(n)
    spans = own_receiver.spans(service=service_name)
    logs = own_receiver.logs(service=service_name)
    assert len({s.span_id for s in spans}) == len(spans), "a span arrived twice"
    assert totals["traces"][1] == len(spans)
    assert totals["logs"][1] == len(logs)
    # Spans per request, from the traces of the healthy phase (server, query, client).
    per_trace = {}
    for span in spans:
        per_trace.setdefault(span.trace_id, []).append(span)
    sizes = {len(group) for group in per_trace.values() if any(s.name == "GET /work" for s in group)}
    assert sizes == {3}, sizes
    served = sum(count for _, count in PHASES)
    assert totals["traces"][0] == served * 3 + 2  # plus each worker's warm-up query at import
    assert totals["logs"][0] >= served  # one "work done" per request, plus gunicorn's own
    assert totals["traces"][2] > 0 and set(reasons["traces"]) <= {
        "export failed", "queue full", "not exported before the exit bound"}

    figures.update(spans_created=totals["traces"][0], spans_exported=totals["traces"][1],
                   spans_dropped=totals["traces"][2], span_drop_reasons=reasons.get("traces", {}),
                   logs_created=totals["logs"][0], logs_exported=totals["logs"][1],
                   logs_dropped=totals["logs"][2], log_drop_reasons=reasons.get("logs", {}))
    print("\nload figures: " + json.dumps(figures, sort_keys=True))

"""Pre-forking servers: fork safety and the flush at a worker's graceful exit.

The application (tests/apps/reliability_app) makes a span at import, so with gunicorn
--preload and with uWSGI (which loads the app in its master unless --lazy-apps) the
master has telemetry of its own before it forks. The schedule delay is 60 s: what a
worker made can only arrive through the flush at its exit. Checked: every span
arrives exactly once (the master's too), from the process that made it or, under
uWSGI, from worker 1, which takes over the master's queue; no worker hangs.
"""

import os
import re
import signal
import time

import pytest

from support.agent import BIN, agent_env, otel_run
from support.processes import APPS_DIR, Server, free_port, http_get

APP = APPS_DIR / "reliability_app"
LATE = dict(OTEL_BSP_SCHEDULE_DELAY=60000, OTEL_BLRP_SCHEDULE_DELAY=60000, OTEL_LOGS_EXPORTER="none",
            OTEL_LOG_LEVEL="debug")
STATS = re.compile(r"traces \(pid (\d+)\): created (\d+), exported (\d+), dropped (\d+)")
REQUESTS = 20


def exercise(server):
    """REQUESTS requests to /work, then /pid until both workers have answered (a worker
    still loading the app, with --lazy-apps, misses a shutdown signal sent meanwhile:
    uWSGI's own race, not one to test here). Returns (worker pids, /pid requests)."""
    for _ in range(REQUESTS):
        status, _, body = http_get(server.url + "/work")
        assert (status, body) == (200, b"db=1 upstream=0")
    pids, asked = set(), 0
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        pids.add(int(http_get(server.url + "/pid")[2]))
        asked += 1
    assert len(pids) == 2, "only %s answered" % pids
    return pids, asked


def check_exactly_once(receiver, service, stderr, asked, warm_ups=1):
    """REQUESTS x 2 spans for /work (server + query), one per /pid request, the
    warm-up queries: all arrived once, and the agent's exit summaries add up the same."""
    expected = REQUESTS * 2 + asked + warm_ups
    spans = receiver.wait_for_spans(count=expected, service=service)
    assert len(spans) == expected and len({s.span_id for s in spans}) == expected, stderr
    summaries = [tuple(map(int, m.groups())) for m in STATS.finditer(stderr)]
    assert sum(created for _, created, _, _ in summaries) == expected, summaries
    assert all(created == exported and dropped == 0 for _, created, exported, dropped in summaries), summaries
    return spans


def test_gunicorn_preload_workers_start_fresh_and_flush_on_sigterm(receiver, service_name):
    port = free_port()
    command = otel_run(os.path.join(BIN, "gunicorn"), "--no-control-socket", "--preload", "-w", "2",
                       "-b", "127.0.0.1:%d" % port, "app:app")
    with Server(command, env=agent_env(receiver, service_name, **LATE), cwd=APP, port=port) as server:
        workers, asked = exercise(server)
    assert server.returncode == 0
    spans = check_exactly_once(receiver, service_name, server.output()[1], asked)
    warm_up = [s for s in spans if s.name == "SELECT" and not s.parent_span_id]
    assert [s.resource["process.pid"] for s in warm_up] == [server.pid]  # the master's own, once
    assert {s.resource["process.pid"] for s in spans} - {server.pid} <= workers


UWSGI = os.path.join(BIN, "uwsgi")


def uwsgi(port, fifo, *options):
    return [UWSGI, "--http-socket", "127.0.0.1:%d" % port, "--master", "--processes", "2",
            "--wsgi-file", "app.py", "--virtualenv", os.path.dirname(BIN), "--master-fifo", fifo,
            "--disable-logging", *options]


@pytest.mark.parametrize("options", [[], ["--lazy-apps"], ["--py-call-uwsgi-fork-hooks"]],
                         ids=["default", "lazy-apps", "fork-hooks"])
def test_uwsgi_workers_flush_on_graceful_shutdown(receiver, service_name, tmp_path, options):
    """Master plus two workers, no flag needed: no export thread is started in the
    master (a worker forked while it held the GIL or a lock would wait forever), worker
    1 exports what the master queued, and each worker flushes at its graceful exit
    ("q" on the master FIFO, as `uwsgi --stop` with a FIFO does)."""
    port, fifo = free_port(), str(tmp_path / "fifo")
    server = Server(otel_run(*uwsgi(port, fifo, *options)), env=agent_env(receiver, service_name, **LATE), cwd=APP, port=port)
    with server:
        _, asked = exercise(server)
        # The master holds telemetry (the warm-up query) but runs no thread of ours.
        assert os.listdir("/proc/%d/task" % server.pid) == [str(server.pid)]
        with open(fifo, "w") as control:
            control.write("q")
        server.proc.wait(30)
    stderr = server.output()[1]
    assert server.returncode == 0, stderr
    # With --lazy-apps each worker loads the app (one warm-up query each), else the master once.
    warm_ups = 2 if "--lazy-apps" in options else 1
    spans = check_exactly_once(receiver, service_name, stderr, asked, warm_ups)
    assert len([s for s in spans if s.name == "SELECT" and not s.parent_span_id]) == warm_ups


def test_uwsgi_graceful_reload_flushes_the_old_workers_and_the_new_ones_work(receiver, service_name, tmp_path):
    port, fifo = free_port(), str(tmp_path / "fifo")
    server = Server(otel_run(*uwsgi(port, fifo)), env=agent_env(receiver, service_name, **LATE), cwd=APP, port=port)
    with server:
        before, _ = exercise(server)
        os.kill(server.pid, signal.SIGHUP)  # graceful reload: workers finish, flush, are replaced
        deadline = time.monotonic() + 30
        after = set()
        while not after - before and time.monotonic() < deadline:
            try:
                after.add(int(http_get(server.url + "/pid", timeout=2)[2]))
            except OSError:
                time.sleep(0.05)  # the listening socket is briefly without a worker
        assert after - before, "no new worker answered"
        old = receiver.wait_for_spans(predicate=lambda spans: {s.resource["process.pid"] for s in spans} >= before,
                                      service=service_name)
        assert len([s for s in old if s.name == "GET /work"]) == REQUESTS
        with open(fifo, "w") as control:
            control.write("q")
        server.proc.wait(30)
    assert server.returncode == 0

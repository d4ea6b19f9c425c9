"""OTEL_METRICS_EXPORTER=prometheus under a pre-fork server, scraped by a real Prometheus.

A Flask app runs under gunicorn with 4 workers under otel-run; a Prometheus server
(Debian's package, started here on 127.0.0.1, scraping every second) scrapes the
agent's one endpoint. What Prometheus stored must equal what the test did: requests
per route and status across all workers (the agent's http.server.request.duration, and
the app's own counter), none missing or counted twice, also after workers are replaced
(counters never go backwards), with and without --preload; a histogram_quantile of the
durations is sane.
"""

import os
import signal
import time

import pytest

from support.agent import agent_env, otel_run
from support.processes import APPS_DIR, Server, free_ports, http_get
from support.prometheus import BINARY, Prometheus

needs_prometheus = pytest.mark.skipif(BINARY is None, reason="the prometheus binary is not installed "
                                                           "(Debian: apt-get install prometheus; .ci/run does it)")

APP_DIR = APPS_DIR / "metrics_app"


def gunicorn(metrics_port, port, service, *options):
    env = agent_env(None, service, OTEL_METRICS_EXPORTER="prometheus", OTEL_TRACES_EXPORTER="none",
                    OTEL_LOGS_EXPORTER="none", OTEL_EXPORTER_PROMETHEUS_HOST="127.0.0.1",
                    OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port))
    command = otel_run("gunicorn", "-w", "4", "-b", "127.0.0.1:%d" % port, *options, "app:app")
    return Server(command, env=env, cwd=APP_DIR, port=port, timeout=30)


def traffic(base, counts):
    """Send the requests ``counts`` asks for; returns {(route, status): n} of what was answered."""
    done = {}
    for path, route, status, n in counts:
        for _ in range(n):
            assert http_get(base + path)[0] == status
            done[(route, str(status))] = done.get((route, str(status)), 0) + 1
    return done


def hits_by_route(prometheus, expected):
    total = sum(expected.values())
    result = prometheus.wait_for('sum by (route) (app_hits_total{job="app"})',
                                 lambda r: sum(v for _, v in r) == total)
    return {labels["route"]: value for labels, value in result}


def worker_pids(server, count):
    """(pids seen, requests made) until ``count`` workers answered."""
    pids, made = set(), 0
    deadline = time.monotonic() + 20
    while len(pids) < count and time.monotonic() < deadline:
        pids.add(int(http_get(server.url + "/pid")[2]))
        made += 1
    return pids, made


def requests_by_route_and_status(prometheus, expected):
    total = sum(expected.values())
    result = prometheus.wait_for(
        'sum by (http_route, http_response_status_code) (http_server_request_duration_seconds_count{job="app"})',
        lambda r: sum(v for _, v in r) == total)
    return {(labels.get("http_route"), labels.get("http_response_status_code")): value for labels, value in result}


@pytest.mark.parametrize("options", [(), ("--preload",), ("--max-requests", "15")],
                         ids=["fork", "preload", "max-requests"])
@needs_prometheus
def test_one_scrape_target_for_every_worker(service_name, options):
    """With --max-requests 15 every worker is replaced several times during the test."""
    metrics_port, port = free_ports(2)
    with gunicorn(metrics_port, port, service_name, *options) as server, \
            Prometheus(["127.0.0.1:%d" % metrics_port]) as prometheus:
        pids, probes = worker_pids(server, 4)
        assert len(pids) >= 4, "requests reached only %s" % pids
        done = traffic(server.url, [("/ok", "/ok", 200, 40), ("/items/2", "/items/<int:item_id>", 200, 12),
                                    ("/items/3", "/items/<int:item_id>", 404, 8), ("/fail", "/fail", 500, 6),
                                    ("/slow", "/slow", 200, 6)])
        expected = {}
        for (route, _), n in done.items():
            expected[route] = expected.get(route, 0) + n
        assert hits_by_route(prometheus, expected) == expected
        requests = dict(done)
        requests[("/pid", "200")] = probes
        assert requests_by_route_and_status(prometheus, requests) == requests
        (errors,) = prometheus.query('sum(http_server_request_duration_seconds_count{job="app",error_type="RuntimeError"})')
        assert errors[1] == 6
        (slow,) = prometheus.query('histogram_quantile(0.5, sum by (le) '
                                   '(http_server_request_duration_seconds_bucket{job="app",http_route="/slow"}))')
        assert 0.05 <= slow[1] <= 0.1, "/slow sleeps 50 ms: its median lies in the (0.05, 0.1] buckets"
        (fast,) = prometheus.query('histogram_quantile(0.9, sum by (le) '
                                   '(http_server_request_duration_seconds_bucket{job="app",http_route="/ok"}))')
        assert 0 < fast[1] < slow[1]
        (active,) = prometheus.query('sum(http_server_active_requests{job="app"})')
        assert active[1] == 0

        # One target, healthy: the endpoint never clashed with itself.
        assert [health for _, health, _ in prometheus.targets_health()] == ["up"]
        (up,) = prometheus.query('up{job="app"}')
        assert up[1] == 1.0
        (info,) = prometheus.query('target_info{job="app"}')
        assert info[0]["service_name"] == service_name and "process_pid" not in info[0]
        workers = prometheus.query('process_thread_count{job="app"}')
        assert workers and workers[0][1] >= 5  # the master and four workers, a thread or more each

        # Replace two workers (--max-requests replaces them all the time already): what
        # they counted stays, nothing goes backwards.
        if "--max-requests" not in options:
            for pid in list(pids)[:2]:
                os.kill(pid, signal.SIGTERM)  # a live worker of the server this test started
            time.sleep(1.0)
        more = traffic(server.url, [("/ok", "/ok", 200, 20)])
        expected["/ok"] += more[("/ok", "200")]
        requests[("/ok", "200")] += more[("/ok", "200")]
        assert hits_by_route(prometheus, expected) == expected
        assert requests_by_route_and_status(prometheus, requests) == requests
        time.sleep(2.5)  # a few more scrapes after the replacement
        for counter in ("app_hits_total", "http_server_request_duration_seconds_count"):
            (resets,) = prometheus.query('sum(resets(%s{job="app"}[5m]))' % counter)
            assert resets[1] == 0.0, "%s went backwards" % counter
        assert hits_by_route(prometheus, expected) == expected
        later, _ = worker_pids(server, 4)
        assert later - pids, "no worker was replaced: %s" % later  # what the checks above are about


def uwsgi_metrics(url):
    """{route: hits} from the agent's endpoint, scraped directly."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("app_hits_total{"):
            route = line.split('route="', 1)[1].split('"', 1)[0]
            found[route] = float(line.rsplit(" ", 1)[1])
    return found


def wait_for_hits(url, expected, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = uwsgi_metrics(url)
        except OSError:
            found = None
        if found == expected:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("%s: %s, expected %s" % (url, found, expected))
        time.sleep(0.25)


def test_uwsgi_workers_serve_the_endpoint_in_turn(service_name, tmp_path):
    """uWSGI: the master runs no thread of ours, so a worker serves; after a graceful
    reload the new workers take over the port and the totals carry on."""
    from support.agent import BIN

    (metrics_port, port), fifo = free_ports(2), str(tmp_path / "fifo")
    env = agent_env(None, service_name, OTEL_METRICS_EXPORTER="prometheus", OTEL_TRACES_EXPORTER="none",
                    OTEL_LOGS_EXPORTER="none", OTEL_EXPORTER_PROMETHEUS_HOST="127.0.0.1",
                    OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port))
    command = otel_run(os.path.join(BIN, "uwsgi"), "--http-socket", "127.0.0.1:%d" % port, "--master",
                       "--processes", "2", "--module", "app:app", "--virtualenv", os.path.dirname(BIN),
                       "--master-fifo", fifo, "--disable-logging")
    url = "http://127.0.0.1:%d/metrics" % metrics_port
    with Server(command, env=env, cwd=APP_DIR, port=port, timeout=30) as server:
        done = traffic(server.url, [("/ok", "/ok", 200, 10)])
        assert os.listdir("/proc/%d/task" % server.pid) == [str(server.pid)]  # no thread in the master
        wait_for_hits(url, {"/ok": 10.0})
        os.kill(server.pid, signal.SIGHUP)  # graceful reload: both workers are replaced
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if http_get(server.url + "/pid", timeout=2)[0] == 200:  # /pid counts no hit
                    break
            except OSError:
                time.sleep(0.1)
        more = traffic(server.url, [("/ok", "/ok", 200, 5)])
        wait_for_hits(url, {"/ok": float(done[("/ok", "200")] + more[("/ok", "200")])})
        with open(fifo, "w") as control:
            control.write("q")
        server.proc.wait(30)

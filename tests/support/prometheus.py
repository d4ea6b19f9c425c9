"""A real Prometheus server for end-to-end tests (Debian's ``prometheus`` package).

Started on a free 127.0.0.1 port with a temporary data directory and a scrape config
naming the targets (scraped every second), stopped by PID (its own process group);
``query()`` asks its HTTP API. Tests skip, saying why, where the binary is absent.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from support.processes import free_port, wait_for_port

BINARY = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: [%s]
"""


class Prometheus:
    def __init__(self, targets):
        self.targets = targets
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="e2e-prometheus-")
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        config = os.path.join(self.folder, "prometheus.yml")
        with open(config, "w") as fh:
            fh.write(CONFIG % ", ".join('"%s"' % t for t in self.targets))
        log = open(os.path.join(self.folder, "prometheus.log"), "wb")
        with log:
            self.proc = subprocess.Popen(
                [BINARY, "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(self.folder, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, timeout=30, proc=self.proc)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("prometheus not ready after %ss:\n%s" % (timeout, self.log()))
            time.sleep(0.2)

    def log(self):
        try:
            with open(os.path.join(self.folder, "prometheus.log"), errors="replace") as fh:
                return fh.read()[-4000:]
        except OSError:
            return ""

    def query(self, promql):
        """The result vector of an instant query: [(labels, float value)]."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as response:
            document = json.load(response)
        assert document["status"] == "success", document
        return [(item["metric"], float(item["value"][1])) for item in document["data"]["result"]]

    def targets_health(self):
        with urllib.request.urlopen(self.url + "/api/v1/targets", timeout=10) as response:
            document = json.load(response)
        return [(t["scrapeUrl"], t["health"], t.get("lastError", "")) for t in document["data"]["activeTargets"]]

    def wait_for(self, promql, predicate, timeout=30):
        """The query's result once ``predicate(result)`` holds; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        result = None
        while True:
            result = self.query(promql)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError("after %ss %s gave %s; targets %s\n%s" % (
                    timeout, promql, result, self.targets_health(), self.log()))
            time.sleep(0.5)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

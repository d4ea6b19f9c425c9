"""Helpers for end-to-end tests that run real programs in subprocesses.

Everything is bounded by a timeout, talks to 127.0.0.1 only, and signals
only the processes (and process groups) these helpers started themselves.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

PYTHON = sys.executable
TESTS_DIR = Path(__file__).resolve().parent.parent
APPS_DIR = TESTS_DIR / "apps"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    return free_ports(1)[0]


def free_ports(count: int) -> List[int]:
    """``count`` different TCP ports free on 127.0.0.1 a moment ago (held open together
    while chosen: two calls of ``free_port`` may return the same port)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def base_env(**overrides) -> Dict[str, str]:
    """os.environ without any OTEL_* variable, unbuffered, plus `overrides`.

    Proxies are bypassed for 127.0.0.1 so apps calling local upstreams with
    `requests` are not routed through a proxy configured in the environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONUNBUFFERED"] = "1"
    for name in ("NO_PROXY", "no_proxy"):
        existing = env.get(name, "")
        env[name] = ",".join(filter(None, [existing, "127.0.0.1", "localhost"]))
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def _output_of(proc) -> str:
    """Best-effort captured output of a Server or Popen, for failure messages."""
    if hasattr(proc, "output"):
        out, err = proc.output()
    else:
        try:
            out, err = proc.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError):
            out, err = "", ""
    if isinstance(out, bytes):
        out = out.decode("utf-8", "replace")
    if isinstance(err, bytes):
        err = err.decode("utf-8", "replace")
    return "--- stdout ---\n%s\n--- stderr ---\n%s" % (out or "", err or "")


def wait_for_port(port: int, timeout: float = 20, proc=None):
    """Wait until 127.0.0.1:port accepts connections.

    `proc` (a Server or Popen) lets us fail at once, with its output, if the
    program died instead of listening.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                "process exited with %s before listening on port %d\n%s"
                % (proc.poll(), port, _output_of(proc))
            )
        if time.monotonic() >= deadline:
            details = "\n" + _output_of(proc) if proc is not None else ""
            raise AssertionError(
                "nothing listening on 127.0.0.1:%d after %.0fs%s" % (port, timeout, details)
            )
        time.sleep(0.05)


def _signal_group(pgid: int, sig) -> bool:
    """Signal a process group we created; False if it is already gone."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class Server:
    """Run a long-lived program (a web server) for the duration of a `with`.

    The program gets its own session, so on exit the whole process group it
    created (e.g. gunicorn and its workers) is sent SIGTERM, then SIGKILL if
    it has not exited after `stop_timeout` seconds.
    """

    def __init__(
        self,
        cmd: List[str],
        env: Optional[Dict[str, str]] = None,
        cwd=None,
        port: Optional[int] = None,
        timeout: float = 20,
        stop_timeout: float = 10,
    ):
        self.cmd = [str(c) for c in cmd]
        self.env = env if env is not None else base_env()
        self.cwd = str(cwd) if cwd is not None else None
        self.port = port
        self.timeout = timeout
        self.stop_timeout = stop_timeout
        self.proc = None  # type: Optional[subprocess.Popen]
        self._dir = None
        self._captured = None  # (stdout, stderr) once stopped

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> Optional[int]:
        return self.proc.poll() if self.proc is not None else None

    def poll(self) -> Optional[int]:
        return self.returncode

    def start(self) -> "Server":
        self._dir = tempfile.mkdtemp(prefix="e2e-server-")
        with open(self._path("stdout"), "wb") as out, open(self._path("stderr"), "wb") as err:
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        if self.port is not None:
            try:
                wait_for_port(self.port, self.timeout, proc=self)
            except AssertionError:
                self.stop()
                raise
        return self

    def stop(self, sig=signal.SIGTERM) -> Optional[int]:
        """Signal the process group, wait, escalate to SIGKILL; return the exit code."""
        if self.proc is None or self._captured is not None:
            return self.returncode
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # Children that outlived the leader (orphaned workers) go too.
        _signal_group(self.proc.pid, signal.SIGKILL)
        self._captured = self._read_files()
        shutil.rmtree(self._dir, ignore_errors=True)
        return self.proc.returncode

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def output(self) -> Tuple[str, str]:
        """(stdout, stderr) so far; works while running and after stop."""
        if self._captured is not None:
            return self._captured
        if self._dir is None:
            return "", ""
        return self._read_files()

    def _path(self, name: str) -> str:
        return os.path.join(self._dir, name)

    def _read_files(self) -> Tuple[str, str]:
        texts = []
        for name in ("stdout", "stderr"):
            try:
                with open(self._path(name), "rb") as f:
                    texts.append(f.read().decode("utf-8", "replace"))
            except OSError:
                texts.append("")
        return texts[0], texts[1]


def run(cmd, env=None, timeout: float = 60, cwd=None) -> subprocess.CompletedProcess:
    """Run a program to completion and capture its text output.

    On timeout its whole process group is killed and an AssertionError
    carrying the partial output is raised.
    """
    cmd = [str(c) for c in cmd]
    proc = subprocess.Popen(
        cmd,
        env=env if env is not None else base_env(),
        cwd=str(cwd) if cwd is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        raise AssertionError(
            "command timed out after %ss: %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
            % (timeout, " ".join(cmd), _text(out), _text(err))
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, _text(out), _text(err))


def _text(data) -> str:
    return data.decode("utf-8", "replace") if data else ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then hands the 3xx back as an HTTPError


def http_request(
    method: str,
    url: str,
    data: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
    timeout: float = 10,
    follow_redirects: bool = True,
) -> Tuple[int, Dict[str, str], bytes]:
    """One HTTP request with urllib (never instrumented by the agent under test).

    Returns (status, headers with lower-case names, body); 4xx/5xx are
    returned, not raised. Environment proxies are ignored.
    """
    handlers = [urllib.request.ProxyHandler({})]
    if not follow_redirects:
        handlers.append(_NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, _lower(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _lower(error.headers), error.read()


def http_get(url: str, headers=None, timeout: float = 10, follow_redirects: bool = True):
    return http_request("GET", url, None, headers, timeout, follow_redirects)


def _lower(headers) -> Dict[str, str]:
    out = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = out[key] + ", " + value if key in out else value
    return out

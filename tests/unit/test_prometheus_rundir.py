"""The run directory a process tree shares for Prometheus, with real processes: liveness
by record locks (a dead process's lock can be taken, whatever its pid), the fold of
exited processes into the archive (counted once), and clean-up."""

import json
import os
import subprocess
import sys
import time

import pytest

from otel_autoinstrument.metrics import series as series_module
from otel_autoinstrument.metrics.prometheus import rundir
from otel_autoinstrument.metrics.prometheus.sink import PrometheusSink
from otel_autoinstrument.metrics.provider import MeterProvider
from otel_autoinstrument.resource import Resource

CHILD = """
import json, sys, time
from otel_autoinstrument.metrics.prometheus.rundir import RunDirectory
directory = RunDirectory.for_this_tree()
directory.write(json.dumps({"metrics": [{"name": "jobs", "kind": "sum", "monotonic": True, "unit": "",
    "scope": ["s", ""], "points": [[[["queue", "a"]], %d, 1]]}, {"name": "busy", "kind": "sum",
    "monotonic": False, "unit": "", "scope": ["s", ""], "points": [[[], 1, 1]]}]}))
print("written", flush=True)
sys.stdin.read()  # lives until the test closes its stdin
"""


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv(rundir.ENV_DIR, raising=False)
    monkeypatch.setattr(rundir, "_this_tree", None)
    directory = rundir.RunDirectory.for_this_tree()  # this test process is the root
    children = []

    def start(jobs):
        child = subprocess.Popen([sys.executable, "-c", CHILD % jobs], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 env=dict(os.environ), text=True)
        assert child.stdout.readline().strip() == "written"
        children.append(child)
        return child

    yield directory, start
    for child in children:
        if child.poll() is None:
            child.stdin.close()
            child.wait(10)


def stop(child):
    child.stdin.close()
    assert child.wait(10) == 0


def scrape(directory):
    provider = MeterProvider()
    try:
        sink = PrometheusSink(provider, Resource({"service.name": "x"}), "127.0.0.1", 0)
        assert sink.directory is directory and sink.root
        return sink.render()
    finally:
        series_module.process.on_fork.remove(provider._after_fork)


def value(text, name):
    return [line for line in text.splitlines() if line.startswith(name)]


def test_a_child_inherits_the_directory_and_is_alive_until_it_exits(tree):
    directory, start = tree
    assert directory.created_here and os.environ[rundir.ENV_DIR] == directory.path
    child = start(3)
    (stem,) = [s for s in directory.stems() if s != directory.own_stem()]
    assert stem.startswith("p-%d-" % child.pid) and directory.dead(stem) is None
    stop(child)
    fd = directory.dead(stem)
    assert fd is not None
    os.close(fd)


def test_exited_processes_are_folded_once_and_their_gauges_dropped(tree):
    directory, start = tree
    first, second = start(3), start(4)
    text = scrape(directory)
    assert value(text, "jobs_total") == ['jobs_total{queue="a",otel_scope_name="s"} 7']
    assert value(text, "busy") == ['busy{otel_scope_name="s"} 2']
    stop(first)
    for _ in range(2):  # the fold happens once, then the archive holds it
        text = scrape(directory)
        assert value(text, "jobs_total") == ['jobs_total{queue="a",otel_scope_name="s"} 7']
        assert value(text, "busy") == ['busy{otel_scope_name="s"} 1']
    assert not any(s.startswith("p-%d-" % first.pid) for s in directory.stems())  # its files are gone
    with open(os.path.join(directory.path, "archive.json")) as fh:
        assert json.load(fh)["folded"] == []  # the folded names go once the files are gone
    stop(second)
    text = scrape(directory)
    assert value(text, "jobs_total") == ['jobs_total{queue="a",otel_scope_name="s"} 7']
    assert value(text, "busy") == []


def test_the_last_process_removes_the_directory_and_a_stale_one_goes_later(tree, tmp_path):
    directory, start = tree
    child = start(1)
    assert directory.remove_if_last() is False  # the child lives
    stop(child)
    assert directory.remove_if_last() is True and not os.path.exists(directory.path)

    base = os.path.dirname(directory.path)
    stale = os.path.join(base, "prom-1-deadbeef")
    os.mkdir(stale, 0o700)
    open(os.path.join(stale, "p-1-deadbeef.lock"), "w").close()
    old = time.time() - 3600
    os.utime(stale, (old, old))
    rundir._remove_stale(base)
    assert not os.path.exists(stale)


def test_a_tick_racing_the_final_snapshot_never_leaves_older_values(tree, monkeypatch):
    """The metrics thread's tick collects, then writes; the exit's final snapshot must
    not be overwritten by that older document, nor followed by another tick."""
    import threading

    directory, start = tree
    start(0)  # another live process: this one's exit leaves the directory in place
    provider = MeterProvider()
    try:
        sink = PrometheusSink(provider, Resource({"service.name": "x"}), "127.0.0.1", 0)
        jobs = provider.get_meter("s").counter("jobs")
        jobs.add(1)
        in_write, go = threading.Event(), threading.Event()
        write = directory.write

        def slow_tick_write(document):
            if threading.current_thread().name == "tick":
                in_write.set()
                go.wait(10)
            write(document)

        monkeypatch.setattr(directory, "write", slow_tick_write)
        tick = threading.Thread(target=sink.tick, name="tick")
        tick.start()
        assert in_write.wait(10)
        jobs.add(1)  # after the tick collected
        final = threading.Thread(target=sink.shutdown)
        final.start()
        final.join(0.5)  # it waits for the tick's write (before the fix it wrote at once)
        go.set()
        tick.join(10)
        final.join(10)
        with open(os.path.join(directory.path, directory.own_stem() + ".json")) as fh:
            (metric,) = json.load(fh)["metrics"]
        assert metric["name"] == "jobs" and metric["points"][0][1] == 2
        sink.tick()  # after shutdown: no write, no listening socket
        assert sink.server is None
    finally:
        series_module.process.on_fork.remove(provider._after_fork)


def test_an_inherited_path_that_is_not_a_run_directory_is_neither_used_nor_emptied(tmp_path, monkeypatch):
    """OTEL_AUTOINSTRUMENT_PROMETHEUS_DIR naming any other directory (set by hand, or a
    link planted in a shared TMPDIR): the process starts a tree of its own, and at exit
    removes only its own files."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(rundir, "_this_tree", None)
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "important.txt").write_text("keep")
    monkeypatch.setenv(rundir.ENV_DIR, str(precious))
    directory = rundir.RunDirectory.for_this_tree()
    assert directory.created_here and directory.path != str(precious)
    assert os.path.dirname(directory.path) == rundir._private_base()
    directory.write("{}")
    assert directory.remove_if_last() and not os.path.exists(directory.path)
    assert (precious / "important.txt").read_text() == "keep"
    # A directory the agent made, holding a file it did not write, is emptied of its own
    # files only and stays.
    monkeypatch.setattr(rundir, "_this_tree", None)
    monkeypatch.delenv(rundir.ENV_DIR)
    directory = rundir.RunDirectory.for_this_tree()
    stranger = os.path.join(directory.path, "notes.txt")
    with open(stranger, "w") as fh:
        fh.write("not the agent's")
    directory.write("{}")
    directory.remove_if_last()
    assert sorted(os.listdir(directory.path)) == ["notes.txt"]

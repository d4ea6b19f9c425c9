"""``OTEL_METRICS_EXPORTER=prometheus``: one scrape endpoint for a whole process tree.

A pre-fork server (gunicorn, uWSGI) runs several processes that each load the agent;
a scrape must see all of them, once, on one port. How:

* Every process with metrics writes its cumulative metrics to its own file in the run
  directory the tree shares (``rundir``), once a second and at exit.
* One process serves the port: the one that manages to bind it. The root (the first
  process, e.g. the gunicorn master, which handles no requests) tries at start-up;
  every other process tries once a second while it is not serving, so when the
  serving process goes away (uWSGI, where the master never runs a thread and a worker
  serves) another one takes over within a second. Binding is exclusive: no two
  processes serve at once, no port clash.
* A scrape merges the files (``snapshot.Merge``): counters and histograms of exited
  workers stay in the totals (folded into an archive), so they never go backwards when
  a worker is recycled; the serving process adds its own metrics as they are now.
* A forked child forgets the parent's listening socket and files and starts empty.

What a scrape shows is at most about a second old for the other processes. Without a
usable run directory (no writable ``$TMPDIR``) each process serves only its own metrics,
and the first to bind the port wins (one warning says so).
"""

import json
import os
from _thread import allocate_lock

from ... import _log
from ..collector import Collector
from . import text
from .server import ScrapeServer, listen
from .snapshot import Merge, from_document, to_document

_PER_PROCESS = ("process.pid", "service.instance.id")


class PrometheusSink:
    def __init__(self, provider, resource, host, port):
        self.collector = Collector(provider)  # cumulative, resets no window
        self.resource = resource
        self.host = host
        self.port = port
        self.server = None
        self._lock = allocate_lock()
        self._state_lock = allocate_lock()  # snapshots one at a time, newest last; serving vs exit
        self._written = None
        self._closed = False
        self._warned = False
        try:
            from .rundir import RunDirectory

            self.directory = RunDirectory.for_this_tree()
        except Exception as exc:
            self.directory = None
            _log.warning("prometheus: no shared run directory (%s); each process serves only its own metrics, "
                         "on the port if it gets it", exc)
        self.root = self.directory.created_here if self.directory is not None else True

    def after_fork(self):
        self._lock = allocate_lock()
        self._state_lock = allocate_lock()
        self._written = None
        self._closed = False
        if self.server is not None:
            self.server.forget()
            self.server = None
        if self.directory is not None:
            self.directory.after_fork()
        self.root = False

    def _collect(self):
        with self._lock:
            return self.collector.collect()

    # --- the metrics thread, every second ----------------------------------------------------

    def tick(self):
        if self.directory is not None:
            self._write_snapshot()
        if self.server is None:
            self.serve()

    def _write_snapshot(self, final=False):
        """Collect and write under one lock: a tick racing the final snapshot at exit can
        neither write over it with older values nor write after it."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = final
            document = json.dumps({"pid": os.getpid(), "metrics": to_document(self._collect())},
                                  separators=(",", ":"))
            if document != self._written:
                self.directory.write(document)
                self._written = document

    def serve(self):
        """Try to take the port; True when this process serves it (never once it exits)."""
        with self._state_lock:
            if self.server is not None or self._closed:
                return self.server is not None
            try:
                sock = listen(self.host, self.port)
            except OSError as exc:
                if self.root and not self._warned:
                    self._warned = True
                    _log.warning("prometheus: cannot listen on %s:%d (%s); OTEL_EXPORTER_PROMETHEUS_HOST/_PORT "
                                 "choose another address. Retrying every second.", self.host, self.port, exc)
                return False
            self.server = ScrapeServer(sock, self.render)
            self.server.start()
        _log.debug("prometheus: serving the metrics of this process tree on %s:%d (pid %d)", self.host,
                   self.port, os.getpid())
        return True

    # --- a scrape ----------------------------------------------------------------------------

    def render(self):
        own = self._collect()
        resource = {k: v for k, v in self.resource.for_this_process().attributes.items() if k not in _PER_PROCESS}
        if self.directory is None:
            return text.render(own, resource)
        merge = Merge()
        with self.directory.folding():
            self._fold_exited(merge)
            mine = self.directory.own_stem()
            for stem in self.directory.stems():
                if stem != mine:
                    document = self.directory.read(stem + ".json")
                    if document:
                        merge.add(from_document(document.get("metrics")))
        merge.add(own)
        return text.render(merge.metrics(), resource)

    def _fold_exited(self, merge):
        """Fold the snapshots of processes that are gone into the archive, remove their
        files, and add the archive to ``merge``."""
        directory = self.directory
        archive = directory.read_archive()
        archived = Merge()
        archived.add(from_document(archive.get("metrics")), live=False)
        folded = set(archive.get("folded") or ())
        mine = directory.own_stem()
        gone = []
        for stem in directory.stems():
            if stem == mine:
                continue
            fd = directory.dead(stem)
            if fd is None:
                continue
            gone.append((stem, fd))
            if stem not in folded:
                document = directory.read(stem + ".json")
                if document:
                    archived.add(from_document(document.get("metrics")), live=False)
                folded.add(stem)
        if gone:
            directory.write_archive({"folded": sorted(folded), "metrics": to_document(archived.metrics())})
            for stem, fd in gone:
                directory.remove_files(stem)
                os.close(fd)
            remaining = set(directory.stems())
            kept = sorted(s for s in folded if s in remaining)
            if len(kept) != len(folded):
                directory.write_archive({"folded": kept, "metrics": to_document(archived.metrics())})
        merge.add(archived.metrics(), live=False)

    # --- exit --------------------------------------------------------------------------------

    def shutdown(self):
        """The last snapshot (so this process's counters stay in the totals), then stop
        serving; the last process of the tree removes the directory."""
        try:
            if self.directory is not None:
                self._write_snapshot(final=True)
        finally:
            with self._state_lock:
                self._closed = True
                server, self.server = self.server, None
            if server is not None:
                server.close()
            if self.directory is not None:
                self.directory.remove_if_last()

"""The run directory a process tree shares for Prometheus: one snapshot file per process.

The first process of the tree (the root: the one that did not inherit a directory, for
example the gunicorn master) creates a private directory (mode 0700) under
``$TMPDIR/otel-autoinstrument-<uid>/`` and exports its path in
``OTEL_AUTOINSTRUMENT_PROMETHEUS_DIR``, which every process it starts inherits (forked
workers and spawned children alike). In it, each process keeps

* ``p-<pid>-<token>.lock``, locked with a POSIX record lock (``lockf``) for as long as
  the process lives. The kernel releases the lock when the process dies, however it
  dies (SIGKILL included), and such locks are not inherited across ``fork()``: a lock
  that can be taken means its process is gone, whatever pid was reused since.
* ``p-<pid>-<token>.json``, its cumulative metrics, rewritten (atomically, by rename)
  every second and at exit.

``archive.json`` holds what exited processes contributed to counters and histograms:
the process that serves a scrape folds each dead process's last snapshot into it, then
deletes that process's files, all under ``fold.lock`` (a record lock). The archive names
the processes it folded, and is renamed into place before their files go: a fold
interrupted between the two finds the name and does not add that process again.

The root holds its lock from the start. The last process to exit removes the directory
(a uWSGI master runs no exit handlers: its directory stays until the next root cleans
up); directories left behind by a crash are removed by the next root that starts, once
none of their processes is alive.
"""

import os
import time

from ... import _log

ENV_DIR = "OTEL_AUTOINSTRUMENT_PROMETHEUS_DIR"
_ARCHIVE = "archive.json"
_STALE_AFTER_S = 60.0
_this_tree = None  # (pid, RunDirectory) of this process


def _lockf():
    import fcntl

    return fcntl


def _private_base():
    base = os.path.join(os.environ.get("TMPDIR") or "/tmp", "otel-autoinstrument-%d" % os.getuid())
    try:
        os.mkdir(base, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(base)
    import stat

    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError("%s is not a private directory of this user" % base)
    return base


class RunDirectory:
    """The shared directory, and this process's files in it."""

    def __init__(self, path, created_here):
        self.path = path
        self.created_here = created_here
        self._mine = None  # (pid, stem, lock descriptor)

    @classmethod
    def for_this_tree(cls):
        """The directory of this process tree: the one this process made or inherited
        (asked again, the same object), or a new one (this process is then the root)."""
        global _this_tree
        pid = os.getpid()
        if _this_tree is not None:
            if _this_tree[0] == pid:
                return _this_tree[1]
            directory = cls(_this_tree[1].path, False)  # a forked child of the process that made it
            _this_tree = (pid, directory)
            return directory
        base = _private_base()
        inherited = os.environ.get(ENV_DIR)
        if inherited and _is_run_directory(inherited, base):
            directory = cls(inherited, False)
            _this_tree = (pid, directory)
            return directory
        if inherited:
            _log.warning("%s=%s is not a run directory the agent made for this user (a private "
                         "prom-* directory in %s): this process starts its own" % (ENV_DIR, inherited, base))
        _remove_stale(base)
        path = os.path.join(base, "prom-%d-%s" % (os.getpid(), os.urandom(4).hex()))
        os.mkdir(path, 0o700)
        os.environ[ENV_DIR] = path
        directory = cls(path, True)
        directory._own()  # the root's lock from the start: nobody removes the directory under it
        _this_tree = (pid, directory)
        return directory

    # --- this process's files ---------------------------------------------------------

    def _own(self):
        pid = os.getpid()
        if self._mine is None or self._mine[0] != pid:
            if not os.path.isdir(self.path):  # removed by the last process of a previous generation
                os.makedirs(self.path, 0o700, exist_ok=True)
            stem = "p-%d-%s" % (pid, os.urandom(4).hex())
            fd = os.open(os.path.join(self.path, stem + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
            _lockf().lockf(fd, _lockf().LOCK_EX | _lockf().LOCK_NB)
            self._mine = (pid, stem, fd)
        return self._mine[1]

    def after_fork(self):
        """The parent's lock descriptor is not ours to use: forget it (never close it
        with a lock we would release: a child holds no POSIX lock of its parent)."""
        if self._mine is not None and self._mine[0] != os.getpid():
            try:
                os.close(self._mine[2])
            except OSError:
                pass
            self._mine = None

    def write(self, document):
        stem = self._own()
        target = os.path.join(self.path, stem + ".json")
        temporary = target + ".tmp"
        with open(temporary, "w", encoding="utf-8") as fh:
            fh.write(document)
        os.replace(temporary, target)

    def own_stem(self):
        return self._mine[1] if self._mine is not None and self._mine[0] == os.getpid() else None

    # --- everyone's files -------------------------------------------------------------

    def stems(self):
        try:
            names = os.listdir(self.path)
        except OSError:
            return []
        return sorted(name[:-5] for name in names if name.startswith("p-") and name.endswith(".lock"))

    def read(self, name):
        import json

        try:
            with open(os.path.join(self.path, name), encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    def dead(self, stem):
        """A descriptor holding the lock of a process that is gone, or None if it lives."""
        try:
            fd = os.open(os.path.join(self.path, stem + ".lock"), os.O_RDWR)
        except OSError:
            return None
        try:
            _lockf().lockf(fd, _lockf().LOCK_EX | _lockf().LOCK_NB)
            return fd
        except OSError:
            os.close(fd)
            return None

    def folding(self):
        """An exclusive lock over folding and reading (a context manager)."""
        return _FoldLock(os.path.join(self.path, "fold.lock"))

    def read_archive(self):
        return self.read(_ARCHIVE) or {"folded": [], "metrics": []}

    def write_archive(self, archive):
        import json

        target = os.path.join(self.path, _ARCHIVE)
        with open(target + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(archive, fh, separators=(",", ":"))
        os.replace(target + ".tmp", target)

    def remove_files(self, stem):
        for suffix in (".json", ".json.tmp", ".lock"):
            try:
                os.unlink(os.path.join(self.path, stem + suffix))
            except FileNotFoundError:
                pass

    def remove_if_last(self):
        """At exit: remove the directory when no other process of the tree lives."""
        own = self.own_stem()
        for stem in self.stems():
            if stem == own:
                continue
            fd = self.dead(stem)
            if fd is None:
                return False
            os.close(fd)
        _remove_tree(self.path)
        return True


class _FoldLock:
    """A POSIX record lock, not an ``flock``: a worker forked while the serving process
    held an flock would keep the lock (flocks belong to the open file, which the child
    shares) and block every later scrape; record locks are never inherited."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        _lockf().lockf(self.fd, _lockf().LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # releases the lock
        return False


def _is_run_directory(path, base):
    """Whether ``path`` is one the agent makes: a private ``prom-*`` directory of this
    user, directly in ``base`` (not a symbolic link). Files are written into it and it is
    emptied at exit, so nothing else may be taken for one."""
    import stat

    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
            and os.path.basename(path).startswith("prom-")
            and os.path.dirname(os.path.abspath(path)) == os.path.abspath(base))


_OWN_NAMES = ("p-", "archive.json", "fold.lock")  # what the agent writes in a run directory


def _remove_tree(path):
    """Remove the agent's files, then the directory if that left it empty."""
    try:
        for name in os.listdir(path):
            if name.startswith(_OWN_NAMES):
                try:
                    os.unlink(os.path.join(path, name))
                except OSError:
                    pass
        os.rmdir(path)
    except OSError:
        pass


def _remove_stale(base):
    """Directories of earlier runs whose processes are all gone (a crash, SIGKILL)."""
    now = time.time()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        path = os.path.join(base, name)
        try:
            if not name.startswith("prom-") or now - os.lstat(path).st_mtime < _STALE_AFTER_S:
                continue
            directory = RunDirectory(path, False)
            if all(_closed(directory.dead(stem)) for stem in directory.stems()):
                _remove_tree(path)
        except OSError:
            continue
        except Exception:
            _log.internal_error("removing a stale prometheus run directory")


def _closed(fd):
    if fd is None:
        return False
    os.close(fd)
    return True

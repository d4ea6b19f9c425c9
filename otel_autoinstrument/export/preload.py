"""Import the export layer's modules without racing ``fork()``, and without ever leaving
a half-imported module behind for the application.

The export thread imports the encoder and the transport (this package and standard
library modules only) as it starts. If another thread forks while that import is half
done (gunicorn's master forks its workers while its own export thread is sending the
master's start-up log lines), the child inherits a half-initialised module in
``sys.modules`` and every export of that worker fails. So the first imports run under a
lock that ``fork()`` itself takes (an at-fork ``before`` hook): a fork waits the few
milliseconds until the imports are complete, and a child never sees them half done.
Only imports hold the lock, never network I/O, so a hanging collector cannot delay a
fork.

An import that fails in the agent's thread (the application may have turned warnings
into errors at that moment) is rolled back: Python removes the module whose code
raised, but submodules that had completed stay in ``sys.modules`` without their
package, and the application's next import of that package would get a module
missing them. Those orphans are removed too, so the application imports cleanly.
"""

import importlib
import os
import sys
import threading

_lock = threading.Lock()
_loaded = set()


def _reinit_in_child():
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _lock.acquire(), after_in_parent=lambda: _lock.release(),
                        after_in_child=_reinit_in_child)


def modules(*names):
    """Import ``names`` (once per process, under the fork lock)."""
    missing = [name for name in names if name not in _loaded]
    if not missing:
        return
    with _lock:
        for name in missing:
            if name in _loaded:
                continue
            before = set(sys.modules)
            try:
                importlib.import_module(name)
            except BaseException:
                _roll_back(before)
                raise
            _loaded.add(name)


def _roll_back(before):
    """Remove what the failed import added and left without its package."""
    modules = sys.modules
    for added in sorted(set(modules) - before, key=len, reverse=True):
        parent = added.rpartition(".")[0]
        while parent and parent in modules:
            parent = parent.rpartition(".")[0]
        if parent:
            modules.pop(added, None)

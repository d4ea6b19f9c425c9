"""Import the export layer's modules without racing ``fork()``.

The export thread imports protobuf, the encoders and requests on its first export.
If another thread forks while that import is half done (gunicorn's master forks its
workers while its own export thread is sending the master's start-up log lines), the
child inherits a half-initialised module in ``sys.modules`` and every export of that
worker fails. So the first imports run under a lock that ``fork()`` itself takes
(an at-fork ``before`` hook): a fork waits the few milliseconds until the imports are
complete, and a child never sees them half done. Only imports hold the lock, never
network I/O, so a hanging collector cannot delay a fork.
"""

import importlib
import os
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
            importlib.import_module(name)
            _loaded.add(name)

"""Pre-forking servers that fork without Python's fork hooks: uWSGI.

uWSGI loads the application in its master (unless ``--lazy-apps``) and then forks
the workers with a bare ``fork()``: Python's at-fork hooks do not run, and the
master has released the GIL by then, so a Python thread of the master may hold the
GIL, the import lock or any other lock at the moment a worker is forked, and that
worker would wait forever on a thread it does not have. So no export thread is ever
started in a uWSGI process that will fork workers (the master, or the single process
that loads the app when there is no master): what the master records while loading
the app stays queued, and the first incarnation of worker 1 inherits that queue and
exports it (later incarnations, and the other workers, start empty, so nothing is
exported twice). The master itself never runs Python's exit handlers under uWSGI.

At exit, a worker runs the exit handlers from uWSGI's SIGINT/SIGTERM handler, which
calls ``exit()``; a second signal (Ctrl-C or systemd signal the whole process group,
and the master signals its workers too) would call ``exit()`` again in the middle of
the flush and kill it. ``hold_exit_signals()`` blocks them for the rest of the exit.

Everything here reads the ``uwsgi`` module uWSGI embeds in its interpreter; outside
uWSGI it is absent and every answer is "no".
"""

import sys


def _uwsgi():
    return sys.modules.get("uwsgi")


def in_uwsgi():
    return _uwsgi() is not None


def defers_threads():
    """True in a uWSGI process that is going to fork workers: start no thread here."""
    uwsgi = _uwsgi()
    if uwsgi is None:
        return False
    try:
        if uwsgi.worker_id() != 0:
            return False
        mule_id = getattr(uwsgi, "mule_id", None)
        if mule_id is not None and mule_id() != 0:
            return False
        spooler = getattr(uwsgi, "i_am_the_spooler", None)
        if spooler is not None and spooler():
            return False
        return True
    except Exception:
        return False


def inherits_master_queue():
    """True in the first incarnation of uWSGI worker 1, which exports what the master
    queued while loading the application."""
    uwsgi = _uwsgi()
    if uwsgi is None:
        return False
    try:
        if uwsgi.worker_id() != 1:
            return False
        for worker in uwsgi.workers():
            if worker.get("id") == 1:
                return not worker.get("respawn_count")
        return False
    except Exception:
        return False


def hold_exit_signals():
    """Under uWSGI, block the termination signals in this thread for the rest of the
    exit, so a second one cannot cut the (bounded) flush short. Elsewhere: nothing."""
    if _uwsgi() is None:
        return
    try:
        import signal

        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP})
    except Exception:
        pass

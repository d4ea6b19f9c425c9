"""Local servers a library's suite talks to, started for that library's runs only.

The tests' own fixtures (tests/support/servers.py) start them: 127.0.0.1, a free port, a
throwaway data directory, stopped by PID.
"""

import sys
from contextlib import contextmanager
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


@contextmanager
def started(names):
    """``{"redis_url": ...}`` for the services named, running while the block runs."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from support.servers import Redis

    running, values = [], {}
    try:
        for name in names:
            if name != "redis":
                raise SystemExit("unknown service: %s" % name)
            server = Redis()
            if not server.available:
                raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
            running.append(server.start())
            values["redis_url"] = server.url(0)
        yield values
    finally:
        for server in reversed(running):
            server.stop()

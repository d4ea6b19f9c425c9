"""Start child processes inside a span in every way argv names; the children (see
reliability_child.py) must join this trace through the TRACEPARENT carrier.

Ways: subprocess (inherited environment), subprocess-env (an explicit env dict, which
must come back unchanged), spawnv (os.spawnv -> os.execv), posix_spawn, execv (this
process becomes the child: what it queued is flushed first). Prints one JSON line per
child, then {"parent": pid}.
"""

import json
import os
import subprocess
import sys

from otel_autoinstrument import get_tracer
from otel_autoinstrument.instrumentation import reset_baggage, set_baggage

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = [sys.executable, os.path.join(HERE, "reliability_child.py")]


def run(way):
    if way == "subprocess":
        out = subprocess.run(CHILD + [way], stdout=subprocess.PIPE, check=True, timeout=60).stdout
        print(out.decode().strip(), flush=True)
    elif way == "subprocess-env":
        env = dict(os.environ, MARK="1", TRACEPARENT="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
        before = dict(env)
        out = subprocess.run(CHILD + [way], env=env, stdout=subprocess.PIPE, check=True, timeout=60).stdout
        assert env == before, "the caller's env dict was changed"
        print(out.decode().strip(), flush=True)
    elif way == "spawnv":
        assert os.spawnv(os.P_WAIT, sys.executable, CHILD + [way]) == 0
    elif way == "posix_spawn":
        pid = os.posix_spawn(sys.executable, CHILD + [way], dict(os.environ))
        assert os.waitpid(pid, 0)[1] == 0
    elif way == "execv":
        os.execv(sys.executable, CHILD + [way])
    else:
        raise SystemExit("unknown way %r" % way)


tracer = get_tracer("reliability.parent")
token = set_baggage({"tenant": "acme"})
with tracer.start_as_current_span("before-children"):
    pass  # queued when execv replaces the process: must be flushed, not lost
for way in sys.argv[1:]:
    with tracer.start_as_current_span("parent " + way):
        print(json.dumps({"parent": os.getpid(), "way": way}), flush=True)
        run(way)
reset_baggage(token)

"""Make spans and a log record, then end the way argv[1] says; the output is
deterministic so a run under the agent can be compared with a plain one.

Usage: reliability_exit.py MODE [N]
  normal     fall off the end (exit status 0)
  sys.exit   sys.exit(3)
  exception  an unhandled ValueError (status 1, traceback on stderr)
  thread     the last spans are made by a non-daemon thread the interpreter waits for
"""

import logging
import sys
import threading

from otel_autoinstrument import get_tracer

mode = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 5
tracer = get_tracer("reliability.exit")
logger = logging.getLogger("reliability.exit")


def work(label):
    for i in range(count):
        with tracer.start_as_current_span("%s %d" % (label, i)):
            pass


with tracer.start_as_current_span("main"):
    work("step")
    logger.warning("made %d spans", count)
print("made %d spans" % (count + 1), flush=True)
if mode == "sys.exit":
    sys.exit(3)
elif mode == "exception":
    raise ValueError("the application failed")
elif mode == "thread":
    threading.Thread(target=work, args=("thread",)).start()
elif mode != "normal":
    raise SystemExit("unknown mode %r" % mode)

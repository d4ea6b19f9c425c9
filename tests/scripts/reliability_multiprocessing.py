"""multiprocessing under the agent: ``reliability_multiprocessing.py METHOD``.

Inside a span, starts one Process and a Pool of 2 (4 tasks, then close() and join():
the workers end through os._exit() with the fork method), each making one span. Run
with a long OTEL_BSP_SCHEDULE_DELAY, so the children's spans can only arrive through
the flush at their exit. Prints {"parent": pid, "children": [pids]} as JSON.
"""

import json
import multiprocessing
import os
import sys

from otel_autoinstrument import get_tracer


def work(n):
    with get_tracer("reliability.mp").start_as_current_span("work %s" % n):
        pass
    return os.getpid()


def run_process(n, queue):
    queue.put(work(n))


def main(method):
    context = multiprocessing.get_context(method)
    tracer = get_tracer("reliability.mp")
    with tracer.start_as_current_span("mp-parent"):
        queue = context.Queue()
        process = context.Process(target=run_process, args=("process", queue))
        process.start()
        pids = [queue.get(timeout=60)]
        process.join(60)
        assert process.exitcode == 0, process.exitcode
        pool = context.Pool(2)
        pids += pool.map(work, range(4))
        pool.close()
        pool.join()
    print(json.dumps({"parent": os.getpid(), "children": sorted(set(pids))}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""Records metrics of its own under otel-run and prints what it did, as JSON on stdout.

    metrics_work.py record SECONDS   counters and histograms inside spans, spread over SECONDS
    metrics_work.py fork             the parent records, two forked children record, the parent again
    metrics_work.py idle SECONDS     logs one line, records nothing, stays alive SECONDS
    metrics_work.py threads          prints the names of the agent's threads after recording
"""

import json
import logging
import sys
import threading
import time

from otel_autoinstrument import get_meter, get_tracer

meter = get_meter("metrics_work", "1.0")
orders = meter.counter("work.orders", "{order}", "Orders taken")
latency = meter.histogram("work.latency", "s", "Work latency", boundaries=(0.01, 0.1, 1.0))
queue = meter.up_down_counter("work.queue", "{item}")
tracer = get_tracer("metrics_work")


def record(seconds):
    done = {"orders": {"card": 0, "cash": 0}, "latency_count": 0, "latency_sum": 0.0, "spans": [], "queue": 0}
    values = [0.005, 0.05, 0.5, 2.0]
    rounds = 12
    for i in range(rounds):
        with tracer.start_as_current_span("order-%d" % i) as span:
            payment = "card" if i % 3 else "cash"
            orders.add(1, {"payment": payment})
            done["orders"][payment] += 1
            value = values[i % len(values)]
            latency.record(value)
            done["latency_count"] += 1
            done["latency_sum"] += value
            queue.add(1 if i % 2 else -1)
            done["queue"] += 1 if i % 2 else -1
            done["spans"].append(["%032x" % span.context.trace_id, "%016x" % span.context.span_id])
        time.sleep(seconds / rounds)
    return done


def in_child(conn):
    orders.add(5, {"payment": "child"})
    conn.send("done")
    conn.close()


def fork():
    import multiprocessing

    orders.add(3, {"payment": "parent"})
    context = multiprocessing.get_context("fork")
    children = []
    for _ in range(2):
        parent_end, child_end = context.Pipe()
        process = context.Process(target=in_child, args=(child_end,))
        process.start()
        children.append((process, parent_end))
    for process, parent_end in children:
        parent_end.recv()
        process.join(30)
    orders.add(2, {"payment": "parent"})
    return {"children": [p.pid for p, _ in children]}


def main():
    mode = sys.argv[1]
    if mode == "record":
        out = record(float(sys.argv[2]))
    elif mode == "fork":
        out = fork()
    elif mode == "idle":
        logging.getLogger("work").warning("idle for a while")
        time.sleep(float(sys.argv[2]))
        out = {}
    elif mode == "threads":
        orders.add(1)
        out = {"threads": sorted(t.name for t in threading.enumerate())}
    else:
        raise SystemExit("unknown mode %r" % mode)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

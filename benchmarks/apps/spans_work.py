"""In-process span workload, run under a contender's launcher.

  python spans_work.py MODULE:CALLABLE N WARMUP

(Positional arguments: launchers such as opentelemetry-instrument parse abbreviated
--options of the command line they are given, e.g. --tracer.)

Creates W untimed spans, pauses so that every agent's export path is loaded (the first
export of any agent imports its encoder and HTTP client, a one-time cost that a flat-out
loop would otherwise race against), then N timed spans (start, 3 attributes, end)
through the agent's manual API, as fast as it can, and prints one JSON line. The agent's exit-time
flush happens after that line, as the interpreter exits.
"""
import argparse
import importlib
import json
import time

SETTLE_SECONDS = 2.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tracer")
    ap.add_argument("n", type=int)
    ap.add_argument("warmup", type=int)
    args = ap.parse_args()

    mod, _, attr = args.tracer.partition(":")
    tracer = getattr(importlib.import_module(mod), attr)("bench")

    def burst(count):
        start = tracer.start_as_current_span
        for i in range(count):
            with start("op") as span:
                span.set_attribute("bench.i", i)
                span.set_attribute("bench.kind", "loop")
                span.set_attribute("bench.ratio", 0.5)

    burst(args.warmup)
    if args.warmup:
        time.sleep(SETTLE_SECONDS)
    t_wall = time.time()
    t0 = time.perf_counter()
    burst(args.n)
    dt = time.perf_counter() - t0
    print(json.dumps({"created": args.n + args.warmup, "timed": args.n, "seconds": dt,
                      "us_per_span": dt / max(args.n, 1) * 1e6, "t_start": t_wall,
                      "t_end": time.time()}), flush=True)


if __name__ == "__main__":
    main()

"""The cost of one collection of process/runtime metrics, in this process.

  python runtime_metrics_work.py this|official N

``this``: the agent's runtime metrics (``otel_autoinstrument.metrics.runtime``, read
from /proc, ``os.times``, ``resource``, ``gc``) collected by its collector.
``official``: opentelemetry-instrumentation-system-metrics (psutil) with its default
configuration, collected by the SDK's InMemoryMetricReader.
One JSON line: µs per collection (median of N, after a warm-up) and points per collection.
"""
import json
import sys
import time


def ours():
    from otel_autoinstrument.metrics.collector import Collector
    from otel_autoinstrument.metrics.provider import MeterProvider
    from otel_autoinstrument.metrics.runtime import RuntimeMetrics

    provider = MeterProvider()
    RuntimeMetrics(provider.get_meter("otel_autoinstrument.runtime"))
    collector = Collector(provider)
    return lambda: sum(len(m.points) for m in collector.collect())


def official():
    from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    SystemMetricsInstrumentor().instrument(meter_provider=provider)

    def collect():
        data = reader.get_metrics_data()
        return sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
                   for m in sm.metrics)

    return collect


def main():
    which, n = sys.argv[1], int(sys.argv[2])
    collect = ours() if which == "this" else official()
    for _ in range(5):
        points = collect()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        points = collect()
        times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"us": times[len(times) // 2] * 1e6, "points": points}), flush=True)


if __name__ == "__main__":
    main()

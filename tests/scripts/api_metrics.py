"""The OpenTelemetry metrics API surface, run under otel-run on whichever opentelemetry-api
is on PYTHONPATH (the oldest supported too: newer calls only behind a check). Prints one
JSON line of what it recorded; the metrics go to the receiver."""

import json

from opentelemetry import metrics, trace

seen = {"api_version": None}
try:
    from importlib.metadata import version

    seen["api_version"] = version("opentelemetry-api")
except Exception:
    pass

provider = metrics.get_meter_provider()
try:
    meter = provider.get_meter("shop", "2.0", "https://opentelemetry.io/schemas/1.21.0", {"scope.attr": "yes"})
except TypeError:  # the attributes parameter is newer than the oldest API
    meter = provider.get_meter("shop", "2.0", "https://opentelemetry.io/schemas/1.21.0")
seen["meter_provider"] = type(metrics.get_meter_provider()).__module__

orders = meter.create_counter("shop.orders", unit="{order}", description="Orders taken")
basket = meter.create_up_down_counter("shop.basket.items", unit="{item}")
try:
    latency = meter.create_histogram("shop.checkout.duration", unit="s",
                                     explicit_bucket_boundaries_advisory=[0.1, 1.0])
    seen["advisory"] = True
except TypeError:  # the advisory parameter is newer than the oldest API
    latency = meter.create_histogram("shop.checkout.duration", unit="s")
    seen["advisory"] = False
seen["create_gauge"] = hasattr(meter, "create_gauge")  # offered only where the API has the gauge
seen["gauge"] = seen["create_gauge"] and getattr(metrics, "_Gauge", None) is not None
other = provider.get_meter("other", "1.0")
seen["meters_by_scope"] = other is not meter and (other.name, other.version) == ("other", "1.0")
if seen["gauge"]:
    meter.create_gauge("shop.temperature", unit="Cel").set(21.5, {"room": "store"})

calls = {"plain": 0, "generator": 0}


def stock(options):
    calls["plain"] += 1
    return [metrics.Observation(7, {"shop.item": "apple"}), metrics.Observation(3, {"shop.item": "pear"})]


def uptime():
    options = yield  # the API's generator convention: options in, observations out
    while True:
        calls["generator"] += 1
        options = yield [metrics.Observation(12.5)]


meter.create_observable_gauge("shop.stock", callbacks=[stock], unit="{item}")
meter.create_observable_counter("shop.visits", callbacks=[lambda options: [metrics.Observation(42)]])
meter.create_observable_up_down_counter("shop.uptime", callbacks=[uptime()], unit="s")

tracer = trace.get_tracer("shop")
with tracer.start_as_current_span("checkout") as span:
    for payment in ("card", "card", "cash"):
        orders.add(1, {"shop.payment": payment})
    basket.add(5)
    basket.add(-2)
    latency.record(0.25)
    latency.record(2.0)
    seen["span"] = ["%032x" % span.get_span_context().trace_id, "%016x" % span.get_span_context().span_id]
print(json.dumps(seen))

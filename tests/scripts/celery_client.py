"""Enqueue Celery tasks in a span and wait for their results: a single task, a chain,
a group, a failing task and a retried one. Prints one JSON line of the results.

Environment: CELERY_BROKER; tests/apps/celery_app on PYTHONPATH.
"""

import json

from celery import chain, group

from otel_autoinstrument import get_tracer  # works without the agent: nothing exported
from tasks import add, double, fail, flaky

step = get_tracer("celery-client").start_as_current_span
seen = {}
with step("enqueue"):
    seen["add"] = add.delay(2, 3).get(timeout=30)
with step("chain"):
    seen["chain"] = chain(add.s(1, 1), double.s()).apply_async().get(timeout=30)
with step("group"):
    seen["group"] = group(double.s(i) for i in range(3)).apply_async().get(timeout=30)
with step("failing"):
    try:
        fail.delay("task-secret-arg").get(timeout=30)
    except ValueError as exc:
        seen["fail"] = str(exc)
with step("retry"):
    seen["retry"] = flaky.delay().get(timeout=30)
print(json.dumps(seen, sort_keys=True))

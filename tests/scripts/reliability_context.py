"""The active span carried into ThreadPoolExecutor jobs and asyncio tasks.

Inside the span "outer": three jobs through submit(), two through map(), one through
loop.run_in_executor() and two asyncio tasks each make a span. A value the pool's
initializer put in its thread's context must still be visible to the jobs (only the
span and baggage travel, not the submitter's whole context). Prints JSON.
"""

import asyncio
import contextvars
import json
from concurrent.futures import ThreadPoolExecutor

from otel_autoinstrument import get_tracer

tracer = get_tracer("reliability.context")
pool_value = contextvars.ContextVar("pool_value", default="unset")


def initializer():
    pool_value.set("set by the pool")


def job(name):
    with tracer.start_as_current_span(name):
        return pool_value.get()


async def task(name):
    await asyncio.sleep(0)
    with tracer.start_as_current_span(name):
        await asyncio.sleep(0)


async def main(executor):
    loop = asyncio.get_running_loop()
    seen = [await loop.run_in_executor(executor, job, "executor job")]
    await asyncio.gather(task("task 1"), asyncio.create_task(task("task 2")))
    return seen


with ThreadPoolExecutor(2, initializer=initializer) as executor:
    with tracer.start_as_current_span("outer"):
        seen = [f.result() for f in [executor.submit(job, "submit %d" % i) for i in range(3)]]
        seen += list(executor.map(job, ["map 0", "map 1"]))
        seen += asyncio.run(main(executor))
    outside = executor.submit(job, "no parent").result()
print(json.dumps({"pool_values": sorted(set(seen + [outside]))}), flush=True)

"""redis-py sync and asyncio against a real Redis server: commands, a pipeline, a
transaction, a failing command and a refused connection, each step in a span of its
own. Prints one JSON line of what the application saw (compared with a plain run).

Environment: REDIS_URL (with a database index), REDIS_DEAD_URL (nothing listens there).
"""

import asyncio
import json
import os

import redis
import redis.asyncio

from otel_autoinstrument import get_tracer  # works without the agent: nothing exported

step = get_tracer("redis-script").start_as_current_span
seen = {}

client = redis.Redis.from_url(os.environ["REDIS_URL"])
with step("commands"):
    client.set("user:secret-key-1", "secret-value-1", ex=60)
    seen["get"] = client.get("user:secret-key-1").decode()
    seen["hset"] = client.hset("h:secret-key-2", mapping={"f1": "secret-v1", "f2": "secret-v2"})
    seen["mget"] = [v.decode() if v else None for v in client.mget(["user:secret-key-1", "absent"])]

with step("pipeline"):
    pipe = client.pipeline(transaction=False)
    pipe.incr("counter:secret-3")
    pipe.incr("counter:secret-3")
    pipe.expire("counter:secret-3", 60)
    seen["pipeline"] = pipe.execute()

with step("transaction"):
    with client.pipeline() as tx:
        tx.set("tx:secret-4", "v")
        tx.set("tx:secret-5", "v")
        seen["transaction"] = tx.execute()

with step("failing"):
    try:
        client.execute_command("HGET", "user:secret-key-1", "field")  # a string, not a hash
    except redis.ResponseError as exc:
        seen["failing"] = type(exc).__name__

with step("refused"):
    try:
        redis.Redis.from_url(os.environ["REDIS_DEAD_URL"], socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        seen["refused"] = type(exc).__name__


async def run_async():
    aclient = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    with step("async"):
        await aclient.set("async:secret-6", "secret-value-6")
        seen["async_get"] = (await aclient.get("async:secret-6")).decode()
        async with aclient.pipeline(transaction=True) as pipe:
            pipe.get("async:secret-6")
            pipe.delete("async:secret-6")
            seen["async_tx"] = [v.decode() if isinstance(v, bytes) else v for v in await pipe.execute()]
    await aclient.aclose()


asyncio.run(run_async())
print(json.dumps(seen, sort_keys=True))

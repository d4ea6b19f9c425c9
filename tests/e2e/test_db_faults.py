"""The database instrumentors never hurt the application: when making a span fails
(the tracer raises), psycopg, psycopg2 and redis-py calls still run and return what
they would, and the agent logs its own error."""

import json

from support.agent import PYTHON, agent_env, otel_run
from support.processes import run

SCRIPT = '''
import json, os, psycopg, psycopg2, redis
from otel_autoinstrument.trace.tracer import Tracer

def broken(*args, **kwargs):
    raise RuntimeError("tracer broken on purpose")

Tracer.start_span = broken
seen = {}
with psycopg.connect(os.environ["PG_DSN"]) as conn:
    seen["psycopg"] = conn.execute("SELECT 40 + %s", (2,)).fetchone()[0]
    try:
        conn.execute("SELECT * FROM no_such_table")
    except psycopg.errors.UndefinedTable as exc:
        seen["psycopg_error"] = type(exc).__name__
conn2 = psycopg2.connect(os.environ["PG_DSN"])
with conn2, conn2.cursor() as cur:
    cur.execute("SELECT 1 + %s", (1,))
    seen["psycopg2"] = cur.fetchone()[0]
client = redis.Redis.from_url(os.environ["REDIS_URL"])
client.set("fault:key", "v")
seen["redis"] = client.get("fault:key").decode()
pipe = client.pipeline()
pipe.get("fault:key")
seen["pipeline"] = [v.decode() for v in pipe.execute()]
print(json.dumps(seen, sort_keys=True))
'''


def test_a_failing_tracer_leaves_the_calls_alone(postgres, redis_server, receiver, service_name):
    env = agent_env(receiver, service_name, PG_DSN=postgres.dsn(), REDIS_URL=redis_server.url(12))
    env.pop("AUTOINSTRUMENT_STRICT")  # production behaviour: the agent's errors are swallowed
    result = run(otel_run(PYTHON, "-c", SCRIPT), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "pipeline": ["v"], "psycopg": 42, "psycopg2": 2, "psycopg_error": "UndefinedTable", "redis": "v"}
    assert "tracer broken on purpose" in result.stderr
    assert "psycopg" in result.stderr and "redis" in result.stderr

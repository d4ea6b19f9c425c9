"""psycopg 3 (sync, async, pool), psycopg2 and SQLAlchemy on a real PostgreSQL, each step
in a span of its own so the tests can check parents. Prints one JSON line of what the
application saw (compared with an uninstrumented run).

Environment: PG_DSN (libpq key=value string with the password), PG_TABLE (this run's
table prefix, so runs sharing the server do not collide).
"""

import asyncio
import io
import json
import os
import sys

import psycopg
import psycopg2
import psycopg2.extras
import psycopg_pool
from psycopg import sql

DSN = os.environ["PG_DSN"]
T = os.environ["PG_TABLE"]
seen = {}

from otel_autoinstrument import get_tracer  # noqa: E402 (works without the agent: nothing exported)

step = get_tracer("postgres-script").start_as_current_span

with step("psycopg"):
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("CREATE TABLE %s_users (id serial PRIMARY KEY, name text, age int)" % T)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO %s_users (name, age) VALUES ('literal-secret-ann', 41)" % T)
            cur.executemany("INSERT INTO %s_users (name, age) VALUES (%%s, %%s)" % T,
                            [("param-secret-bob", 1), ("param-secret-cy", 2), ("param-secret-di", 3)])
            cur.execute(sql.SQL("SELECT name FROM {} WHERE age > {}").format(sql.Identifier(T + "_users"),
                                                                            sql.Literal(1)))
            seen["composed"] = sorted(r[0] for r in cur.fetchall())
        with conn.transaction():
            with conn.cursor(name="named") as named:
                named.execute("SELECT id FROM %s_users WHERE age > %%s ORDER BY id" % T, (0,))
                seen["named"] = [r[0] for r in named.fetchall()]
        with conn.cursor() as cur:
            with cur.copy("COPY %s_users (name, age) FROM STDIN" % T) as copy:
                copy.write_row(("copied", 7))
            buffer = io.BytesIO()
            with cur.copy("COPY (SELECT name FROM %s_users ORDER BY id) TO STDOUT" % T) as copy:
                for data in copy:
                    buffer.write(bytes(data))
            seen["copy_out"] = buffer.getvalue().decode().split()

with step("psycopg-error"):
    with psycopg.connect(DSN, autocommit=True) as conn:
        try:
            conn.execute("SELECT * FROM %s_users WHERE name = 'literal-secret-zed' AND nosuchcol = 1" % T)
        except psycopg.errors.UndefinedColumn as exc:
            seen["error"] = type(exc).__name__


async def run_async():
    async with await psycopg.AsyncConnection.connect(DSN, autocommit=True) as conn:
        with step("async"):
            async with conn.cursor() as cur:
                await cur.execute("SELECT count(*) FROM %s_users" % T)
                seen["async_count"] = (await cur.fetchone())[0]
                await cur.executemany("UPDATE %s_users SET age = age + 1 WHERE id = %%s" % T, [(1,), (2,)])
                async with cur.copy("COPY %s_users (name, age) FROM STDIN" % T) as copy:
                    await copy.write_row(("async-copied", 8))
            async with conn.cursor(name="async_named") as named:
                await conn.set_autocommit(False)
                await named.execute("SELECT name FROM %s_users ORDER BY id LIMIT 2" % T)
                seen["async_named"] = [r[0] for r in await named.fetchall()]
            await conn.commit()


asyncio.run(run_async())

pool = psycopg_pool.ConnectionPool(DSN, min_size=1, max_size=1, open=True, kwargs={"autocommit": True})
for request in ("request-1", "request-2"):  # the one pooled connection serves both
    with step(request):
        with pool.connection() as conn:
            seen[request] = conn.execute("SELECT count(*) FROM %s_users WHERE age > %%s" % T, (0,)).fetchone()[0]
pool.close()

with step("psycopg2"):
    conn2 = psycopg2.connect(DSN)
    with conn2:
        with conn2.cursor() as cur:
            cur.execute("SELECT name FROM %s_users WHERE age = %%s" % T, (41,))
            seen["psycopg2"] = cur.fetchall()
            cur.executemany("INSERT INTO %s_users (name, age) VALUES (%%s, %%s)" % T, [("p2-a", 5), ("p2-b", 6)])
            cur.copy_expert("COPY (SELECT id FROM %s_users WHERE age = 5) TO STDOUT" % T, io.StringIO())
        with conn2.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute("SELECT name, age FROM %s_users WHERE name = 'p2-b'" % T)
            seen["dict_row"] = dict(cur.fetchone())
            seen["cursor_is_dict"] = isinstance(cur, psycopg2.extras.RealDictCursor)
        with conn2.cursor("p2named") as cur:
            cur.execute("SELECT id FROM %s_users WHERE age = 6" % T)
            seen["p2named"] = len(cur.fetchall())
    try:
        with conn2, conn2.cursor() as cur:
            cur.execute("INSERT INTO %s_users (id, name) VALUES (1, 'literal-secret-dup')" % T)
    except psycopg2.errors.UniqueViolation as exc:
        seen["p2error"] = type(exc).__name__
    seen["p2conn"] = isinstance(conn2, psycopg2.extensions.connection)
    conn2.close()
    # A connection class that picks its own cursor class (in its cursor()): rows as it makes them.
    conn3 = psycopg2.connect(DSN, connection_factory=psycopg2.extras.RealDictConnection)
    with conn3, conn3.cursor() as cur:
        cur.execute("SELECT name FROM %s_users WHERE name = 'p2-a'" % T)
        seen["dict_connection_row"] = cur.fetchone()
        seen["dict_connection_cursor"] = isinstance(cur, psycopg2.extras.RealDictCursor)
    seen["dict_connection"] = isinstance(conn3, psycopg2.extras.RealDictConnection)
    conn3.close()

from sqlalchemy import create_engine, text  # noqa: E402

for driver in ("psycopg", "psycopg2"):
    with step("sqlalchemy-" + driver):
        engine = create_engine(os.environ["PG_URL"].replace("+psycopg:", "+%s:" % driver))
        with engine.connect() as conn:
            seen["sa-" + driver] = conn.execute(
                text("SELECT count(*) FROM %s_users WHERE name = :name" % T), {"name": "param-secret-bob"}).scalar()
        engine.dispose()



async def run_sqlalchemy_async():
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(os.environ["PG_URL"])
    with step("sqlalchemy-async"):
        async with engine.connect() as conn:
            result = await conn.execute(text("SELECT count(*) FROM %s_users WHERE age > :age" % T), {"age": 0})
            seen["sa-async"] = result.scalar()
    await engine.dispose()


asyncio.run(run_sqlalchemy_async())
print(json.dumps(seen, sort_keys=True))
sys.stdout.flush()

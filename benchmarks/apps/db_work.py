"""In-process cost of traced database calls, run under a contender's launcher.

  python db_work.py PG_DSN REDIS_URL N WARMUP

Times N psycopg (3) statements (one SELECT by primary key on a 100-row table, cursor
reused, autocommit) on a local PostgreSQL, then N redis-py GETs on a local Redis, and
prints one JSON line with the microseconds per call and the calls made in all.
"""
import argparse
import json
import time

import psycopg
import redis


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dsn")
    ap.add_argument("redis_url")
    ap.add_argument("n", type=int)
    ap.add_argument("warmup", type=int)
    args = ap.parse_args()

    with psycopg.connect(args.dsn, autocommit=True) as conn, conn.cursor() as cur:
        query = "SELECT id, name, value FROM bench_item WHERE id = %s"
        for i in range(args.warmup):
            cur.execute(query, (i % 100 + 1,))
            cur.fetchall()
        t0 = time.perf_counter()
        for i in range(args.n):
            cur.execute(query, (i % 100 + 1,))
            cur.fetchall()
        pg_s = time.perf_counter() - t0

    client = redis.Redis.from_url(args.redis_url)
    client.set("bench:key", "value")
    for _ in range(args.warmup):
        client.get("bench:key")
    t0 = time.perf_counter()
    for _ in range(args.n):
        client.get("bench:key")
    redis_s = time.perf_counter() - t0

    print(json.dumps({"pg_us": pg_s / max(args.n, 1) * 1e6, "redis_us": redis_s / max(args.n, 1) * 1e6,
                      "pg_statements": args.warmup + args.n, "redis_commands": 1 + args.warmup + args.n}),
          flush=True)


if __name__ == "__main__":
    main()

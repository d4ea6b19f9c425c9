"""In-process cost of traced library calls, run under a contender's launcher.

  python calls_work.py URL N_HTTP N_SQL WARMUP      (positional: see spans_work.py)

Times N `requests` GETs on a keep-alive Session to the local upstream, N httpx GETs
on a keep-alive Client, then M SQLAlchemy statements on an in-memory SQLite, and
prints one JSON line with the microseconds per call and how many calls were made in
all (what an agent that traces every call should deliver as spans).
"""
import argparse
import json
import time

import httpx
import requests
from sqlalchemy import create_engine, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream")
    ap.add_argument("n_http", type=int)
    ap.add_argument("n_sql", type=int)
    ap.add_argument("warmup", type=int)
    args = ap.parse_args()

    session = requests.Session()
    for _ in range(args.warmup):
        session.get(args.upstream, timeout=10).content
    t0 = time.perf_counter()
    for _ in range(args.n_http):
        session.get(args.upstream, timeout=10).content
    http_s = time.perf_counter() - t0

    client = httpx.Client(timeout=10)
    for _ in range(args.warmup):
        client.get(args.upstream).content
    t0 = time.perf_counter()
    for _ in range(args.n_http):
        client.get(args.upstream).content
    httpx_s = time.perf_counter() - t0

    engine = create_engine("sqlite://")
    statements = 0
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, value INTEGER)"))
        conn.execute(text("INSERT INTO item (id, name, value) VALUES (:id, :name, :value)"),
                     [{"id": i, "name": "item-%d" % i, "value": i * 7} for i in range(1, 101)])
        statements += 2
        query = text("SELECT id, name, value FROM item WHERE id = :id")
        for i in range(args.warmup):
            conn.execute(query, {"id": i % 100 + 1}).fetchall()
        t0 = time.perf_counter()
        for i in range(args.n_sql):
            conn.execute(query, {"id": i % 100 + 1}).fetchall()
        sql_s = time.perf_counter() - t0
        statements += args.warmup + args.n_sql

    print(json.dumps({
        "http_us": http_s / max(args.n_http, 1) * 1e6,
        "sql_us": sql_s / max(args.n_sql, 1) * 1e6,
        "httpx_us": httpx_s / max(args.n_http, 1) * 1e6,
        "http_calls": 2 * (args.warmup + args.n_http),
        "sql_statements": statements,
    }), flush=True)


if __name__ == "__main__":
    main()

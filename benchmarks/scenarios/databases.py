"""Scenarios pg-statement and redis-command: µs per traced psycopg statement and redis-py
command on real local servers (PostgreSQL and Redis started here on 127.0.0.1 with
throwaway data directories, as the tests start them: tests/support/servers.py).
"""
import sys
from pathlib import Path

from .common import APPS, per_call_results, per_call_runs, scenario_record

IDS = ["pg-statement", "redis-command"]
COLUMNS = [("us", "µs/call (median)", "%.1f"), ("added_us", "added µs/call", "%+.1f"), ("runs", "runs", "%d")]
TESTS = Path(__file__).resolve().parents[2] / "tests"


def _servers(ctx):
    sys.path.insert(0, str(TESTS))
    from support.servers import Postgres, Redis

    pg, rs = Postgres(), Redis()
    if not pg.available or not rs.available:
        return None, None, "PostgreSQL or redis-server not installed"
    pg.start()
    try:
        rs.start()
    except Exception:
        pg.stop()
        raise
    import psycopg

    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_item (id int PRIMARY KEY, name text, value int)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO bench_item VALUES (%s, %s, %s)",
                            [(i, "item-%d" % i, i * 7) for i in range(1, 101)])
    return pg, rs, None


def run(ctx, settings, ids):
    pg_rec = scenario_record("pg-statement", "In-process: one psycopg (3) SELECT by primary key on a "
                             "local PostgreSQL", "time per statement, median", "µs", columns=COLUMNS)
    redis_rec = scenario_record("redis-command", "In-process: one redis-py GET on a local Redis",
                                "time per command, median", "µs", columns=COLUMNS)
    recs = [r for r in (pg_rec, redis_rec) if r["id"] in ids]
    rts, why = ctx.able(["psycopg", "redis"])
    for rec in recs:
        rec["notes"] += why
        rec["notes"].append("delivery counts the spans of the whole script (statements and commands)")
    pg = rs = None
    problem = None if rts else "; ".join(why)
    if rts:
        pg, rs, problem = _servers(ctx)
    if problem:
        for rec in recs:
            rec["skipped"] = problem
        return recs
    try:
        runs, errors = _measure(ctx, settings, rts, pg, rs)
    finally:
        pg.stop()
        rs.stop()
    per_call_results(ctx, rts, runs, errors, ((pg_rec, "pg_us"), (redis_rec, "redis_us")),
                     ("pg_statements", "redis_commands"))
    return recs


def _measure(ctx, settings, rts, pg, rs):
    n, rounds = settings.db_n, settings.db_rounds
    ctx.log("databases: %d rounds x (%d statements + %d commands) x %d contenders" % (rounds, n, n, len(rts)))
    return per_call_runs(ctx, settings, rts, rounds, "db", (str(APPS / "db_work.py"), pg.dsn(), rs.url(0),
                                                            str(n), str(settings.calls_warmup)))

"""A Flask service on the real stack: PostgreSQL through psycopg directly and through
SQLAlchemy, Redis as a cache, and a Celery task enqueued from the request (whose worker
queries PostgreSQL too). No telemetry code.

Environment: PG_DSN, PG_URL, REDIS_URL, CELERY_BROKER; tests/apps/celery_app on PYTHONPATH.
"""

import json
import os

import psycopg
import redis
from flask import Flask
from sqlalchemy import create_engine, text

from tasks import add

app = Flask(__name__)
cache = redis.Redis.from_url(os.environ["REDIS_URL"])
engine = create_engine(os.environ["PG_URL"], pool_size=2)


@app.route("/order/<int:number>")
def order(number):
    key = "order:%d" % number
    cached = cache.get(key)
    with psycopg.connect(os.environ["PG_DSN"]) as conn:
        doubled = conn.execute("SELECT %s::int * 2", (number,)).fetchone()[0]
    with engine.connect() as conn:
        label = conn.execute(text("SELECT 'order-' || :n"), {"n": str(number)}).scalar()
    cache.set(key, label, ex=60)
    total = add.delay(number, 1).get(timeout=30)
    return json.dumps({"cached": cached.decode() if cached else None, "doubled": doubled, "label": label,
                       "total": total})

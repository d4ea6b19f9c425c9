"""A Celery app on a real Redis broker (and result backend) for the end-to-end tests.

Environment: CELERY_BROKER (redis URL), PG_DSN (optional: the task queries PostgreSQL).
"""

import os

from celery import Celery

app = Celery("tasks", broker=os.environ["CELERY_BROKER"], backend=os.environ["CELERY_BROKER"])
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_acks_late=False,
    result_expires=300,
    beat_schedule={"tick": {"task": "tasks.tick", "schedule": 0.5}} if os.environ.get("CELERY_BEAT") else {},
)


@app.task(name="tasks.add")
def add(x, y):
    if os.environ.get("PG_DSN"):
        import psycopg

        with psycopg.connect(os.environ["PG_DSN"]) as conn:
            x = conn.execute("SELECT %s::int", (x,)).fetchone()[0]
    return x + y


@app.task(name="tasks.double")
def double(x):
    return x * 2


@app.task(name="tasks.fail")
def fail(secret):
    raise ValueError("task failed")


@app.task(name="tasks.flaky", bind=True, max_retries=2, default_retry_delay=0)
def flaky(self):
    if self.request.retries < 1:
        raise self.retry(exc=RuntimeError("try again"), countdown=0)
    return "ok after %d" % self.request.retries


@app.task(name="tasks.tick")
def tick():
    return "tick"

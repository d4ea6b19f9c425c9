"""SQLAlchemy Core, ORM, a failing statement and an AsyncEngine on SQLite, each step in
a span of its own so the tests can check the parent links. Prints one JSON line.

``create_engine`` is bound by the very first import; one engine is made at import time
of a module (sqlalchemy_models), another here after all imports. Environment:
SQLALCHEMY_TEST_DB (the SQLite file).
"""

from sqlalchemy import create_engine  # noqa: I001  (bound first on purpose)

import json
import os
import sys

import sqlalchemy
from sqlalchemy import select, text
from sqlalchemy.orm import Session

import sqlalchemy_models as models
from otel_autoinstrument import get_tracer

tracer = get_tracer("sqlalchemy-script")
late_engine = create_engine("sqlite:///" + os.environ["SQLALCHEMY_TEST_DB"])
seen = {"version": sqlalchemy.__version__}

with tracer.start_as_current_span("core"):
    models.metadata.create_all(models.engine)
    with models.engine.begin() as conn:
        conn.execute(models.users.insert(), [{"name": "param-secret-alice"}, {"name": "param-secret-bob"}])
        conn.execute(models.users.update().where(models.users.c.id == 1).values(name="param-secret-new"))
        rows = conn.execute(text("SELECT id, name FROM users WHERE name = 'literal-secret-carol' OR id = 2"))
        seen["core_rows"] = len(rows.fetchall())

with tracer.start_as_current_span("orm"):
    models.Base.metadata.create_all(late_engine)
    with Session(late_engine) as session:
        session.add(models.Item(name="param-secret-item"))
        session.commit()
        item = session.execute(select(models.Item).where(models.Item.name == "param-secret-item")).scalars().one()
        item.name = "param-secret-renamed"
        session.commit()
        seen["orm_id"] = item.id

with tracer.start_as_current_span("failing"):
    try:
        with late_engine.connect() as conn:
            conn.execute(text("SELECT name FROM missing_table WHERE name = :name"), {"name": "param-secret-x"})
    except sqlalchemy.exc.OperationalError as exc:
        seen["failing"] = "%s.%s" % (type(exc).__module__, type(exc).__name__)
        seen["failing_orig"] = type(exc.orig).__name__

with tracer.start_as_current_span("long"):
    literals = ", ".join("'literal-secret-%03d'" % i for i in range(40))
    with late_engine.connect() as conn:
        conn.execute(text("SELECT id FROM users WHERE name IN (%s)" % literals)).fetchall()


def run_async():
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def main():
        engine = create_async_engine("sqlite+aiosqlite:///" + os.environ["SQLALCHEMY_TEST_DB"])
        with tracer.start_as_current_span("async"):
            async with engine.connect() as conn:
                result = await conn.execute(text("SELECT count(*) FROM users"))
                seen["async_count"] = result.scalar()
        await engine.dispose()

    asyncio.run(main())


run_async()
print(json.dumps(seen))
sys.stdout.flush()

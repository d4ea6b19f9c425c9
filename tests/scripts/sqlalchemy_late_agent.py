"""The agent started after SQLAlchemy was imported and an engine and a connection were
made (run with plain python, not otel-run): statements run afterwards, on the open
connection and on new ones, are traced. Prints one JSON line.

Environment: SQLALCHEMY_TEST_DB (the SQLite file), the OTEL_* variables of the agent.
"""

import json
import os

import sqlalchemy
from sqlalchemy import create_engine, text

engine = create_engine("sqlite:///" + os.environ["SQLALCHEMY_TEST_DB"])
early_conn = engine.connect()
early_conn.execute(text("SELECT 'before-agent'")).fetchall()

from otel_autoinstrument.agent.startup import start  # noqa: E402

start()

seen = {"version": sqlalchemy.__version__}
seen["open_connection"] = early_conn.execute(text("SELECT 'open-connection'")).scalar()
early_conn.close()
with engine.connect() as conn:
    seen["new_connection"] = conn.execute(text("SELECT 'new-connection', 2")).scalar()
print(json.dumps(seen))

"""SQLAlchemy and the Django ORM on SQLite, with literals the sanitizer must read the
way SQLite does, and failing statements whose error messages quote a literal. The
secrets come from APP_SECRETS (JSON), never from this file (stack traces show source).

Usage: python security_db.py
"""

import json
import os

import django
from django.conf import settings
from sqlalchemy import create_engine, text

s = json.loads(os.environ["APP_SECRETS"])
WINDOWS_PATH = "SELECT 'C:\\data\\', '%s' AS k"
UNCLOSED = "SELECT 'unclosed %s"

engine = create_engine("sqlite://")
with engine.connect() as conn:
    assert conn.execute(text(WINDOWS_PATH % s["sqlalchemy_literal"])).fetchone()[0] == "C:\\data\\"
    try:
        conn.execute(text(UNCLOSED % s["sqlalchemy_error"]))
    except Exception:
        pass

settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
django.setup()
from django.db import connection  # noqa: E402  (after setup)

with connection.cursor() as cursor:
    cursor.execute(WINDOWS_PATH % s["django_literal"])
    try:
        cursor.execute(UNCLOSED % s["django_error"])
    except Exception:
        pass
print("done")

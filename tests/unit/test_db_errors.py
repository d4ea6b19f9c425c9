"""Database error messages lose the literals they quote: the scrubber on real driver
messages, and the database helper applying it to the exception event, the stack trace
and the status of a failed statement's span."""

import sqlite3

import pytest

from otel_autoinstrument.instrumentation.db import DbSpans, record_db_error, scrub_db_error
from otel_autoinstrument.redaction.sql_errors import is_database_error, scrub_traceback
from otel_autoinstrument.testing import InMemoryAgent

MESSAGES = [
    # SQLite
    ('unrecognized token: "\'hunter2"', "unrecognized token: ?"),
    ('near "hunter2": syntax error', "near ?: syntax error"),
    ("no such table: users", "no such table: users"),
    # MySQL / MariaDB
    ("(1062, \"Duplicate entry 'bob@example.com' for key 'users.email'\")", "(1062, ?)"),
    ("Duplicate entry 'bob@example.com' for key 'users.email'", "Duplicate entry ? for key ?"),
    ("You have an error in your SQL syntax; check the manual near 'it\\'s hunter2' at line 1",
     "You have an error in your SQL syntax; check the manual near ? at line 1"),
    ("Table 'shop.orders' doesn't exist", "Table ? doesn't exist"),
    # PostgreSQL
    ('duplicate key value violates unique constraint "users_email_key"\n'
     "DETAIL:  Key (email)=(bob@example.com) already exists.",
     "duplicate key value violates unique constraint ?\nDETAIL:  Key (email)=(?) already exists."),
    ('null value in column "pin" violates not-null constraint\nDETAIL:  Failing row contains (7, hunter2, null).',
     "null value in column ? violates not-null constraint\nDETAIL:  Failing row contains (?)."),
    ('invalid input syntax for type integer: "hunter2"\nLINE 1: SELECT * FROM t WHERE id = \'hunter2\' AND pin = 1234\n'
     "                                           ^",
     "invalid input syntax for type integer: ?\nLINE 1: SELECT * FROM t WHERE id = ? AND pin = ?\n"
     "                                           ^"),
    # SQL Server
    ("Violation of PRIMARY KEY constraint 'PK_t'. The duplicate key value is (hunter2).",
     "Violation of PRIMARY KEY constraint ?. The duplicate key value is (?)."),
    # An unclosed quote runs to the end.
    ("near 'hunter2\nsecond line", "near ?"),
]


@pytest.mark.parametrize("message, scrubbed", MESSAGES)
def test_driver_messages_lose_their_literals(message, scrubbed):
    assert scrub_db_error(message, "postgresql") == scrubbed


def test_tracebacks_keep_their_frames():
    text = ('Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
            '    cursor.execute(query)\nsqlite3.OperationalError: unrecognized token: "\'hunter2"\n\n'
            "The above exception was the direct cause of the following exception:\n\n"
            'Traceback (most recent call last):\n  File "/srv/db.py", line 9, in run\n'
            'django.db.utils.OperationalError: unrecognized token: "\'hunter2"\n')
    assert scrub_traceback(text) == text.replace('"\'hunter2"', "?")


def test_database_error_types():
    for name in ("sqlite3.OperationalError", "psycopg2.errors.UniqueViolation", "pymysql.err.IntegrityError",
                 "django.db.utils.IntegrityError", "sqlalchemy.exc.OperationalError"):
        assert is_database_error(name)
    for name in ("ValueError", "requests.exceptions.HTTPError", None):
        assert not is_database_error(name)


def failing_statement():
    """A real sqlite3 error whose message quotes a literal, raised again the way Django
    wraps it (the driver's message repeated in the chained traceback)."""
    try:
        try:
            sqlite3.connect(":memory:").execute("SELECT 'unclosed " + "Hunter" + "2")
        except sqlite3.OperationalError as driver_error:
            raise RuntimeError(str(driver_error)) from driver_error
    except RuntimeError as exc:
        return exc


def db_spans(**environ):
    memory = InMemoryAgent(environ)
    return DbSpans(memory.tracer(), memory.settings), memory


def test_a_failed_statement_span_carries_no_literal():
    spans, memory = db_spans()
    span = spans.start(spans.target("sqlite"), "SELECT 'unclosed ...")
    spans.finish(span, failing_statement())
    (ended,) = memory.spans
    (event,) = ended.events
    assert event.attributes["exception.message"] == "unrecognized token: ?"
    stacktrace = event.attributes["exception.stacktrace"]
    assert "Hunter2" not in stacktrace and stacktrace.count("unrecognized token: ?") == 2
    assert ended.status_message == "RuntimeError: unrecognized token: ?"
    assert ended.attributes["error.type"] == "RuntimeError"


def test_sanitize_false_records_the_message_as_it_is():
    spans, memory = db_spans(OTEL_PYTHON_DB_QUERY_SANITIZE="false")
    spans.finish(spans.start(spans.target("sqlite"), "SELECT 1"), failing_statement())
    assert "Hunter2" in memory.spans[0].events[0].attributes["exception.message"]


def test_plugins_can_record_database_errors_on_any_span():
    spans, memory = db_spans(OTEL_TRACES_SAMPLER="always_off")
    span = spans.start(spans.target("sqlite"), "SELECT 1")
    record_db_error(span, failing_statement())  # not recording: nothing, and no error
    span.end()
    assert memory.spans == []

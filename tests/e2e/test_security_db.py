"""Database spans never carry a literal, end to end, with the redaction processor OFF
(OTEL_PYTHON_REDACTION=none), so the database helper alone is what is tested:

* SQLite reads ``'C:\\data\\'`` as a whole string (a backslash escapes nothing there):
  the next literal must not come out as text between two ``?`` (it used to, read
  MySQL's way);
* an unclosed quote makes SQLite answer ``unrecognized token: "'<literal>"``: the
  exception message, its stack trace (Django's error chains the driver's, repeating the
  message) and the status description get ``?`` instead.

For SQLAlchemy and the Django ORM, both through the shared ``DbSpans`` helper.
"""

import json

from support.agent import agent_env, otel_run
from support.processes import TESTS_DIR, run

SCRIPT = TESTS_DIR / "scripts" / "security_db.py"
SECRETS = {"sqlalchemy_literal": "SaLiteral-7311", "sqlalchemy_error": "SaErrLiteral-7312",
           "django_literal": "DjLiteral-7313", "django_error": "DjErrLiteral-7314"}


def test_database_spans_carry_no_literal_in_text_message_or_stack(receiver, service_name):
    env = agent_env(receiver, service_name, APP_SECRETS=json.dumps(SECRETS), OTEL_PYTHON_REDACTION="none")
    result = run(otel_run("python", SCRIPT), env=env, timeout=60)
    assert result.returncode == 0 and result.stdout == "done\n", result.stderr
    spans = receiver.wait_for_spans(service=service_name, predicate=lambda spans: len(
        [s for s in spans if s.kind == "CLIENT"]) >= 4)
    for request in receiver.requests:
        for secret in SECRETS.values():
            assert secret.encode() not in request.body, secret
    for scope, repeats in (("otel_autoinstrument.sqlalchemy", 1), ("otel_autoinstrument.django", 2)):
        ok, failed = sorted([s for s in spans if s.scope_name == scope and s.kind == "CLIENT"],
                            key=lambda s: s.status_code == "ERROR")
        assert ok.attributes["db.query.text"] == "SELECT ?, ? AS k" and ok.status_code == "UNSET"
        assert failed.attributes["db.query.text"] == "SELECT ?"
        (event,) = failed.events
        assert event.attributes["exception.message"] == "unrecognized token: ?"
        assert failed.status_message.endswith("OperationalError: unrecognized token: ?")
        stacktrace = event.attributes["exception.stacktrace"]
        assert stacktrace.rstrip().endswith("OperationalError: unrecognized token: ?")
        assert stacktrace.count("unrecognized token: ?") == repeats and "File " in stacktrace  # frames kept

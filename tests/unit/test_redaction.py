"""The redaction processor: each built-in rule (and what it must leave alone), user
patterns, the OTEL_PYTHON_REDACTION syntax, and the exporter wrapper rewriting real
spans and log records in the export thread before the real exporter sees them."""

import pytest

from otel_autoinstrument import config
from otel_autoinstrument.logs.record import LogRecord
from otel_autoinstrument.redaction.processor import RedactingExporter, Redactor, luhn_ok, redactor_from_settings, resolve, wrap
from otel_autoinstrument.trace.sampling import AlwaysOn
from otel_autoinstrument.trace.span import StatusCode
from otel_autoinstrument.trace.tracer import TracerProvider

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
       ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")

REDACTED = [
    # (text, expected)
    ("mail alice.smith+news@example.co.uk now", "mail [REDACTED:email] now"),
    ("<bob@shop.example>", "<[REDACTED:email]>"),
    ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
    ("card 4111-1111-1111-1111", "card [REDACTED:card]"),
    ("card 4111 1111 1111 1111 2 items", "card [REDACTED:card] 2 items"),
    ("page 2 4111-1111-1111-1111", "page 2 [REDACTED:card]"),
    ("amex 378282246310005.", "amex [REDACTED:card]."),
    ("mc=5555555555554444&x=1", "mc=[REDACTED:card]&x=1"),
    ("Authorization: Bearer abc.DEF-ghi_jkl", "Authorization: Bearer [REDACTED:bearer]"),
    ("bearer  c2VjcmV0LXRva2Vu==", "bearer [REDACTED:bearer]"),
    ("token " + JWT + " end", "token [REDACTED:jwt] end"),
    ("id=AKIAIOSFODNN7EXAMPLE;", "id=[REDACTED:aws_key];"),
    ("sts ASIAY34FZKBOKMUTVV7A", "sts [REDACTED:aws_key]"),
    ("GET https://bob:hunter2@example.com/x", "GET https://[REDACTED:url_credentials]@example.com/x"),
    ("clone https://ghp_0123456789abcdef@github.com/o/r", "clone https://[REDACTED:url_credentials]@github.com/o/r"),
    ("Max retries exceeded with url: /a?token=s3cr3t&page=2 (Caused by",
     "Max retries exceeded with url: /a?token=[REDACTED:url_query]&page=2 (Caused by"),
    ("/o?X-Amz-Signature=abc&X-Amz-Credential=AK%2F1#access_token=zz",
     "/o?X-Amz-Signature=[REDACTED:url_query]&X-Amz-Credential=[REDACTED:url_query]"
     "#access_token=[REDACTED:url_query]"),
    # name=value pairs with a sensitive name, in any text
    ("login failed: user=bob password=hunter2 retries=3", "login failed: user=bob password=[REDACTED:key_value] retries=3"),
    ("Session(id=5, api_key='k-123 45', auth_token=\"t\")",
     "Session(id=5, api_key=[REDACTED:key_value], auth_token=[REDACTED:key_value])"),
    ("headers: Authorization=Bearer abc.def X-CSRFToken=zz9", "headers: Authorization=[REDACTED:key_value] X-CSRFToken=[REDACTED:key_value]"),
    ("retry with accessToken=AAA&page=2 and sessionToken=BBB;x=1",
     "retry with accessToken=[REDACTED:key_value]&page=2 and sessionToken=[REDACTED:key_value];x=1"),
    ("GET /cb?secret_key=s&pass=p#auth_token=t", "GET /cb?secret_key=[REDACTED:url_query]&pass=[REDACTED:url_query]"
     "#auth_token=[REDACTED:url_query]"),
    # SQLAlchemy's message, its statement cut before the closing bracket
    ("(sqlite3.OperationalError) near x\n[SQL: INSERT INTO t VALUES ('s3cr3t', 42",
     "(sqlite3.OperationalError) near x\n[SQL: INSERT INTO t VALUES (?, ?"),
    ("[parameters: ('hunter2', 'x'\nnext line", "[parameters: [REDACTED:sql_error]\nnext line"),
    ("(sqlite3.IntegrityError) UNIQUE constraint failed: users.name\n"
     "[SQL: INSERT INTO users (name, api_key) VALUES ('bob', 'sk-live-1')]\n"
     "[parameters: ('hunter2', 42)]\n(Background on this error at: https://sqlalche.me/e/20/gkpj)",
     "(sqlite3.IntegrityError) UNIQUE constraint failed: users.name\n"
     "[SQL: INSERT INTO users (name, api_key) VALUES (?, ?)]\n"
     "[parameters: [REDACTED:sql_error]]\n(Background on this error at: https://sqlalche.me/e/20/gkpj)"),
]

KEPT = [
    "GET /users/42",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
    "card 4111 1111 1111 1112",            # fails the Luhn check
    "time 1700000000000000000 ns",         # 19 digits, but no card starts with 1
    "order 2024-01-15 12:30:45",
    "SELECT * FROM users WHERE id = ? AND name = ?",
    "https://REDACTED:REDACTED@host/p?token=REDACTED&page=2",   # already redacted by urls.py
    "mailto:nobody",
    "the bearer of bad news",              # no token-like word after "bearer"
    "ssh: a@b",                            # no domain
    "ABIAIOSFODNN7EXAMPLE AKIA123",        # not an access key id
    "x" * 5000,
    "keyword=python&author=ann&monkey=1&token_type=bearer&status_code=500",  # no sensitive name
    "SELECT * FROM users WHERE password = ? AND token=? AND key=%s",    # placeholders are no secrets
    "url.query token=REDACTED&page=2",    # already redacted by urls.py
]


@pytest.fixture(scope="module")
def redactor():
    return Redactor()


@pytest.mark.parametrize("text, expected", REDACTED)
def test_builtin_rules_replace_the_match_with_a_marker_naming_the_rule(redactor, text, expected):
    assert redactor.text(text) == expected
    assert redactor.text(expected) == expected  # idempotent: a marker matches no rule


@pytest.mark.parametrize("text", KEPT)
def test_what_is_not_a_secret_is_kept_as_is(redactor, text):
    assert redactor.text(text) is text or redactor.text(text) == text


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005") and luhn_ok("5555555555554444")
    assert not luhn_ok("4111111111111112") and not luhn_ok("1234567812345678")


def test_the_cache_gives_the_same_answers(redactor):
    for _ in range(3):
        assert redactor.text("mail a.b@example.org") == "mail [REDACTED:email]"
        assert redactor.text("GET /users/42") == "GET /users/42"


def test_user_patterns_rule_selection_and_exclusion():
    rules, regexes = resolve(["default", "-email", r"regex(order):ORD-\d{6}", r"regex:tenant-[a-f0-9]{8}"])
    assert "email" not in rules and "card" in rules
    r = Redactor(rules, regexes)
    assert r.text("ORD-123456 for x@example.com tenant-deadbeef") == (
        "[REDACTED:order] for x@example.com [REDACTED:regex]")
    # A pattern with global flags cannot join the alternation: applied on its own.
    r = Redactor(["email"], [("pin", r"(?i)pin:\s*\d{4}")])
    assert r.text("PIN: 1234 and a@b.example") == "[REDACTED:pin] and [REDACTED:email]"
    # A user pattern named like a built-in rule is still just a pattern (no Luhn check).
    assert Redactor([], [("card", r"\bC-\d{4}\b")]).text("C-1234") == "[REDACTED:card]"
    # Only the named rules.
    r = Redactor(["card"])
    assert r.text("a@example.com 4111111111111111") == "a@example.com [REDACTED:card]"


def test_extra_sensitive_query_parameters_are_redacted_in_text():
    settings = config.load({"OTEL_PYTHON_URL_SENSITIVE_QUERY_PARAMS": "dd-api-key,tenant,-sort_key"}, set())
    r = redactor_from_settings(settings)
    assert r.text("POST /v1/x?dd-api-key=abc123&a=1") == "POST /v1/x?dd-api-key=[REDACTED:url_query]&a=1"
    assert r.text("tenant=acme sort_key=name key=k") == "tenant=[REDACTED:key_value] sort_key=name key=[REDACTED:key_value]"


def test_a_value_that_is_not_redacted_still_meets_the_other_rules():
    r = Redactor()
    assert r.text("keyword=bob@example.com") == "keyword=[REDACTED:email]"
    assert r.text("password=bob@example.com") == "password=[REDACTED:key_value]"
    # key_value alone: url_query pairs stay, and the reverse.
    assert Redactor(["key_value"]).text("a?token=1 token=2") == "a?token=1 token=[REDACTED:key_value]"
    assert Redactor(["url_query"]).text("a?token=1 token=2") == "a?token=[REDACTED:url_query] token=2"


@pytest.mark.parametrize("text, items", [
    ("default", ["default"]),
    ("none", ["none"]),
    ("email, card", ["email", "card"]),
    ("default,-card", ["default", "-card"]),
    (r"default,regex:\d{3,4}-x,email", ["default", r"regex:\d{3,4}-x", "email"]),
    (r"regex(order_id):ORD-\d+", [r"regex(order_id):ORD-\d+"]),
])
def test_variable_syntax(text, items):
    settings = config.load({"OTEL_PYTHON_REDACTION": text}, set())
    assert settings.python_redaction == items and not settings.warnings


@pytest.mark.parametrize("text", ["bogus", "none,email", "regex(a b):x", "regex:"])
def test_bad_values_warn_once_and_keep_every_builtin_rule(text):
    settings = config.load({"OTEL_PYTHON_REDACTION": text}, set())
    assert settings.python_redaction == ["default"]
    assert len(settings.warnings) == 1 and "OTEL_PYTHON_REDACTION" in settings.warnings[0]


def test_an_invalid_user_pattern_is_left_out_with_a_warning(monkeypatch):
    said = []
    monkeypatch.setattr("otel_autoinstrument._log.warning", lambda msg, *a: said.append(msg % a))
    settings = config.load({"OTEL_PYTHON_REDACTION": "default,regex:(unclosed"}, set())
    r = redactor_from_settings(settings)
    assert r.text("a@example.com") == "[REDACTED:email]"
    assert len(said) == 1 and "OTEL_PYTHON_REDACTION" in said[0] and "(unclosed" in said[0]


# --- the exporter wrapper, with real spans and log records -----------------------------------

class Collect:
    def __init__(self):
        self.items = []

    def on_end(self, item):
        self.items.append(item)


class RecordingExporter:
    def __init__(self):
        self.batches = []
        self.after_fork_calls = 0

    def export(self, items, deadline):
        self.batches.append(list(items))

    def after_fork(self):
        self.after_fork_calls += 1


def test_spans_are_redacted_everywhere_before_the_exporter_sees_them():
    collect = Collect()
    tracer = TracerProvider(None, AlwaysOn(), processors=[collect]).get_tracer("t")
    span = tracer.start_span("GET /pay", attributes={
        "http.request.header.x": ["Bearer tok-1234567", "ok"], "n": 4111111111111111, "ok": True,
        "note": "card 4111 1111 1111 1111", "user": "alice@example.com"})
    span.add_event("exception", {"exception.message": "no user bob@example.com"})
    try:
        raise ValueError("charge 4111111111111111 failed")
    except ValueError as exc:
        span.record_exception(exc)
        span.set_status(StatusCode.ERROR, "ValueError: charge 4111111111111111 failed")
    span.end()
    real = RecordingExporter()
    exporter = RedactingExporter(real, "traces", Redactor)
    exporter.export(collect.items, 0)
    (exported,) = real.batches[0]
    assert exported.attributes == {
        "http.request.header.x": ("Bearer [REDACTED:bearer]", "ok"), "n": 4111111111111111, "ok": True,
        "note": "card [REDACTED:card]", "user": "[REDACTED:email]"}
    assert exported.events[0].attributes == {"exception.message": "no user [REDACTED:email]"}
    assert exported.events[1].attributes["exception.message"] == "charge [REDACTED:card] failed"
    assert "4111111111111111" not in exported.events[1].attributes["exception.stacktrace"]
    assert exported.status_message == "ValueError: charge [REDACTED:card] failed"
    exporter.after_fork()  # everything else is the real exporter's
    assert real.after_fork_calls == 1


def test_log_bodies_and_attributes_are_redacted():
    real = RecordingExporter()
    exporter = RedactingExporter(real, "logs", Redactor)
    exporter.export([
        LogRecord("login by carol@example.com", attributes={"token": JWT, "count": 3}),
        LogRecord({"card": "5555555555554444", "list": ["x", "AKIAIOSFODNN7EXAMPLE"]}),
    ], 0)
    first, second = real.batches[0]
    assert first.body == "login by [REDACTED:email]"
    assert first.attributes == {"token": "[REDACTED:jwt]", "count": 3}
    assert second.body == {"card": "[REDACTED:card]", "list": ["x", "[REDACTED:aws_key]"]}


def test_database_exceptions_lose_their_literals_on_every_span_and_log_record():
    import sqlite3

    collect = Collect()
    tracer = TracerProvider(None, AlwaysOn(), processors=[collect]).get_tracer("t")
    span = tracer.start_span("GET /pay")
    try:
        sqlite3.connect(":memory:").execute("SELECT '" + "Sq1" + "Secret")
    except sqlite3.OperationalError as exc:
        span.record_exception(exc)
        span.set_status(StatusCode.ERROR, "OperationalError: %s" % exc)
        record = LogRecord("query failed", attributes={
            "exception.type": "sqlite3.OperationalError", "exception.message": str(exc),
            "exception.stacktrace": "Traceback (most recent call last):\n  File \"app.py\", line 1\n"
                                    "sqlite3.OperationalError: %s" % exc})
    span.end()
    real = RecordingExporter()
    RedactingExporter(real, "traces", Redactor).export(collect.items, 0)
    RedactingExporter(real, "logs", Redactor).export([record], 0)
    (exported,), (log,) = real.batches
    (event,) = exported.events
    assert event.attributes["exception.message"] == "unrecognized token: ?"
    assert "Sq1Secret" not in event.attributes["exception.stacktrace"]
    assert exported.status_message == "OperationalError: unrecognized token: ?"
    assert log.attributes["exception.message"] == "unrecognized token: ?"
    assert log.attributes["exception.stacktrace"].endswith("sqlite3.OperationalError: unrecognized token: ?")
    assert '  File "app.py", line 1' in log.attributes["exception.stacktrace"]  # frames are kept
    # Other exceptions keep their quotes: only the rules apply.
    assert Redactor().database_exception({"exception.type": "ValueError", "exception.message": "'a'"}) == ("'a'", None)


def test_none_turns_the_processor_off():
    real = RecordingExporter()
    settings = config.load({"OTEL_PYTHON_REDACTION": "none"}, set())
    assert wrap(real, "traces", settings) is real
    assert isinstance(wrap(real, "traces", config.load({}, set())), RedactingExporter)

"""Every regular expression the agent applies to application data runs in linear time.

One case per pattern: about 1 MB of the input that is worst for it (the one that made a
backtracking pattern rescan the rest of the text from every position), run in a child
process so a pattern that has gone quadratic fails the test by its timeout instead of
hanging the suite. The bound (2 s) is generous: a linear pass over 1 MB takes well under
a second, the quadratic patterns this replaced took minutes.
"""

import subprocess
import sys

import pytest

MB = 1 << 20
BOUND_S = 2.0
TIMEOUT_S = 60  # a whole group; a quadratic pattern takes minutes on its case alone

REDACTOR = "from otel_autoinstrument.redaction.processor import Redactor\n" \
           "from otel_autoinstrument.logs.record import LogRecord\n" \
           "redactor = Redactor()"
DB_EXCEPTION = "lambda s: redactor.log(LogRecord('x', attributes={'exception.type': 'sqlite3.OperationalError', " \
               "'exception.message': s, 'exception.stacktrace': s}))"

# group -> (setup, [(case, function, input expression with N = 1 MB)]); each case's input
# is the worst one for its pattern.
GROUPS = {
    "redaction processor": (REDACTOR, [
        ("sql_error unterminated", "redactor.text", "'[SQL: ' + 'a' * N"),
        ("sql_error repeated", "redactor.text", "'[SQL: ' * (N // 6)"),
        ("sql_error closed without newline", "redactor.text", "'[SQL: a]x' * (N // 9)"),
        ("sql_error parameters", "redactor.text", "'[parameters: ' * (N // 13)"),
        ("sql_error database exception", DB_EXCEPTION, "\"'a\" * (N // 2)"),
        ("url_credentials", "redactor.text", "'://' * (N // 3) + '@'"),
        ("url_credentials long userinfo", "redactor.text", "('://' + 'a' * 250) * (N // 253) + '@'"),
        ("url_query", "redactor.text", "'?token=' * (N // 7)"),
        ("key_value dense pairs", "redactor.text", "'a=' * (N // 2)"),
        ("key_value unclosed quotes", "redactor.text", "'password=\"' * (N // 10)"),
        ("key_value long name", "redactor.text", "'token' * (N // 5) + '='"),
        ("bearer", "redactor.text", "'bearer ' * (N // 7)"),
        ("jwt", "redactor.text", "'eyJ' * (N // 3)"),
        ("aws_key", "redactor.text", "'AKIA' * (N // 4)"),
        ("email local parts", "redactor.text", "('a' * 60 + '@') * (N // 61)"),
        ("email at signs", "redactor.text", "'@' * N"),
        ("email domain labels", "redactor.text", "'a@' + 'b.' * (N // 2)"),
        ("card digit run", "redactor.text", "'4' * N"),
        ("card digit groups", "redactor.text", "'4 ' * (N // 2)"),
        ("card groups failing Luhn", "redactor.text", "'4111 2222 ' * (N // 10)"),
    ]),
    "database error messages": ("from otel_autoinstrument.redaction.sql_errors import scrub_error_message, "
                                "scrub_traceback", [
        ("quotes", "scrub_error_message", "\"'\" * N"),
        ("unclosed values", "scrub_error_message", "'=(' * (N // 2)"),
        ("statement echoes", "scrub_error_message", "('LINE 1: ' + \"'a\" * 40 + '\\n') * (N // 90)"),
        ("traceback", "scrub_traceback", "('  File x\\n' + \"E: '\" * 10 + '\\n') * (N // 50)"),
    ]),
    "urls and headers": ("from otel_autoinstrument.redaction.urls import HeaderCapture, redact_url, redact_query, "
                         "mask_secret_in_url\n"
                         "from otel_autoinstrument.redaction.names import SensitiveNames\n"
                         "capture = HeaderCapture(['.*'])", [
        ("url userinfo", "redact_url", "'http://' + '@' * N"),
        ("url query", "redact_url", "'http://h/?' + 'token=a&' * (N // 8)"),
        ("url fragment", "redact_url", "'http://h/#' + 'x=1;' * (N // 4)"),
        ("query", "redact_query", "'a=1&token=a;' * (N // 12)"),
        ("diagnostics url", "mask_secret_in_url", "'u:p@' * (N // 4) + '/?token=1&' * (N // 10)"),
        ("sensitive name", "lambda s: s in SensitiveNames()", "'aB' * (N // 2)"),
        ("captured header", "lambda s: capture.attributes('h.', [(s, s)])", "'x-' * (N // 2)"),
    ]),
    "message masking": ("from otel_autoinstrument.redaction.secrets import mask, secret_strings\n"
                        "secrets = secret_strings(['http://u:pw-secret@h/?k=key-secret'], {'a': 'Bearer tok-secret'})", [
        ("secrets and credentials", "lambda s: mask(s, secrets, 300)", "('://a' + 'pw-secret' * 3) * (N // 32)"),
        ("scheme marks", "lambda s: mask(s, secrets, 300)", "'://' * (N // 3) + '@'"),
    ]),
}
SQL_CASES = [
    ("quote never closed", "\"SELECT '\" + 'a' * N"),
    ("quotes", "\"'\" * N"),
    ("backslash quotes", "\"'\\\\'\" * (N // 3)"),
    ("double quotes", "'\"a\",' * (N // 4)"),
    ("dollar quotes", "'$a$' * (N // 3)"),
    ("comments", "'/*' * (N // 2) + '#' * N"),
    ("numbers and signs", "'= -1e' * (N // 5)"),
    ("in list", "'x IN (' + '1,' * (N // 2)"),
    ("summary", "'INSERT' + ' OR a' * (N // 5) + ' (' * (N // 2)"),
]
GROUPS["sql sanitizer and summary"] = ("from otel_autoinstrument.redaction.sql import sanitize_sql, summarize_sql", [
    ("%s %s" % (dialect, name), "lambda s: (sanitize_sql(s, %r), summarize_sql(s, %r))" % (dialect, dialect), expression)
    for dialect in ("sqlite", "postgresql", "mysql", None) for name, expression in SQL_CASES])

CHILD = """
import sys, time
N = %d
%s
for name, function, expression in %r:
    run, text = eval(function), eval(expression)
    assert len(text) >= N // 2, name
    run(text[:1000])  # patterns compiled, caches warm
    print("start", name, flush=True)
    start = time.perf_counter()
    run(text)
    print("took", time.perf_counter() - start, name, flush=True)
"""


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_one_megabyte_of_worst_case_input_takes_linear_time(group):
    setup, cases = GROUPS[group]
    try:
        result = subprocess.run([sys.executable, "-c", CHILD % (MB, setup, cases)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        started = [line for line in (exc.stdout or b"").decode().splitlines() if line.startswith("start ")]
        pytest.fail("still running after %d s, in %s: not linear" % (TIMEOUT_S, started[-1][6:] if started else "?"))
    assert result.returncode == 0, result.stderr
    times = {line.split(" ", 2)[2]: float(line.split(" ", 2)[1])
             for line in result.stdout.splitlines() if line.startswith("took ")}
    assert sorted(times) == sorted(name for name, _, _ in cases)
    slow = {name: round(took, 2) for name, took in times.items() if took >= BOUND_S}
    assert not slow, "over %.0f s for 1 MB: %s" % (BOUND_S, slow)

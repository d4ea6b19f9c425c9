"""Sensitive names by pattern, not by list: the one matcher behind query parameters
(url.full, url.query), captured headers and name=value pairs in exported text."""

import pytest

from otel_autoinstrument import config
from otel_autoinstrument.instrumentation.http import HeaderCapture, sensitive_query_params
from otel_autoinstrument.redaction.names import SENSITIVE_NAMES, SensitiveNames
from otel_autoinstrument.redaction.urls import DEFAULT_SENSITIVE_QUERY_PARAMS, redact_query, redact_url

# The names that passed through with the old list, and the usual suspects.
SENSITIVE = [
    "auth_token", "accessToken", "session_token", "secret_key", "pass", "X-Auth-Token", "X-CSRFToken",
    "x-csrftoken", "x-xsrf-token", "csrfmiddlewaretoken", "X-Amz-Security-Token", "AWSAccessKeyId",
    "awsaccesskeyid", "apiKey", "APIKey", "x-apikey", "client-secret", "clientSecret", "newPassword",
    "password_confirmation", "user[password]", "password[]", "pass%77ord", "%70wd", "sessionID",
    "JSESSIONID", "PHPSESSID", "oauth_signature", "x-goog-credential", "Proxy-Authorization", "set-cookie",
    "privateKey", "subscription-key", "Ocp-Apim-Subscription-Key", "jwt", "otp", "code", "sig",
]
NOT_SENSITIVE = [
    "keyword", "keyboard", "monkey", "turkey", "passenger", "passport", "bypass", "author", "authority",
    "authored_by", "tokenizer", "secretary", "page", "q", "sort", "error_code", "status_code", "zip_code",
    "content-type", "user-agent", "x-request-id", "x-forwarded-for", "traceparent", "accept", "keep-alive",
    "www-authenticate", "content-security-policy", "state", "oauth_nonce", "email", "username", "token_type",
    "session_timeout", "key_size", "auth_method", "",
]


@pytest.mark.parametrize("name", SENSITIVE)
def test_names_with_a_sensitive_part_are_sensitive(name):
    assert name in SENSITIVE_NAMES


@pytest.mark.parametrize("name", NOT_SENSITIVE)
def test_words_that_only_contain_a_part_are_not(name):
    assert name not in SENSITIVE_NAMES


def test_every_well_known_name_matches_the_pattern():
    assert [n for n in DEFAULT_SENSITIVE_QUERY_PARAMS if n not in SENSITIVE_NAMES] == []


@pytest.mark.parametrize("name", ["auth_token", "accessToken", "session_token", "secret_key", "pass",
                                  "X-Auth-Token", "X-CSRFToken"])
def test_query_values_of_those_names_are_redacted(name):
    assert redact_query("a=1&%s=s3cr3t" % name) == "a=1&%s=REDACTED" % name
    assert redact_url("https://h/p?%s=s3cr3t#x" % name) == "https://h/p?%s=REDACTED#x" % name


def test_captured_headers_with_sensitive_names_become_redacted():
    capture = HeaderCapture(["x-auth-token", "x-csrftoken", "x-session-token", "x-request-id", "sec-websocket-key"])
    got = capture.attributes("http.request.header.", [
        ("X-Auth-Token", "t0k"), ("X-CSRFToken", "c5rf"), ("X-Session-Token", "s3ss"), ("X-Request-Id", "42"),
        ("Sec-WebSocket-Key", "nonce")])
    assert got == {"http.request.header.x-auth-token": ["[REDACTED]"],
                   "http.request.header.x-csrftoken": ["[REDACTED]"],
                   "http.request.header.x-session-token": ["[REDACTED]"],
                   "http.request.header.x-request-id": ["42"],
                   "http.request.header.sec-websocket-key": ["[REDACTED]"]}
    # A "-name" entry of the sanitize list exempts a false positive of the pattern, but
    # never one of the always-redacted headers.
    capture = HeaderCapture(["sec-websocket-key", "cookie"], ["-sec-websocket-key", "-cookie"])
    got = capture.attributes("http.request.header.", [("Sec-WebSocket-Key", "nonce"), ("Cookie", "sid=1")])
    assert got == {"http.request.header.sec-websocket-key": ["nonce"], "http.request.header.cookie": ["[REDACTED]"]}


def test_configured_extra_and_exempt_names():
    settings = config.load({"OTEL_PYTHON_URL_SENSITIVE_QUERY_PARAMS": "dd-api-key,tenant,-sort_key"}, set())
    names = sensitive_query_params(settings)
    assert redact_query("tenant=acme&sort_key=name&token=1", names) == "tenant=REDACTED&sort_key=name&token=REDACTED"
    assert "sort_key" in SENSITIVE_NAMES  # only that matcher exempts it


def test_an_exact_set_still_means_exactly_those_names():
    assert redact_url("https://h/?foo=1&token=2", frozenset({"foo"})) == "https://h/?foo=REDACTED&token=2"


def test_decisions_are_cached_and_bounded():
    names = SensitiveNames()
    for i in range(10000):
        assert ("field%d" % i) not in names
    assert len(names._decisions) <= 4096
    long_name = "x" * 100000 + "_token"
    assert long_name in names and long_name not in names._decisions


def test_the_plugin_api_offers_the_matcher():
    from otel_autoinstrument.instrumentation import http

    assert http.SENSITIVE_NAMES is SENSITIVE_NAMES and http.SensitiveNames is SensitiveNames

"""Tests for URL, query and header redaction (otel_autoinstrument.redaction.urls)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_autoinstrument.redaction.urls import (
    ALWAYS_REDACTED_HEADERS,
    DEFAULT_SENSITIVE_QUERY_PARAMS,
    HeaderCapture,
    mask_secret_in_url,
    redact_query,
    redact_url,
)

R = "REDACTED"

URL_CASES = [
    # unchanged
    ("https://example.com/a/b", "https://example.com/a/b"),
    ("https://example.com/search?q=shoes&page=2", "https://example.com/search?q=shoes&page=2"),
    ("http://example.com:8080/", "http://example.com:8080/"),
    ("", ""),
    # userinfo
    ("https://user:pass@example.com/x", "https://REDACTED:REDACTED@example.com/x"),
    ("https://user@example.com/x", "https://REDACTED:REDACTED@example.com/x"),
    ("https://ghp_token123@github.com/o/r.git", "https://REDACTED:REDACTED@github.com/o/r.git"),
    ("redis://:s3cret@cache:6379/0", "redis://REDACTED:REDACTED@cache:6379/0"),
    ("https://user:p@ss@example.com/", "https://REDACTED:REDACTED@example.com/"),
    ("https://user:p%40ss@example.com", "https://REDACTED:REDACTED@example.com"),
    ("https://u:p@example.com?x=1", "https://REDACTED:REDACTED@example.com?x=1"),
    ("https://u:p@example.com#top", "https://REDACTED:REDACTED@example.com#top"),
    ("//u:p@example.com/x", "//REDACTED:REDACTED@example.com/x"),
    ("http://@example.com/", "http://@example.com/"),
    ("https://example.com/users/bob@example.com", "https://example.com/users/bob@example.com"),
    ("https://example.com/?next=//u:p@evil", "https://example.com/?next=//u:p@evil"),
    # IPv6 hosts
    ("http://u:p@[::1]:8080/x?token=t", "http://REDACTED:REDACTED@[::1]:8080/x?token=REDACTED"),
    ("http://[2001:db8::1]/p?a=1", "http://[2001:db8::1]/p?a=1"),
    ("http://[::1", "http://[::1"),
    # sensitive query parameters, any case, order and other values kept
    ("https://h/p?a=1&password=hunter2&b=2", "https://h/p?a=1&password=REDACTED&b=2"),
    ("https://h/p?Password=x&TOKEN=y&Api_Key=z", "https://h/p?Password=REDACTED&TOKEN=REDACTED&Api_Key=REDACTED"),
    ("https://h/p?api-key=k&apikey=k&key=k&code=c", "https://h/p?api-key=REDACTED&apikey=REDACTED&key=REDACTED&code=REDACTED"),
    ("https://acct.blob.core.windows.net/c/b?sv=2021-08-06&se=2030&sr=b&sp=r&sig=abc%2Bdef%3D",
     "https://acct.blob.core.windows.net/c/b?sv=2021-08-06&se=2030&sr=b&sp=r&sig=REDACTED"),
    ("https://b.s3.amazonaws.com/k?AWSAccessKeyId=AKIA&Expires=1&Signature=abc%3D",
     "https://b.s3.amazonaws.com/k?AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F2024&"
     "X-Amz-Security-Token=tok&X-Amz-Signature=f00",
     "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=REDACTED&"
     "X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"),
    ("https://storage.googleapis.com/b/o?X-Goog-Credential=c&X-Goog-Signature=s&X-Goog-Date=d",
     "https://storage.googleapis.com/b/o?X-Goog-Credential=REDACTED&X-Goog-Signature=REDACTED&X-Goog-Date=d"),
    # encoded values and names
    ("https://h/?token=a%20b%26c&q=caf%C3%A9+x", "https://h/?token=REDACTED&q=caf%C3%A9+x"),
    ("https://h/?pass%77ord=x&%70wd=y", "https://h/?pass%77ord=REDACTED&%70wd=REDACTED"),
    ("https://h/?client+secret=x&client_secret=y", "https://h/?client+secret=REDACTED&client_secret=REDACTED"),
    ("https://h/?user[password]=x&tokens[]=y&token[]=z&user[name]=n",
     "https://h/?user[password]=REDACTED&tokens[]=REDACTED&token[]=REDACTED&user[name]=n"),
    # repeated params, params without '=', empty values and names
    ("https://h/?token=a&token=b&x=1&token=c", "https://h/?token=REDACTED&token=REDACTED&x=1&token=REDACTED"),
    ("https://h/?debug&token&x=1", "https://h/?debug&token&x=1"),
    ("https://h/?token=&=secret&a==b", "https://h/?token=REDACTED&=secret&a==b"),
    ("https://h/?", "https://h/?"),
    ("https://h/?&&", "https://h/?&&"),
    ("https://h/?a=1;sid=abc;b=2", "https://h/?a=1;sid=REDACTED;b=2"),
    ("https://h/?a=1&amp;token=abc", "https://h/?a=1&amp;token=REDACTED"),
    # fragments: kept, but name=value pairs in them are redacted
    ("https://h/p#section-2", "https://h/p#section-2"),
    ("https://h/p?x=1#frag?token=notquery", "https://h/p?x=1#frag?token=REDACTED"),
    ("https://app/cb#access_token=abc&token_type=bearer&state=xyz",
     "https://app/cb#access_token=REDACTED&token_type=bearer&state=xyz"),
    ("https://h/p?token=a#token=b", "https://h/p?token=REDACTED#token=REDACTED"),
    # non-http schemes and relative references
    ("postgresql://app:pw@db:5432/prod?sslmode=require&password=pw2",
     "postgresql://REDACTED:REDACTED@db:5432/prod?sslmode=require&password=REDACTED"),
    ("ftp://anonymous:guest@ftp.example.com/pub", "ftp://REDACTED:REDACTED@ftp.example.com/pub"),
    ("mailto:someone@example.com", "mailto:someone@example.com"),
    ("/api/v1/items?limit=10&access_token=t", "/api/v1/items?limit=10&access_token=REDACTED"),
    ("?secret=1", "?secret=REDACTED"),
    # garbage
    ("not a url at all", "not a url at all"),
    ("::::@@@???###", "::::@@@???###"),
    ("://u:p@h", "://REDACTED:REDACTED@h"),
    ("ht tp://u:p@h/", "ht tp://REDACTED:REDACTED@h/"),
    # unencoded "#", "?" or "/" in a password cut the authority short
    ("https://u:pa#ss@host/x?token=1", "https://REDACTED:REDACTED@host/x?token=REDACTED"),
    ("https://u:p?ss@host", "https://REDACTED:REDACTED@host"),
    ("https://u:p/s@s@host/a@b", "https://REDACTED:REDACTED@host/a@b"),
    ("https://host:abc/path", "https://host:abc/path"),
]


@pytest.mark.parametrize("url, expected", URL_CASES)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_fast_path_returns_same_object():
    url = "https://example.com/a/b"
    assert redact_url(url) is url


def test_nothing_sensitive_returns_same_object():
    url = "https://example.com/?a=1&b=2"
    assert redact_url(url) is url


def test_custom_sensitive_set():
    assert redact_url("https://h/?foo=1&token=2", frozenset({"foo"})) == "https://h/?foo=REDACTED&token=2"


@pytest.mark.parametrize("value", [None, b"https://u:p@h/?token=1", 42, object()])
def test_redact_url_odd_types_never_raise(value):
    out = redact_url(value)
    assert isinstance(out, str)
    assert ":p@" not in out and "token=1" not in out


def test_default_set_is_lower_case_and_complete():
    for name in DEFAULT_SENSITIVE_QUERY_PARAMS:
        assert name == name.lower()
    required = (
        "password passwd pwd secret token access_token refresh_token id_token auth "
        "authorization api_key apikey api-key key client_secret code session sessionid "
        "session_id sid signature sig x-amz-signature x-amz-credential "
        "x-amz-security-token x-goog-signature x-goog-credential awsaccesskeyid"
    ).split()
    assert set(required) <= DEFAULT_SENSITIVE_QUERY_PARAMS


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ""),
        ("a=1", "a=1"),
        ("token=abc", "token=REDACTED"),
        ("q=x&Signature=abc&sig=def", "q=x&Signature=REDACTED&sig=REDACTED"),
        ("flag", "flag"),
        ("token", "token"),
        ("a=1&&b=2&password=x&", "a=1&&b=2&password=REDACTED&"),
        ("a=%20&session_id=1", "a=%20&session_id=REDACTED"),
    ],
)
def test_redact_query(query, expected):
    assert redact_query(query) == expected


def test_redact_query_bytes_and_none():
    assert redact_query(b"a=1&token=2") == "a=1&token=REDACTED"
    assert redact_query(None) == ""


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://localhost:4318/v1/traces", "http://localhost:4318/v1/traces"),
        ("https://u:p@collector:4318/v1", "https://REDACTED:REDACTED@collector:4318/v1"),
        ("https://collector/v1?api_key=k&x=1", "https://collector/v1?api_key=REDACTED&x=1"),
        ("user:pass@proxy:3128", "REDACTED:REDACTED@proxy:3128"),
        ("token@proxy:3128/x", "REDACTED:REDACTED@proxy:3128/x"),
        (None, ""),
    ],
)
def test_mask_secret_in_url(url, expected):
    assert mask_secret_in_url(url) == expected


# --- properties -----------------------------------------------------------

# Password alphabet: what RFC 3986 allows in userinfo, plus the raw "@", "/",
# "?" and "#" people forget to encode. A "Zq" prefix keeps it from occurring
# by chance in the rest of the URL, whose alphabet has no capitals.
PASSWORD = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:%@/?#",
    min_size=1,
).map(lambda s: "Zq" + s)
LOWER = "abcdefghijklmnopqrstuvwxyz0123456789-._~"
HOST = st.one_of(
    st.text(alphabet=LOWER, min_size=1, max_size=20),
    st.just("[::1]"),
    st.just("[2001:db8::7]:8443"),
    st.text(alphabet=LOWER, min_size=1, max_size=10).map(lambda h: h + ":8080"),
)
TAIL = st.text(alphabet=LOWER + "/?#=&;@%+", max_size=40)
SCHEME = st.sampled_from(["http", "https", "postgresql", "redis", "ftp", "x-custom+v1"])
USER = st.text(alphabet=LOWER, max_size=10)


@settings(max_examples=500, deadline=None)
@given(scheme=SCHEME, user=USER, password=PASSWORD, host=HOST, tail=TAIL)
def test_password_in_userinfo_never_leaks(scheme, user, password, host, tail):
    url = "%s://%s:%s@%s%s" % (scheme, user, password, host, tail if tail[:1] in "/?#" else "/" + tail)
    for out in (redact_url(url), mask_secret_in_url(url)):
        assert password not in out
        assert "REDACTED:REDACTED@" in out


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(DEFAULT_SENSITIVE_QUERY_PARAMS)),
    upper=st.booleans(),
    value=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789%+-_.~", min_size=1).map(lambda s: "Zq" + s),
    before=st.text(alphabet=LOWER + "=&", max_size=20),
    after=st.text(alphabet=LOWER + "=&", max_size=20),
)
def test_sensitive_query_value_never_leaks(name, upper, value, before, after):
    if upper:
        name = name.upper()
    url = "https://h/p?%s&%s=%s&%s" % (before, name, value, after)
    out = redact_url(url)
    assert value not in out
    assert "%s=REDACTED" % name in out


@settings(max_examples=1000, deadline=None)
@given(st.text())
def test_redact_url_never_raises(url):
    assert isinstance(redact_url(url), str)
    assert isinstance(mask_secret_in_url(url), str)
    assert isinstance(redact_query(url), str)


# --- headers --------------------------------------------------------------

REQ = "http.request.header."
RESP = "http.response.header."


def test_always_redacted_headers():
    assert ALWAYS_REDACTED_HEADERS == frozenset(
        {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
    )


def test_disabled_when_allow_empty():
    for capture in (HeaderCapture([], ["x"]), HeaderCapture(), HeaderCapture(["", " "])):
        assert capture.enabled is False
        assert capture.attributes(REQ, {"Content-Type": "text/plain"}) == {}


HEADER_CASES = [
    # allow, sanitize, headers, prefix, expected
    (["Content-Type"], [], {"content-type": "text/html"}, REQ,
     {REQ + "content-type": ["text/html"]}),
    (["content-type"], [], [("Content-Type", "a/b"), ("Content-Length", "3")], RESP,
     {RESP + "content-type": ["a/b"]}),
    (["accept"], [], [("Accept", "text/html"), ("ACCEPT", "application/json")], REQ,
     {REQ + "accept": ["text/html", "application/json"]}),
    (["x-forwarded-for"], [], {"X-Forwarded-For": "1.2.3.4, 5.6.7.8"}, REQ,
     {REQ + "x-forwarded-for": ["1.2.3.4, 5.6.7.8"]}),
    (["accept"], [], {"Accept": ["a", "b"]}, REQ, {REQ + "accept": ["a", "b"]}),
    (["authorization", "cookie", "x-api-key", "proxy-authorization", "set-cookie"], [],
     [("Authorization", "Bearer t"), ("Cookie", "a=b"), ("Cookie", "c=d"), ("X-Api-Key", "k"),
      ("Proxy-Authorization", "Basic x"), ("Set-Cookie", "s=1")], RESP,
     {RESP + "authorization": ["[REDACTED]"], RESP + "cookie": ["[REDACTED]"],
      RESP + "x-api-key": ["[REDACTED]"], RESP + "proxy-authorization": ["[REDACTED]"],
      RESP + "set-cookie": ["[REDACTED]"]}),
    (["x-session", "x-trace"], ["X-Session"], {"X-Session": "s", "X-Trace": "t"}, REQ,
     {REQ + "x-session": ["[REDACTED]"], REQ + "x-trace": ["t"]}),
    (["x-.*"], [".*secret.*"], [("X-Foo", "1"), ("X-My-Secret", "2"), ("Y-Foo", "3")], REQ,
     {REQ + "x-foo": ["1"], REQ + "x-my-secret": ["[REDACTED]"]}),
    ([".*"], [], [("Host", "h"), ("Cookie", "c")], REQ,
     {REQ + "host": ["h"], REQ + "cookie": ["[REDACTED]"]}),
    (["X-.*-ID"], [], [("x-request-id", "r"), ("x-id", "no")], REQ, {REQ + "x-request-id": ["r"]}),
    (["bad[("], [], [("bad[(", "v"), ("bad", "w")], REQ, {REQ + "bad[(": ["v"]}),
    ("content-type, x-custom", "", {"Content-Type": "c", "X-Custom": "x", "Other": "o"}, REQ,
     {REQ + "content-type": ["c"], REQ + "x-custom": ["x"]}),
    (["x-bin"], [], [(b"X-Bin", b"caf\xe9")], REQ, {REQ + "x-bin": ["caf\xe9"]}),
    (["x-num"], [], {"X-Num": 5}, REQ, {REQ + "x-num": ["5"]}),
    (["content-type"], [], [], REQ, {}),
    (["content-type"], [], {}, REQ, {}),
    (["content-type"], [], None, REQ, {}),
]


@pytest.mark.parametrize("allow, sanitize, headers, prefix, expected", HEADER_CASES)
def test_header_capture(allow, sanitize, headers, prefix, expected):
    capture = HeaderCapture(allow, sanitize)
    assert capture.enabled is True
    assert capture.attributes(prefix, headers) == expected
    # Second call answers from the per-name decision cache: same result.
    assert capture.attributes(prefix, headers) == expected


def test_header_capture_accepts_iterator_pairs():
    capture = HeaderCapture(["a"])
    assert capture.attributes(REQ, iter([("A", "1"), ("B", "2")])) == {REQ + "a": ["1"]}


def test_header_decision_cache_is_bounded():
    capture = HeaderCapture([".*"])
    for i in range(2000):
        capture.attributes(REQ, [("x-h%d" % i, "v")])
    assert len(capture._decisions) <= 512

"""No secret reaches the collector: known secrets are planted everywhere real applications
put them, and the RAW bytes the OTLP receiver got (after gunzip) must contain none of them.

Planted in: URL userinfo; query strings (token=, access_token=, X-Amz-Signature=,
X-Goog-Signature=, sig=); request headers captured on purpose (Authorization, Cookie,
X-Api-Key, on server and client spans); SQL literals and bound parameters (also in
SQLAlchemy's exception messages); log messages (an e-mail, a card number, a JWT, a
bearer token); exception messages (an e-mail, a card number, an AWS access key id, an
unreachable URL's query) recorded on spans, in status messages and in logged tracebacks;
a login form's password (Django admin and a Flask-Login app).

Programs: a Flask + Flask-Login + requests + SQLAlchemy service under gunicorn, the
Django project under gunicorn, and a requests + SQLAlchemy script; each exports with
OTLP http/protobuf and http/json (gzip for one of them). Positive checks make sure the
telemetry that carried the secrets was exported (redacted), not merely missing.
"""

import gzip
import json
import os
import re

import pytest

from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, TESTS_DIR, Server, base_env, free_port, http_request, run

SECURITY_APP = APPS_DIR / "security_app"
DJANGO_PROJECT = APPS_DIR / "django_project"
SCRIPT = TESTS_DIR / "scripts" / "security_secrets.py"

SECRETS = {
    "url_password": "Us3rInf0Pw-1729",
    "query_token": "QueryTok3n-4242",
    "amz_signature": "a1b2c3d4e5f6deadbeef0042",
    "azure_sig": "AzureSasSig-9f8e7d6c",
    "bearer": "AuthzBearer-31337",
    "api_key": "ApiKeyHeader-0451",
    "cookie": "CookieSession-5551",
    "sql_literal": "SqlLiteral-8086",
    "bound_param": "BoundParam-6502",
    "email": "carol.secret@example.com",
    "email2": "dave.secret@example.org",
    "card": "4111 1111 1111 1111",
    "card2": "5555-5555-5555-4444",
    "aws_key": "AKIAZZZZSECRET000001",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYXJvbCIsImFkbWluIjp0cnVlfQ.c2VjcmV0LXNpZ25hdHVyZS0xMjM0NQ",
}
LOGIN_PASSWORD = "LoginPassw0rd-2718"
WRONG_PASSWORD = "WrongPassw0rd-3141"

CAPTURE = {
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "authorization,cookie,x-api-key,user-agent",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "set-cookie,content-type",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": "authorization,x-api-key,cookie",
}
CLIENT_HEADERS = {"Authorization": "Bearer " + SECRETS["bearer"], "X-Api-Key": SECRETS["api_key"],
                  "Cookie": "sessionid=" + SECRETS["cookie"], "X-Forwarded-For": "6.6.6.6"}
PROTOCOLS = ["http/protobuf", "http/json"]


def forbidden():
    """Every secret, and the forms it could be written in."""
    out = set(SECRETS.values()) | {LOGIN_PASSWORD, WRONG_PASSWORD}
    out |= {SECRETS["card"].replace(" ", ""), SECRETS["card2"].replace("-", "")}
    return sorted(out)


def assert_no_secret_in_raw_bytes(receiver, content_type):
    requests = receiver.requests
    assert requests, "nothing was exported"
    for request in requests:
        assert request.content_type == content_type
        body = request.body
        if request.raw_body[:2] == b"\x1f\x8b":  # the receiver gunzipped it: check that too
            assert gzip.decompress(request.raw_body) == body
        for secret in forbidden():
            assert secret.encode() not in body, "%r reached the receiver in %s" % (secret, request.path)


def every_string(receiver):
    """All strings the receiver decoded (span names, attributes, events, status, logs)."""
    out = []
    for span in receiver.spans():
        out += [span.name, span.status_message] + _strings(span.attributes)
        for event in span.events:
            out += _strings(event.attributes)
    for record in receiver.logs():
        out += _strings(record.body) + _strings(record.attributes)
    return out


def _strings(value):
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def assert_redacted_markers(receiver, *rules):
    text = "\n".join(every_string(receiver))
    for rule in rules:
        assert "[REDACTED:%s]" % rule in text, "no [REDACTED:%s] in what was exported" % rule


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port) as server:
        yield server


def app_env(receiver, service, protocol, **extra):
    env = agent_env(receiver, service, OTEL_EXPORTER_OTLP_PROTOCOL=protocol, APP_SECRETS=json.dumps(SECRETS),
                    **CAPTURE)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def gunicorn(port, app):
    return otel_run(os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "1",
                    "-b", "127.0.0.1:%d" % port, app)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_flask_service_exports_no_secret(own_receiver, service_name, upstream, protocol, tmp_path):
    port = free_port()
    env = app_env(own_receiver, service_name, protocol, APP_PASSWORD=LOGIN_PASSWORD,
                  UPSTREAM_PORT=upstream.port, CLOSED_PORT=free_port(), APP_DB_PATH=tmp_path / "app.db",
                  OTEL_EXPORTER_OTLP_COMPRESSION="gzip" if protocol == "http/json" else "none")
    with Server(gunicorn(port, "app:app"), env=env, cwd=SECURITY_APP, port=port) as server:
        base = server.url
        query = "?token=%s&X-Amz-Signature=%s&sig=%s" % (
            SECRETS["query_token"], SECRETS["amz_signature"], SECRETS["azure_sig"])
        assert http_request("GET", base + "/checkout" + query, headers=CLIENT_HEADERS)[0] == 200
        assert http_request("GET", base + "/fail", headers=CLIENT_HEADERS)[0] == 500
        assert http_request("GET", base + "/db-fail")[0] == 500
        form = "username=alice&password=" + WRONG_PASSWORD
        assert http_request("POST", base + "/login", data=form.encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})[0] == 401
        form = "username=alice&password=" + LOGIN_PASSWORD
        status, headers, _ = http_request("POST", base + "/login", data=form.encode(),
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and "set-cookie" in headers
        session = headers["set-cookie"].split(";", 1)[0]
        assert http_request("GET", base + "/me", headers={"Cookie": session})[0] == 200
        own_receiver.wait_for_spans(service=service_name, predicate=lambda spans: len(
            [s for s in spans if s.kind == "SERVER"]) >= 6)
        own_receiver.wait_for_logs(service=service_name, predicate=lambda logs: any(
            "Exception on /db-fail" in str(r.body) for r in logs))
    assert_no_secret_in_raw_bytes(own_receiver, "application/json" if protocol == "http/json"
                                  else "application/x-protobuf")
    # What carried the secrets was exported, redacted.
    spans = own_receiver.spans(service=service_name)
    checkout = [s for s in spans if s.name == "GET /checkout"][0]
    assert checkout.attributes["url.query"] == "token=REDACTED&X-Amz-Signature=REDACTED&sig=REDACTED"
    for header in ("authorization", "cookie", "x-api-key"):
        assert checkout.attributes["http.request.header." + header] == ["[REDACTED]"]
    client = [s for s in spans if s.kind == "CLIENT" and s.attributes.get("server.port") == upstream.port][0]
    assert client.attributes["url.full"].startswith("http://REDACTED:REDACTED@127.0.0.1:")
    assert "token=REDACTED&X-Amz-Signature=REDACTED&sig=REDACTED" in client.attributes["url.full"]
    assert client.attributes["http.request.header.authorization"] == ["[REDACTED]"]
    statements = [s.attributes.get("db.query.text") for s in spans if "db.query.text" in s.attributes]
    assert "SELECT ? AS api_token" in statements and "SELECT ? AS bound" in statements
    assert_redacted_markers(own_receiver, "email", "card", "jwt", "bearer", "aws_key", "url_query", "sql_error")
    # Defaults: no forwarding header is believed, no enduser.id (personal data) is recorded.
    assert checkout.attributes["client.address"] == "127.0.0.1" and "network.peer.address" not in checkout.attributes
    assert not [s for s in spans if "enduser.id" in s.attributes]
    (failed_login,) = [s for s in spans if s.name == "POST /login" and s.attributes["http.response.status_code"] == 401]
    assert [e.attributes for e in failed_login.events] == [
        {"auth.failure.reason": "unauthorized", "http.response.status_code": 401}]


def test_script_exports_no_secret(own_receiver, service_name, upstream):
    env = app_env(own_receiver, service_name, "http/protobuf")
    result = run(otel_run("python", SCRIPT, upstream.port, free_port()), env=env, timeout=60)
    assert result.returncode == 1 and "ValueError: job failed for" in result.stderr  # Python's own traceback
    own_receiver.wait_for_spans(service=service_name, predicate=lambda spans: any(
        s.name == "batch-job" for s in spans))
    own_receiver.wait_for_logs(count=3, service=service_name)
    assert_no_secret_in_raw_bytes(own_receiver, "application/x-protobuf")
    (job,) = own_receiver.spans(service=service_name, name="batch-job")
    assert job.attributes["job.owner"] == "[REDACTED:email]"
    assert job.status_code == "ERROR"
    (event,) = [e for e in job.events if e.name == "exception"]
    assert event.attributes["exception.message"] == (
        "job failed for [REDACTED:email] (card [REDACTED:card], key [REDACTED:aws_key])")
    assert_redacted_markers(own_receiver, "email", "card", "jwt", "aws_key", "url_query", "sql_error")


@pytest.fixture(scope="module")
def django_database(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("django-secrets") / "db.sqlite3")
    env = base_env(APP_DB_PATH=path, DJANGO_SUPERUSER_PASSWORD=LOGIN_PASSWORD)
    for command in (["migrate", "-v0"],
                    ["createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com"]):
        result = run([PYTHON, "manage.py"] + command, cwd=DJANGO_PROJECT, env=env)
        assert result.returncode == 0, result.stderr
    return path


def django_login(base, password, cookies=None):
    """The admin login form, as a browser posts it (CSRF cookie and token included)."""
    status, headers, body = http_request("GET", base + "/admin/login/")
    assert status == 200
    csrf_cookie = headers["set-cookie"].split(";", 1)[0]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = "csrfmiddlewaretoken=%s&username=root&password=%s&next=/admin/" % (token, password)
    return http_request("POST", base + "/admin/login/", data=form.encode(), follow_redirects=False, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": csrf_cookie, "Referer": base + "/admin/login/"})


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_django_project_exports_no_secret(own_receiver, service_name, django_database, protocol):
    port = free_port()
    env = app_env(own_receiver, service_name, protocol, APP_DB_PATH=django_database,
                  DJANGO_SETTINGS_MODULE="mysite.settings")
    with Server(gunicorn(port, "mysite.wsgi"), env=env, cwd=DJANGO_PROJECT, port=port) as server:
        status, _, _ = django_login(server.url, WRONG_PASSWORD)
        assert status == 200  # the form again, with an error
        status, headers, _ = django_login(server.url, LOGIN_PASSWORD)
        assert status == 302
        session = [c.split(";", 1)[0] for c in headers["set-cookie"].split(", ") if c.startswith("sessionid=")]
        assert http_request("GET", server.url + "/admin/", headers={"Cookie": session[0]})[0] == 200
        own_receiver.wait_for_spans(service=service_name, predicate=lambda spans: len(
            [s for s in spans if s.kind == "SERVER"]) >= 5)
    assert_no_secret_in_raw_bytes(own_receiver, "application/json" if protocol == "http/json"
                                  else "application/x-protobuf")
    session_id = session[0].split("=", 1)[1]
    for request in own_receiver.requests:
        assert session_id.encode() not in request.body
    spans = own_receiver.spans(service=service_name)
    assert not [s for s in spans if "enduser.id" in s.attributes]  # opt-in only
    events = [e for s in spans for e in s.events if e.name == "auth.failure"]
    assert [e.attributes for e in events] == [{"auth.failure.reason": "login_failed"}]

"""Security signals on server spans, end to end: ``client.address`` behind a trusted proxy,
``enduser.id`` (opt-in) from Flask-Login and Django, and ``auth.failure`` events for 401,
403 and Django's failed logins, never carrying the submitted credentials.

The defaults (no proxy trusted, no enduser.id) are checked by the secrets test's runs.
"""

import os
import re

import pytest

from support.agent import BIN, PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, Server, base_env, free_port, http_request, run

SECURITY_APP = APPS_DIR / "security_app"
DJANGO_PROJECT = APPS_DIR / "django_project"
PASSWORD = "Signals-Passw0rd-1"
WRONG = "Signals-Wr0ng-2"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def gunicorn(port, app):
    return otel_run(os.path.join(BIN, "gunicorn"), "--no-control-socket", "-w", "1",
                    "-b", "127.0.0.1:%d" % port, app)


def server_spans(receiver, service, count):
    return receiver.wait_for_spans(service=service, predicate=lambda spans: len(
        [s for s in spans if s.kind == "SERVER"]) >= count)


def failures(span):
    return [e.attributes for e in span.events if e.name == "auth.failure"]


def test_flask_trusted_proxy_enduser_and_auth_failures(receiver, service_name):
    port = free_port()
    env = agent_env(receiver, service_name, APP_PASSWORD=PASSWORD, OTEL_PYTHON_TRUSTED_PROXY_COUNT=1,
                    OTEL_PYTHON_CAPTURE_ENDUSER_ID="true")
    with Server(gunicorn(port, "app:app"), env=env, cwd=SECURITY_APP, port=port) as server:
        # The client forged the first entry; the one trusted proxy appended the second.
        forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
        assert http_request("GET", server.url + "/admin", headers=forwarded)[0] == 403
        assert http_request("GET", server.url + "/me")[0] == 401
        assert http_request("POST", server.url + "/login", data=("username=alice&password=" + WRONG).encode(),
                            headers=FORM)[0] == 401
        status, headers, _ = http_request("POST", server.url + "/login", headers=FORM,
                                          data=("username=alice&password=" + PASSWORD).encode())
        assert status == 200
        cookie = headers["set-cookie"].split(";", 1)[0]
        assert http_request("GET", server.url + "/me", headers={"Cookie": cookie}) [0] == 200
        spans = server_spans(receiver, service_name, 5)

    by_name = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    (admin,) = by_name["GET /admin"]
    assert admin.attributes["client.address"] == "203.0.113.9"
    assert admin.attributes["network.peer.address"] == "127.0.0.1"
    assert failures(admin) == [{"auth.failure.reason": "forbidden", "http.response.status_code": 403}]

    denied, allowed = sorted(by_name["GET /me"], key=lambda s: s.attributes["http.response.status_code"])[::-1]
    assert failures(denied) == [{"auth.failure.reason": "unauthorized", "http.response.status_code": 401}]
    assert "enduser.id" not in denied.attributes
    assert allowed.attributes["enduser.id"] == "alice" and failures(allowed) == []
    # Without a forwarding header, the socket's peer.
    assert allowed.attributes["client.address"] == "127.0.0.1" and "network.peer.address" not in allowed.attributes

    bad_login, good_login = sorted(by_name["POST /login"], key=lambda s: s.attributes["http.response.status_code"])[::-1]
    assert failures(bad_login) == [{"auth.failure.reason": "unauthorized", "http.response.status_code": 401}]
    assert failures(good_login) == []
    assert good_login.attributes["enduser.id"] == "alice"  # login_user() made alice this request's user


@pytest.fixture(scope="module")
def django_database(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("django-signals") / "db.sqlite3")
    env = base_env(APP_DB_PATH=path, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    for command in (["migrate", "-v0"],
                    ["createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com"]):
        result = run([PYTHON, "manage.py"] + command, cwd=DJANGO_PROJECT, env=env)
        assert result.returncode == 0, result.stderr
    return path


def django_login(base, password):
    status, headers, body = http_request("GET", base + "/admin/login/")
    assert status == 200
    csrf_cookie = headers["set-cookie"].split(";", 1)[0]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = "csrfmiddlewaretoken=%s&username=root&password=%s&next=/admin/" % (token, password)
    return http_request("POST", base + "/admin/login/", data=form.encode(), follow_redirects=False, headers=dict(
        FORM, Cookie=csrf_cookie, Referer=base + "/admin/login/"))


def test_django_login_failure_and_enduser(receiver, service_name, django_database):
    port = free_port()
    env = agent_env(receiver, service_name, APP_DB_PATH=django_database, DJANGO_SETTINGS_MODULE="mysite.settings",
                    OTEL_PYTHON_CAPTURE_ENDUSER_ID="true", OTEL_PYTHON_TRUSTED_PROXY_COUNT=2,
                    OTEL_PYTHON_TRUSTED_PROXY_HEADER="forwarded")
    with Server(gunicorn(port, "mysite.wsgi"), env=env, cwd=DJANGO_PROJECT, port=port) as server:
        assert django_login(server.url, WRONG)[0] == 200
        status, headers, _ = django_login(server.url, PASSWORD)
        assert status == 302
        session = [c.split(";", 1)[0] for c in headers["set-cookie"].split(", ") if c.startswith("sessionid=")][0]
        forwarded = {"Forwarded": 'for=6.6.6.6, for="[2001:db8::17]:4711";proto=https, for=10.0.0.1'}
        assert http_request("GET", server.url + "/admin/", headers=dict(forwarded, Cookie=session))[0] == 200
        assert http_request("GET", server.url + "/health/", headers={"Cookie": session})[0] == 200
        spans = server_spans(receiver, service_name, 6)

    posts = [s for s in spans if s.name == "POST admin/login/"]
    failed = [s for s in posts if failures(s)]
    assert len(posts) == 2 and len(failed) == 1
    assert failures(failed[0]) == [{"auth.failure.reason": "login_failed"}]  # no user name, no password
    assert "enduser.id" not in failed[0].attributes
    (ok,) = [s for s in posts if not failures(s)]
    assert ok.attributes["enduser.id"] == "root"
    (admin,) = [s for s in spans if s.name == "GET admin/"]
    assert admin.attributes["enduser.id"] == "root"
    assert admin.attributes["client.address"] == "2001:db8::17"
    assert admin.attributes["network.peer.address"] == "127.0.0.1"
    # A view that never looks at request.user: the agent does not load it (no session query).
    (health,) = [s for s in spans if s.name == "GET health/"]
    assert "enduser.id" not in health.attributes
    assert not [s for s in spans if s.kind == "CLIENT" and s.parent_span_id == health.span_id]


# --- security signals that sampling cannot hide ------------------------------------------------

UNSAMPLED_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UNSAMPLED = {"traceparent": "00-%s-00f067aa0ba902b7-00" % UNSAMPLED_TRACE}


def auth_events(receiver, service, count):
    return receiver.wait_for_logs(service=service, predicate=lambda logs: len(
        [r for r in logs if r.event_name == "auth.failure"]) >= count)


def test_unsampled_auth_failures_arrive_as_log_events(receiver, service_name):
    port = free_port()
    env = agent_env(receiver, service_name, APP_PASSWORD=PASSWORD, OTEL_PYTHON_TRUSTED_PROXY_COUNT=1)
    with Server(gunicorn(port, "app:app"), env=env, cwd=SECURITY_APP, port=port) as server:
        assert http_request("GET", server.url + "/me", headers=UNSAMPLED)[0] == 401
        assert http_request("GET", server.url + "/admin", headers=dict(
            UNSAMPLED, **{"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}))[0] == 403
        assert http_request("POST", server.url + "/login", data=("username=alice&password=" + WRONG).encode(),
                            headers=dict(FORM, **UNSAMPLED))[0] == 401
        records = auth_events(receiver, service_name, 3)
    assert receiver.spans(service=service_name) == []  # nothing sampled: no span at all
    events = sorted((r for r in records if r.event_name == "auth.failure"), key=lambda r: r.attributes["http.route"])
    assert [r.attributes for r in events] == [
        {"auth.failure.reason": "forbidden", "http.response.status_code": 403, "http.request.method": "GET",
         "http.route": "/admin", "client.address": "203.0.113.9", "network.peer.address": "127.0.0.1"},
        {"auth.failure.reason": "unauthorized", "http.response.status_code": 401, "http.request.method": "POST",
         "http.route": "/login", "client.address": "127.0.0.1"},
        {"auth.failure.reason": "unauthorized", "http.response.status_code": 401, "http.request.method": "GET",
         "http.route": "/me", "client.address": "127.0.0.1"},
    ]
    for record in events:
        assert record.trace_id == UNSAMPLED_TRACE and record.span_id and record.flags & 1 == 0
        assert (record.severity_number, record.severity_text) == (13, "WARN")
        assert record.scope_name == "otel_autoinstrument.flask"
        assert WRONG not in repr(record)


def test_django_login_failures_are_log_events_whatever_the_signal_is_given(receiver, service_name, django_database):
    port = free_port()
    env = agent_env(receiver, service_name, APP_DB_PATH=django_database, DJANGO_SETTINGS_MODULE="mysite.settings",
                    OTEL_TRACES_SAMPLER="always_off")
    with Server(gunicorn(port, "mysite.wsgi"), env=env, cwd=DJANGO_PROJECT, port=port) as server:
        assert django_login(server.url, WRONG)[0] == 200
        assert http_request("GET", server.url + "/login-signal/")[0] == 200  # request=None, object(), no META
        records = auth_events(receiver, service_name, 4)
        stderr = server.output()[1]
    assert "ERROR" not in stderr and "Traceback" not in stderr, stderr
    events = [r for r in records if r.event_name == "auth.failure"]
    assert len(events) == 4 and all(r.attributes["auth.failure.reason"] == "login_failed" for r in events)
    (form,) = [r for r in events if "http.route" in r.attributes]
    assert form.attributes == {"auth.failure.reason": "login_failed", "http.request.method": "POST",
                               "http.route": "admin/login/", "client.address": "127.0.0.1"}
    # Without the request, the ids of the span current in the view.
    assert len({r.trace_id for r in events if r is not form}) == 1 and all(r.trace_id for r in events)
    assert receiver.spans(service=service_name) == []
    assert WRONG not in repr(records)

"""A small Flask service with Flask-Login, for the security tests.

It knows nothing about OpenTelemetry. Its secrets come from the environment
(APP_SECRETS, a JSON object) as a real service's would, so none of them is in
this source file (a stack trace shows source lines). Environment: APP_SECRETS,
APP_PASSWORD (alice's password), UPSTREAM_PORT, CLOSED_PORT, APP_DB_PATH.

  POST /login       form username/password: 200 and a session, or 401
  GET  /me          the logged-in user's id (Flask-Login's login_required: 401 if none)
  GET  /admin       403 for everybody
  GET  /checkout    logs, calls the upstream and runs SQL with secrets in them
  GET  /fail        raises an exception whose message carries secrets
  GET  /db-fail     a failing statement with a secret literal and a secret parameter
"""

import json
import logging
import os

import requests
from flask import Flask, abort, request
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
from sqlalchemy import create_engine, text

SECRETS = json.loads(os.environ.get("APP_SECRETS", "{}"))
UPSTREAM = "127.0.0.1:%s" % os.environ.get("UPSTREAM_PORT", "9")
CLOSED = "127.0.0.1:%s" % os.environ.get("CLOSED_PORT", "9")

app = Flask(__name__)
app.secret_key = os.urandom(16).hex()
logger = logging.getLogger("security_app")
logger.setLevel(logging.INFO)
_db_path = os.environ.get("APP_DB_PATH")
engine = create_engine("sqlite:///" + _db_path if _db_path else "sqlite://")
login_manager = LoginManager(app)


class User(UserMixin):
    def __init__(self, user_id):
        self.id = user_id


@login_manager.user_loader
def load_user(user_id):
    return User(user_id) if user_id == "alice" else None


@app.post("/login")
def login():
    if request.form.get("username") == "alice" and request.form.get("password") == os.environ.get("APP_PASSWORD"):
        login_user(User("alice"))
        return "welcome"
    return "bad credentials", 401


@app.get("/me")
@login_required
def me():
    return current_user.id


@app.get("/admin")
def admin():
    abort(403)


@app.get("/checkout")
def checkout():
    s = SECRETS
    logger.info("receipt for %s, card %s, session %s", s["email"], s["card"], s["jwt"])
    logger.warning("retrying with Authorization: Bearer %s", s["bearer"])
    url = "http://svc:%s@%s/echo-headers?token=%s&X-Amz-Signature=%s&sig=%s&page=1" % (
        s["url_password"], UPSTREAM, s["query_token"], s["amz_signature"], s["azure_sig"])
    requests.get(url, headers={"Authorization": "Bearer " + s["bearer"], "X-Api-Key": s["api_key"],
                               "Cookie": "sessionid=" + s["cookie"]}, timeout=10)
    try:
        requests.get("http://%s/x?token=%s" % (CLOSED, s["query_token"]), timeout=5)
    except requests.ConnectionError:
        logger.exception("upstream down")
    with engine.connect() as conn:
        conn.execute(text("SELECT '%s' AS api_token" % s["sql_literal"]))
        conn.execute(text("SELECT :token AS bound"), {"token": s["bound_param"]})
    return "ok"


@app.get("/fail")
def fail():
    s = SECRETS
    raise RuntimeError("payment for %s with card %s failed (key %s)" % (s["email2"], s["card2"], s["aws_key"]))


@app.get("/db-fail")
def db_fail():
    s = SECRETS
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO missing_table (a, b) VALUES ('%s', :b)" % s["sql_literal"]),
                     {"b": s["bound_param"]})
    return "unreachable"

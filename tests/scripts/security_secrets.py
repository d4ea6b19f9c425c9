"""requests and SQLAlchemy outside any web framework, with secrets everywhere, for the
end-to-end secrets test. The secrets come from APP_SECRETS (JSON), never from this
file (stack traces show source lines). Ends with an exception raised through a manual
span: the process exits 1 with Python's traceback, as it would without the agent.

Usage: python security_secrets.py UPSTREAM_PORT CLOSED_PORT
"""

import json
import logging
import os
import sys

import requests
from sqlalchemy import create_engine, text

from otel_autoinstrument import get_tracer

s = json.loads(os.environ["APP_SECRETS"])
upstream, closed = "127.0.0.1:" + sys.argv[1], "127.0.0.1:" + sys.argv[2]
log = logging.getLogger("secrets_script")
engine = create_engine("sqlite://")

with get_tracer("secrets-script").start_as_current_span("batch-job") as job:
    job.set_attribute("job.owner", s["email"])
    requests.post("http://svc:%s@%s/echo-headers?access_token=%s&X-Goog-Signature=%s" % (
        s["url_password"], upstream, s["query_token"], s["amz_signature"]),
        headers={"Authorization": "Bearer " + s["bearer"], "X-Api-Key": s["api_key"]}, data=b"x", timeout=10)
    try:
        requests.get("http://%s/y?sig=%s" % (closed, s["azure_sig"]), timeout=5)
    except requests.ConnectionError as exc:
        log.error("upstream unreachable: %s", exc)
    with engine.connect() as conn:
        conn.execute(text("SELECT '%s' AS t WHERE 1 = :p" % s["sql_literal"]), {"p": s["bound_param"]})
        try:
            conn.execute(text("UPDATE missing SET v = '%s' WHERE k = :k" % s["sql_literal"]), {"k": s["bound_param"]})
        except Exception as exc:
            log.warning("update failed: %s", exc)
    log.warning("card on file %s for %s, token %s", s["card"], s["email2"], s["jwt"])
    raise ValueError("job failed for %s (card %s, key %s)" % (s["email"], s["card2"], s["aws_key"]))

"""Calls a local upstream (tests/apps/upstream.py) with requests in every way the
client spans must handle, and prints what the application saw as one JSON line.

Usage: python requests_calls.py UPSTREAM_BASE_URL REFUSED_PORT
"""

import json
import sys

import requests

from otel_autoinstrument import get_tracer

base, refused_port = sys.argv[1], int(sys.argv[2])
host_port = base.split("://", 1)[1]
seen = {}

with get_tracer("requests-script").start_as_current_span("script"):
    headers = {"X-Custom": "value-1", "Authorization": "Bearer auth-secret-value"}
    before = dict(headers)
    response = requests.get(base + "/echo-headers", headers=headers, timeout=10)
    seen["echoed"] = response.json()
    seen["headers_unchanged"] = headers == before

    for code in (200, 404, 500):
        seen["status_%d" % code] = requests.get(base + "/status/%d" % code, timeout=10).status_code

    response = requests.get(base + "/redirect", timeout=10)
    seen["redirect"] = [r.status_code for r in response.history] + [response.status_code]

    try:
        requests.get("http://127.0.0.1:%d/nothing" % refused_port, timeout=5)
    except requests.exceptions.ConnectionError as exc:
        seen["refused"] = type(exc).__name__

    try:
        requests.get(base + "/sleep/2", timeout=0.2)
    except requests.exceptions.Timeout as exc:
        seen["timeout"] = type(exc).__name__

    # Credentials in the URL and a presigned-style query.
    response = requests.get("http://alice-user:hunter2-password@%s/status/200?page=2" % host_port, timeout=10)
    seen["credentials"] = response.status_code
    with requests.Session() as session:
        response = session.get(
            base + "/status/200",
            params={"X-Amz-Credential": "cred-secret-456", "X-Amz-Signature": "sig-secret-123",
                    "token": "token-secret-789", "page": "3"},
            timeout=10)
        seen["signed"] = response.status_code

    # Excluded by OTEL_PYTHON_REQUESTS_EXCLUDED_URLS: no span, no propagation headers.
    seen["excluded_echoed"] = requests.get(base + "/echo-headers?skip-me=1", timeout=10).json()

    seen["purge"] = requests.request("PURGE", base + "/users/1", timeout=10).status_code

# Without any current span: the redirect hop still belongs to the first request's trace.
response = requests.get(base + "/redirect?top=1", timeout=10)
seen["top_redirect"] = [r.status_code for r in response.history] + [response.status_code]

print(json.dumps(seen))

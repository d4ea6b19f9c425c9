"""HTTP calls made with httpx (sync, streamed, async, module helper), urllib3 (plain,
redirect, retries, excluded), requests, urllib.request and http.client, under a
"script" span, then one redirect with no span around it. Pauses between the groups
let the agent export several batches meanwhile (its own traffic must not be traced).

Usage: python http_clients.py UPSTREAM_URL   (prints one JSON line)
"""

import asyncio
import http.client
import json
import sys
import time
import urllib.request
from urllib.parse import urlsplit

import httpx
import requests
import urllib3

from otel_autoinstrument import get_tracer

BASE = sys.argv[1]
seen = {}


def pause():
    time.sleep(0.3)


with get_tracer("script").start_as_current_span("script"):
    seen["httpx_echo"] = httpx.get(BASE + "/echo-headers", headers={"x-custom": "one"}).json()
    hooks_saw = []  # the application's view of each request httpx sends
    with httpx.Client(event_hooks={"request": [lambda request: hooks_saw.append("traceparent" in request.headers)]}) as client:
        with client.stream("GET", BASE + "/users/1") as response:
            seen["streamed"] = b"".join(response.iter_bytes()).decode()
        redirected = client.get(BASE + "/redirect", follow_redirects=True)
        seen["httpx_redirect"] = [r.status_code for r in redirected.history]
        seen["request_keeps_its_headers"] = "traceparent" not in redirected.request.headers
        secret = BASE.replace("://", "://alice:pw-secret@") + "/status/200?token=tok-secret&page=2"
        seen["credentials"] = client.get(secret).status_code
        dropped = client.send(client.build_request("GET", BASE + "/users/4"), stream=True)
        seen["dropped"] = dropped.status_code
        del dropped  # never read nor closed: its span must still be exported
    seen["hooks_saw"] = hooks_saw

    async def fetch():
        async with httpx.AsyncClient() as client:
            return (await client.get(BASE + "/users/2")).status_code

    seen["async"] = asyncio.run(fetch())
    pause()

    headers = {"x-custom": "two"}
    seen["urllib3_echo"] = json.loads(urllib3.request("GET", BASE + "/echo-headers", headers=headers).data)
    seen["headers_unchanged"] = headers == {"x-custom": "two"}
    pool = urllib3.PoolManager()
    seen["urllib3_redirect"] = pool.request("GET", BASE + "/redirect").status
    retry = urllib3.Retry(total=2, status_forcelist=[503], backoff_factor=0, raise_on_status=False)
    seen["retried"] = pool.request("GET", BASE + "/status/503", retries=retry).status
    seen["excluded"] = json.loads(pool.request("GET", BASE + "/echo-headers?skip-me=1").data)
    pause()

    seen["requests"] = requests.get(BASE + "/status/200", timeout=10).status_code
    with urllib.request.urlopen(BASE + "/users/3", timeout=10) as response:
        seen["urllib"] = response.status
    address = urlsplit(BASE)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    stdlib_headers = {"x-custom": "three"}
    connection.request("GET", "/echo-headers", headers=stdlib_headers)
    seen["http_client_echo"] = json.loads(connection.getresponse().read())
    seen["stdlib_headers_unchanged"] = stdlib_headers == {"x-custom": "three"}
    connection.close()
    pause()

seen["top_redirect"] = urllib3.request("GET", BASE + "/redirect?top=1").status
print(json.dumps(seen))

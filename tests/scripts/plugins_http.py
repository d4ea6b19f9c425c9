"""Two HTTP requests made by the application (urllib3, http.client) inside one span,
under the urllib3 and http.client test plugins; then several flushes, so that if the
plugins traced the agent's own exports those spans would be exported too.

The export path is watched from outside the agent: ``urllib3``'s ``urlopen`` and
``http.client``'s ``request`` (the methods the plugins wrap) count the calls made by
other threads than this one (none: the agent's transport uses neither). Prints JSON:
the traceparent each request carried and that count."""

import http.client
import json
import sys
import threading

import urllib3

import otel_autoinstrument
from otel_autoinstrument import get_tracer

port = int(sys.argv[1])
calls = {"export": 0}


def counting(owner, name):
    inner = owner.__dict__[name]

    def counted(self, *args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            calls["export"] += 1
        return inner.__get__(self, type(self))(*args, **kwargs)

    setattr(owner, name, counted)


counting(urllib3.connectionpool.HTTPConnectionPool, "urlopen")
counting(http.client.HTTPConnection, "request")

seen = {}
with get_tracer("plugins.http").start_as_current_span("script"):
    response = urllib3.PoolManager().request("GET", "http://127.0.0.1:%d/echo-headers" % port)
    seen["urllib3"] = json.loads(response.data)["traceparent"]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/echo-headers")
    seen["http.client"] = json.loads(connection.getresponse().read())["traceparent"]
    connection.close()
for _ in range(3):
    otel_autoinstrument.force_flush()
print(json.dumps({"traceparent": seen, "export_calls": calls["export"]}), flush=True)

"""The one masking module for the agent's own messages: scrub before cut, and every text
that may carry a secret goes through it (a collector's answer included)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from otel_autoinstrument import config
from otel_autoinstrument.export.otlp_http import OtlpHttpExporter, endpoint_problem
from otel_autoinstrument.redaction.secrets import mask, mask_url, secret_strings, shown_header_name
from otel_autoinstrument.resource import from_settings
from otel_autoinstrument.testing import InMemoryAgent

API_KEY = "ApiK3y-echoed-0042"


def test_a_secret_across_the_cut_is_masked_whole():
    text = "x" * 290 + "token " + API_KEY + " tail"
    out = mask(text, secret_strings((), {"x-api-key": API_KEY}), 300)
    assert out == "x" * 290 + "token *** ..."
    # Credentials of any URL in the text too, and a text of a megabyte is no problem.
    big = ("https://bob:pw1@h/ " + API_KEY + " ") * 40000
    out = mask(big, secret_strings((), {"k": API_KEY}), 300)
    assert "pw1" not in out and "ApiK" not in out and len(out) == 303


@pytest.mark.parametrize("url, shown", [
    ("bob:S3CRET@collector:4318", "REDACTED:REDACTED@collector:4318"),
    ("http://bob:S3CRET@collector:4318/v1/traces?api_key=K3Y#frag", "http://REDACTED:REDACTED@collector:4318/v1/traces"),
    ("https://tok3n@collector", "https://REDACTED:REDACTED@collector"),
])
def test_endpoints_are_shown_without_credentials_or_query(url, shown):
    assert mask_url(url) == shown


def test_url_errors_never_quote_the_url():
    problem = endpoint_problem("http://bob:Hash1234#Rest@127.0.0.1:9/v1/traces")
    assert problem.startswith("not a valid URL") and "Hash1234" not in problem


def test_header_names_are_shown_by_their_valid_part():
    assert shown_header_name("x-api-key") == "x-api-key"
    assert shown_header_name("Authorization: Bearer Tok3n") == "Authorization..."
    assert shown_header_name("a" * 100) == "a" * 64 + "..."


class EchoingCollector(BaseHTTPRequestHandler):
    """Accepts every batch but one span, and says why quoting the request's API key."""

    def do_POST(self):
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        self.rfile.read(int(self.headers["Content-Length"]))
        answer = ExportTraceServiceResponse()
        answer.partial_success.rejected_spans = 1
        answer.partial_success.error_message = "span rejected for tenant key %s: quota" % self.headers["x-api-key"]
        body = answer.SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_collector_echoing_the_api_key_is_not_printed(monkeypatch):
    said = []
    monkeypatch.setattr("otel_autoinstrument._log.warning", lambda msg, *a: said.append(msg % a))
    server = HTTPServer(("127.0.0.1", 0), EchoingCollector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = config.load({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % server.server_port,
                                "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=" + API_KEY}, set())
        exporter = OtlpHttpExporter("traces", settings.exporter("traces"), from_settings(settings))
        with InMemoryAgent() as memory:
            memory.tracer().start_span("s").end()
        outcome = exporter.export(memory.spans, time.monotonic() + 5)
        exporter.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    assert (outcome.exported, outcome.dropped) == (0, 1)
    assert said and "span rejected for tenant key ***: quota" in said[0]
    assert API_KEY not in said[0] and API_KEY not in str(outcome.detail)

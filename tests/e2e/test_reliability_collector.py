"""A collector cannot hurt the application: what a misbehaving or absent one gets.

Real scripts under otel-run against the real receiver, told to misbehave:

* a redirect is never followed (the data and the API-key header would go wherever it
  points): reported once with its target (masked), the batch dropped and counted;
* an answer of hundreds of megabytes is not read (memory stays flat), and an answer sent
  a byte at a time is cut at the export timeout, which bounds the whole request;
* a collector that refuses connections costs the exit nothing: a script exits about as
  fast as without an exporter (well inside the 3 s exit bound), whether the first
  attempt is at exit or earlier attempts had failed already.
"""

import json
import time

from support.agent import agent_env, exit_summary, otel_run
from support.processes import TESTS_DIR, run
from support.receiver import Receiver

SCRIPT = TESTS_DIR / "scripts" / "export_spans.py"
API_KEY = "k3y-0f-the-tenant"


def run_spans(env, *args, timeout=60):
    started = time.monotonic()
    result = run(otel_run("python", SCRIPT, *args), env=env, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr, time.monotonic() - started


def test_a_redirect_is_reported_once_and_never_followed(own_receiver, service_name):
    with Receiver() as elsewhere:
        own_receiver.behave(status=307, location=elsewhere.url + "/v1/traces?token=" + API_KEY)
        env = agent_env(own_receiver, service_name, OTEL_EXPORTER_OTLP_HEADERS="api-key=" + API_KEY,
                        OTEL_BSP_MAX_EXPORT_BATCH_SIZE=10)
        made, stderr, _ = run_spans(env, 30)
        assert elsewhere.requests == []  # nothing, and no API key, went to the other origin
    created, exported, dropped, reasons = exit_summary(stderr)
    assert (created, exported) == (made["made"], 0) and reasons == {"redirected by the receiver": created}
    assert len([r for r in own_receiver.requests if r.path == "/v1/traces"]) == 3  # one per batch, no retry
    errors = [line for line in stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 2, stderr  # once per signal
    assert all("a redirect to %s/v1/" % elsewhere.url in e and "do not follow redirects" in e for e in errors)
    assert API_KEY not in stderr


def test_a_huge_answer_is_not_read(own_receiver, service_name):
    own_receiver.behave(answer_bytes=300 * 1024 * 1024)
    env = agent_env(own_receiver, service_name, OTEL_LOGS_EXPORTER="none", OTEL_LOG_LEVEL="debug")
    made, stderr, _ = run_spans(env, 20, 0, 0, 1)
    growth_mb = (made["hwm_kb"] - made["rss_kb_before"]) / 1024.0
    assert growth_mb < 40, growth_mb  # not the 300 MB answer
    created, exported, _, _ = exit_summary(stderr)
    assert created == exported == made["made"] == len(own_receiver.spans(service=service_name))


def test_an_answer_sent_a_byte_at_a_time_is_cut_at_the_export_timeout(own_receiver, service_name):
    """The timeout bounds the whole request, not each read (each byte comes well within
    it): the answer would take 20 s at this pace, and the flush would wait 10 s for it."""
    own_receiver.behave(drip_seconds=0.2)
    env = agent_env(own_receiver, service_name, OTEL_LOGS_EXPORTER="none", OTEL_EXPORTER_OTLP_TIMEOUT=1000,
                    OTEL_BSP_EXPORT_TIMEOUT=2000)
    made, stderr, seconds = run_spans(env, 5, 0, 0, 1, timeout=90)
    assert seconds < 8, seconds  # the flush waits up to 10 s: the export gave up by itself
    created, exported, dropped, reasons = exit_summary(stderr)
    assert created == dropped == made["made"] and set(reasons) == {"export failed"}


def exit_seconds(env, *args):
    return min(run_spans(env, *args)[2] for _ in range(2))


def test_exit_is_fast_when_the_collector_refuses_connections(own_receiver, service_name):
    own_receiver.stop()  # the port now refuses connections
    bare = exit_seconds(agent_env(own_receiver, service_name, OTEL_TRACES_EXPORTER="none",
                                  OTEL_LOGS_EXPORTER="none"), 3)
    at_exit = exit_seconds(agent_env(own_receiver, service_name), 3)
    # Spans spread over 1 s: exports fail (and back off) before the exit begins.
    bare_later = exit_seconds(agent_env(own_receiver, service_name, OTEL_TRACES_EXPORTER="none",
                                        OTEL_LOGS_EXPORTER="none"), 10, 0, 0, 0, 1)
    later = exit_seconds(agent_env(own_receiver, service_name), 10, 0, 0, 0, 1)
    assert at_exit < bare + 1.0, (at_exit, bare)  # the exit bound is 3 s
    assert later < bare_later + 1.0, (later, bare_later)

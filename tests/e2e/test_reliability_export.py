"""Export under faults, and the accounting that says where every span went.

Each test runs a real script under otel-run against a real receiver told to
misbehave, then checks three things against each other: what the script made
(``created``, known from the script), what the receiver decoded, and what the agent
reported at exit (``created, exported, dropped by reason``):
created == exported + dropped, exported == received, nothing received twice.
"""

import json

import pytest

from support.agent import agent_env, otel_run
from support.agent import exit_summary as stats
from support.processes import TESTS_DIR, run

SCRIPTS = TESTS_DIR / "scripts"


def burst(receiver, service, n, size=16, huge=0, seconds=0, **env):
    environment = agent_env(receiver, service, OTEL_LOG_LEVEL="debug", OTEL_LOGS_EXPORTER="none", **env)
    result = run(otel_run("python", SCRIPTS / "reliability_burst.py", n, size, huge, seconds),
                 env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def received(receiver, service):
    spans = receiver.spans(service=service)
    assert len({s.span_id for s in spans}) == len(spans), "a span was delivered twice"
    return len(spans)


def test_retryable_answers_are_retried_and_nothing_is_sent_twice(own_receiver, service_name):
    own_receiver.behave(responses=[{"status": 503}, {"status": 502, "retry_after": 0},
                                   {"status": 429, "retry_after": 1}, {"status": 504}])
    made, stderr = burst(own_receiver, service_name, 50, OTEL_PYTHON_EXIT_TIMEOUT=15000)
    created, exported, dropped, _ = stats(stderr)
    assert created == made["made"] == exported == received(own_receiver, service_name)
    # Four refusals, then the same batch again and accepted: retried, not re-queued.
    statuses = [r.status for r in own_receiver.requests]
    assert statuses[:5] == [503, 502, 429, 504, 200]


def test_connection_errors_are_retried(own_receiver, service_name):
    own_receiver.behave(responses=[{"close_connection": True}, {"close_connection": True}])
    made, stderr = burst(own_receiver, service_name, 20)
    created, exported, _, _ = stats(stderr)
    assert created == made["made"] == exported == received(own_receiver, service_name)
    assert [r.status for r in own_receiver.requests][:3] == [None, None, 200]


@pytest.mark.parametrize("status", [400, 401])
def test_a_non_retryable_answer_is_reported_once_and_not_retried(own_receiver, service_name, status):
    own_receiver.behave(status=status)
    made, stderr = burst(own_receiver, service_name, 30, OTEL_BSP_MAX_EXPORT_BATCH_SIZE=10)
    created, exported, dropped, reasons = stats(stderr)
    assert (created, exported, dropped) == (made["made"], 0, made["made"])
    assert reasons == {"rejected by the receiver": made["made"]}
    assert len(own_receiver.requests) == 4  # one per batch of 10: no retry
    errors = [line for line in stderr.splitlines() if "answered HTTP %d" % status in line]
    assert len(errors) == 1 and own_receiver.url + "/v1/traces" in errors[0]


def test_partial_success_is_counted_and_reported(own_receiver, service_name):
    own_receiver.behave(partial_success_rejected=3)
    made, stderr = burst(own_receiver, service_name, 9)
    created, exported, dropped, reasons = stats(stderr)
    assert created == made["made"] == 10
    assert reasons == {"rejected by the receiver": 3} and exported == 7
    assert "accepted a batch but rejected some of it: rejected by test receiver" in stderr
    assert received(own_receiver, service_name) == 10  # the receiver got them all; it refused 3


def test_a_full_queue_drops_and_counts_and_the_rest_arrives(own_receiver, service_name):
    own_receiver.behave(responses=[{"hang_seconds": 1}])  # the first export is slow: the queue fills
    made, stderr = burst(own_receiver, service_name, 3000, OTEL_BSP_MAX_QUEUE_SIZE=200,
                         OTEL_BSP_MAX_EXPORT_BATCH_SIZE=100)
    created, exported, dropped, reasons = stats(stderr)
    assert created == made["made"]
    assert dropped > 0 and set(reasons) == {"queue full"}
    assert exported == received(own_receiver, service_name)


def test_an_absent_endpoint_counts_everything_and_warns_at_a_limited_rate(own_receiver, service_name):
    own_receiver.stop()
    made, stderr = burst(own_receiver, service_name, 500, seconds=2, OTEL_BSP_EXPORT_TIMEOUT=300,
                         OTEL_BSP_SCHEDULE_DELAY=50, OTEL_BSP_MAX_EXPORT_BATCH_SIZE=20,
                         OTEL_PYTHON_EXIT_TIMEOUT=1000)
    created, exported, dropped, reasons = stats(stderr)
    assert created == made["made"] == dropped and exported == 0
    assert set(reasons) <= {"export failed", "queue full", "not exported before the exit bound"}
    assert reasons["export failed"] >= 100
    # Many batches failed; one warning said so (with a count), not one per batch.
    assert stderr.count("dropped since the last message") == 1


def test_memory_is_bounded_by_bytes_when_spans_are_huge(own_receiver, service_name):
    """600 spans of 256 KB each while the endpoint is down: 150 MB if the queue held
    them (the count bound alone would allow 2048 of them, 512 MB). The byte budget
    (32 MB) keeps the peak far below; a single 5 MB span is dropped as too large."""
    own_receiver.stop()
    made, stderr = burst(own_receiver, service_name, 600, 256 * 1024, 5 * 1024 * 1024,
                         OTEL_PYTHON_EXIT_TIMEOUT=500)
    created, exported, dropped, reasons = stats(stderr)
    assert created == made["made"] == dropped
    assert reasons["too large"] == 1 and reasons["queue full"] >= 400
    growth_mb = (made["hwm_kb"] - made["rss_kb_before"]) / 1024.0
    assert growth_mb < 70, growth_mb


def test_huge_spans_are_delivered_in_requests_of_bounded_size(own_receiver, service_name):
    made, stderr = burst(own_receiver, service_name, 40, 512 * 1024, OTEL_BSP_SCHEDULE_DELAY=60000)
    created, exported, _, _ = stats(stderr)
    assert created == made["made"] == exported == received(own_receiver, service_name)
    sizes = [len(r.body) for r in own_receiver.requests]
    assert len(sizes) >= 5 and max(sizes) < 5 * 1024 * 1024  # 20 MB in requests of about 4 MB


def test_absurd_durations_are_bounded_and_nothing_is_lost(own_receiver, service_name):
    """A delay or exit bound too large for the thread primitives once killed the export
    thread (OverflowError): out of range, the nearest sane value is used, with a warning."""
    huge = "9223372036854775807"
    made, stderr = burst(own_receiver, service_name, 50, OTEL_BSP_SCHEDULE_DELAY=huge, OTEL_PYTHON_EXIT_TIMEOUT=huge)
    created, exported, _, _ = stats(stderr)
    assert created == made["made"] == exported == received(own_receiver, service_name)
    for name in ("OTEL_BSP_SCHEDULE_DELAY", "OTEL_PYTHON_EXIT_TIMEOUT"):
        assert stderr.count("%s=%s is out of range" % (name, huge)) == 1

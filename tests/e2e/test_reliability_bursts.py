"""What the application sends cannot cost the rest its delivery: bursts, large
list-valued attributes (captured headers) and text UTF-8 cannot carry.

* A short-lived script making 20,000 spans as fast as it can delivers every one (the
  queue is large enough, bounded by bytes, and the exporter is ready before the first
  batch is due).
* Spans with large list values (headers of several kilobytes each) are counted by their
  bytes: with a hanging collector memory stays flat; every request body, as the receiver
  measured it, is under the documented 4 MiB.
* A lone surrogate in a log message, an exception message and attributes is sent as
  U+FFFD, in protobuf and in JSON; nothing around it is lost.
"""

import json

import pytest

from support.agent import agent_env, exit_summary, otel_run
from support.processes import TESTS_DIR, run

SCRIPTS = TESTS_DIR / "scripts"
MAX_REQUEST_BYTES = 4 * 1024 * 1024


def run_script(env, name, *args, timeout=120):
    result = run(otel_run("python", SCRIPTS / name, *args), env=env, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def test_a_burst_of_twenty_thousand_spans_is_delivered(receiver, service_name):
    env = agent_env(receiver, service_name, OTEL_LOG_LEVEL="debug", OTEL_LOGS_EXPORTER="none",
                    OTEL_BSP_SCHEDULE_DELAY=5000)
    result = run_script(env, "export_spans.py", 20000)
    created, exported, dropped, _ = exit_summary(result.stderr)
    assert created == exported == 20000 and dropped == 0
    assert len(receiver.wait_for_spans(count=20000, service=service_name)) == 20000


def test_list_attributes_are_bounded_by_their_bytes_while_the_collector_hangs(own_receiver, service_name):
    """2,000 spans with 20 headers of 4 KB each: 160 MB if the queue held them all (its
    count bound alone would). Memory stays within the 32 MiB byte bound."""
    own_receiver.behave(hang_seconds=30)
    env = agent_env(own_receiver, service_name, OTEL_LOGS_EXPORTER="none", OTEL_PYTHON_EXIT_TIMEOUT=500,
                    OTEL_BSP_SCHEDULE_DELAY=50)
    made = json.loads(run_script(env, "export_spans.py", 2000, 20, 4096).stdout)
    growth_mb = (made["hwm_kb"] - made["rss_kb_before"]) / 1024.0
    assert growth_mb < 80, growth_mb
    sizes = [len(r.body) for r in own_receiver.requests]
    assert sizes and max(sizes) <= MAX_REQUEST_BYTES, sizes


def test_list_attributes_go_out_in_requests_of_bounded_size(receiver, service_name):
    """200 such spans (16 MB) in one batch by count: cut into requests of at most 4 MiB."""
    env = agent_env(receiver, service_name, OTEL_LOG_LEVEL="debug", OTEL_LOGS_EXPORTER="none",
                    OTEL_BSP_SCHEDULE_DELAY=60000)
    result = run_script(env, "export_spans.py", 200, 20, 4096)
    created, exported, _, _ = exit_summary(result.stderr)
    spans = receiver.wait_for_spans(count=200, service=service_name)
    assert created == exported == len(spans) == 200
    assert all(len(s.attributes["http.request.header.x-forwarded-for"]) == 20 for s in spans)
    sizes = [len(r.body) for r in receiver.requests if r.path == "/v1/traces"]
    assert len(sizes) >= 4 and max(sizes) <= MAX_REQUEST_BYTES, sizes


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_a_lone_surrogate_costs_nothing(receiver, service_name, protocol):
    env = agent_env(receiver, service_name, OTEL_EXPORTER_OTLP_PROTOCOL=protocol, OTEL_LOG_LEVEL="debug")
    result = run_script(env, "export_surrogates.py", 41, 20)
    spans = receiver.wait_for_spans(count=41, service=service_name)
    logs = receiver.wait_for_logs(count=41, service=service_name)
    assert exit_summary(result.stderr)[1] == exit_summary(result.stderr, "logs")[1] == 41
    bad = [s for s in spans if s.attributes["customer"] != "cafe"]
    (span,) = bad
    assert span.name == "order caf\ufffd" and span.attributes["tags"] == ["a", "caf\ufffd"]
    assert span.events[0].attributes["exception.message"] == "unknown customer caf\ufffd"
    assert [r.body for r in logs if r.body != "order for cafe"] == ["order for caf\ufffd"]

"""Under otel-run, the WSGI callables of Django and Flask return the application's own
objects, and a span ends for every request, also when nobody closes the response
(test clients, callers that read a body and drop it, responses open at exit).
A hostile Host header sent to gunicorn costs neither the span nor a traceback."""

import json
import socket

from support.agent import PYTHON, agent_env, otel_run
from support.processes import APPS_DIR, TESTS_DIR, Server, free_port, run

SCRIPT = TESTS_DIR / "scripts" / "wsgi_objects.py"
UNCLOSED = "otel_autoinstrument.response.unclosed"
CAPTURE = {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-step"}


def run_checks(receiver, service, *args):
    env = agent_env(receiver, service, **CAPTURE)
    result = run(otel_run(PYTHON, SCRIPT, *args), env=env, cwd=SCRIPT.parent, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "STRICT" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def servers_by_step(spans):
    steps = {}
    for span in spans:
        if span.kind == "SERVER":
            steps.setdefault(span.attributes["http.request.header.x-step"][0], []).append(span)
    return steps


def check_stream(spans, server):
    chunks = [s for s in spans if s.name == "chunk" and s.trace_id == server.trace_id]
    assert len(chunks) == 3 and all(c.parent_span_id == server.span_id for c in chunks)
    assert server.end_ns >= max(c.end_ns for c in chunks)  # it ended with the last chunk
    assert UNCLOSED not in server.attributes


def test_django_returns_its_own_response_objects(receiver, service_name):
    seen = run_checks(receiver, service_name, "django")
    assert seen["hello_is_own"] and seen["hello_isinstance"]
    assert seen["hello_bytes"] == "Content-Type: text/html; charset=utf-8\r\n\r\nHello World!"
    assert seen["hello_header"] == "text/html; charset=utf-8"
    assert seen["hello_has_x"] is False and seen["hello_body"] == "Hello World!"
    assert seen["hello_close_restored"]
    assert seen["stream_is_own"] and seen["stream_body"] == "abc"
    assert seen["file_is_file_wrapper"] and seen["file_starts"] == '"""' and seen["file_closed"]
    assert seen["own_test_file_wrapper"]
    spans = receiver.wait_for_spans(service=service_name, predicate=lambda s: len(servers_by_step(s)) == 4)
    steps = servers_by_step(spans)
    assert {name: len(found) for name, found in steps.items()} == {
        "django-hello": 1, "django-stream": 1, "django-file": 1, "django-file-own-test": 1}
    (stream,) = steps["django-stream"]
    check_stream(spans, stream)
    (dropped,) = steps.pop("django-file-own-test")
    assert dropped.attributes[UNCLOSED] is True
    assert not any(UNCLOSED in s.attributes for found in steps.values() for s in found)


def test_flask_returns_its_own_objects_and_test_client_requests_all_end(receiver, service_name):
    read, unread, kept = 30, 20, 5
    seen = run_checks(receiver, service_name, "flask", read, unread, kept)
    assert seen["hello_is_closing_iterator"] and seen["hello_body"] == "hello"
    assert seen["passthrough_is_own"] and seen["passthrough_body"] == "passed through"
    assert seen["stream_body"] == "abc"
    assert seen["client_bodies"] == ["hello"] and seen["client_statuses"] == [200] == seen["kept_statuses"]
    expected = {"flask-hello": 1, "flask-passthrough": 1, "flask-stream": 1,
                "client-read": read, "client-unread": unread, "client-kept": kept}

    def complete(spans):
        return {name: len(found) for name, found in servers_by_step(spans).items()} == expected

    spans = receiver.wait_for_spans(service=service_name, predicate=complete)
    steps = servers_by_step(spans)
    assert all(span.name == "GET /" for span in steps["client-read"] + steps["client-unread"])
    (stream,) = steps["flask-stream"]
    check_stream(spans, stream)
    # Read to the end: ended by the body's end. Never read to the end nor closed: ended
    # when dropped (collected) or at exit, and marked.
    assert not any(UNCLOSED in s.attributes for s in steps["client-read"])
    assert all(s.attributes.get(UNCLOSED) is True for s in steps["client-unread"] + steps["client-kept"])
    for span in steps["client-kept"]:
        first_chunk = next(s for s in spans if s.name == "chunk" and s.parent_span_id == span.span_id)
        assert span.end_ns >= first_chunk.end_ns  # its last sign of life, not the exit


def raw_request(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return answer
            answer += data


def test_hostile_header_values_keep_the_span_and_print_no_traceback(receiver, service_name):
    """Production mode (not strict): a value the agent cannot understand would print a
    traceback per request (gunicorn itself refuses a malformed status line; the unit and
    fuzz tests cover those)."""
    port = free_port()
    env = agent_env(receiver, service_name, AUTOINSTRUMENT_STRICT="0", OTEL_PYTHON_TRUSTED_PROXY_COUNT="1",
                    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST=".*")
    command = otel_run("gunicorn", "--no-control-socket", "-w", "1", "-b", "127.0.0.1:%d" % port, "app:app")
    requests = [
        b"GET /users/7 HTTP/1.1\r\nHost: x:\xb2\r\nConnection: close\r\n\r\n",
        b"GET /users/8?q=%ff%fe HTTP/1.1\r\nHost: \xff\xfe:\xb9\xb2\r\nUser-Agent: \xc3(\r\n"
        b"traceparent: 00-\xff\r\nX-Forwarded-For: \xb2\xb2\r\nConnection: close\r\n\r\n",
    ]
    with Server(command, env=env, cwd=APPS_DIR / "flask_app", port=port) as server:
        answers = [raw_request(port, request) for request in requests]
        assert all(answer.startswith(b"HTTP/1.1 200 OK") for answer in answers), answers
        spans = receiver.wait_for_spans(count=len(requests), service=service_name)
    assert sorted(s.name for s in spans) == ["GET /users/<int:user_id>"] * 2
    first = next(s for s in spans if s.attributes["url.path"] == "/users/7")
    assert first.attributes["server.address"] == "x"
    _, err = server.output()
    assert "Traceback" not in err and "internal error" not in err, err

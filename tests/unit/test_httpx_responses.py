"""httpx in process (MockTransport): when a request's span ends, whatever the response's
state when the transport hands it back."""

import gc

import httpx
import pytest

from otel_autoinstrument.instrumentors.httpx import HttpxInstrumentor
from otel_autoinstrument.testing import InMemoryAgent


@pytest.fixture
def memory():
    with InMemoryAgent() as memory:
        memory.instrument(HttpxInstrumentor())
        yield memory


def test_an_answer_already_read_and_closed_ends_its_span_at_once(memory):
    """A transport's in-memory answer (``Response(content=...)``) is closed when httpx
    returns it: nothing will close it again."""
    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, text="hi"))) as client:
        response = client.get("http://example.test/a")
        assert response.text == "hi" and response.is_closed
        (span,) = memory.spans  # before any collection
        assert span.attributes["http.response.status_code"] == 200
        assert "otel_autoinstrument.response.unclosed" not in span.attributes
        del response
        gc.collect()
    assert len(memory.spans) == 1


def test_a_streamed_answer_ends_its_span_when_closed_or_collected(memory):
    def streamed(request):
        return httpx.Response(200, stream=httpx.ByteStream(b"chunk"))

    with httpx.Client(transport=httpx.MockTransport(streamed)) as client:
        with client.stream("GET", "http://example.test/closed") as response:
            assert memory.spans == []  # the body is still to be read
            assert response.read() == b"chunk"  # read to its end: httpx closes the stream
            assert len(memory.spans) == 1
        dropped = client.send(client.build_request("GET", "http://example.test/dropped"), stream=True)
        del dropped
        gc.collect()
    closed, dropped = memory.spans
    assert "otel_autoinstrument.response.unclosed" not in closed.attributes
    assert dropped.attributes["otel_autoinstrument.response.unclosed"] is True

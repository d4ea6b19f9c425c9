"""The log record model and the pipeline that hands records to export.

A ``LogRecord`` is what the logging handler builds from a ``logging.LogRecord``; the
``LogPipeline`` plays the role the tracer provider plays for spans (resource,
limits, processors) so both signals share the batching and export machinery.
"""

import time

from ..processors import Processors


class LogRecord:
    """One log record; ``event_name`` (OTLP ``LogRecord.event_name``) makes it an event."""

    __slots__ = ("time_ns", "observed_ns", "severity_number", "severity_text", "body",
                 "attributes", "trace_id", "span_id", "trace_flags", "scope", "dropped_attributes", "event_name")

    def __init__(self, body, severity_number=0, severity_text="", attributes=None, time_ns=None,
                 trace_id=0, span_id=0, trace_flags=0, scope=None, dropped_attributes=0, event_name=""):
        self.observed_ns = time.time_ns()
        self.time_ns = time_ns or self.observed_ns
        self.severity_number = severity_number
        self.severity_text = severity_text
        self.body = body
        self.attributes = attributes or {}
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags
        self.scope = scope
        self.dropped_attributes = dropped_attributes
        self.event_name = event_name


class LogPipeline:
    def __init__(self, resource, attribute_count=128, attribute_length=None, processors=()):
        self.resource = resource
        self.attribute_count = attribute_count
        self.attribute_length = attribute_length
        self.processors = Processors(processors)
        self.emit = self.processors.dispatcher()

    def add_processor(self, processor):
        self.processors.append(processor)
        self.emit = self.processors.dispatcher()

    def emit(self, record):
        """Hand ``record`` to every processor. (Replaced on the instance by
        ``processors.dispatcher()``.)"""
        for processor in self.processors:
            processor.on_end(record)

    def force_flush(self, timeout_s=5.0):
        self.processors.force_flush(timeout_s)

    def shutdown(self, timeout_s=5.0):
        self.processors.shutdown(timeout_s)

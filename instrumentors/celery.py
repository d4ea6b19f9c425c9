"""Celery: the trace crosses the broker, from ``apply_async`` to the worker's task.

Producer: ``Celery.send_task`` is patched where Celery defines it (``Task.apply_async``,
``delay``, signatures, chains and groups all send through it): a PRODUCER span
``send <task name>`` is current while it runs, and Celery's ``before_task_publish``
signal, sent from inside it just before the message goes out, injects that span's
context into the message headers (protocol 2 headers reach the worker as attributes of
``task.request``) and records the message id and routing key.

Consumer: the ``task_prerun`` / ``task_postrun`` signals, sent in the process that runs
the task (a prefork child, a thread, the solo worker) around the task body: a CONSUMER
span ``process <task name>`` whose parent is the producer's context from the headers
(the current span for eager tasks), current for the body, so the task's own database
and HTTP spans are its children, and so are the messages the task sends: a chain's next
task, a retry. ``task_failure`` records the exception, ``task_retry`` a ``retry`` event.
Beat publishes with no span current: each scheduled task starts a trace of its own.

Attributes: ``messaging.system`` ``celery``, ``messaging.operation.name`` / ``type``
(``send`` / ``process``), ``messaging.destination.name`` (the routing key: the queue
with Celery's default routing), ``messaging.message.id`` (the task id),
``celery.task_name`` and ``celery.retries`` (as the official instrumentation names them).

Prefork workers exit through ``os._exit``; the agent flushes there (``agent.processes``).
"""

from contextvars import ContextVar

from otel_autoinstrument.instrumentation import (
    Instrumentor, SpanKind, attach, capture_internal_errors, detach, is_suppressed, record_error,
    reset_baggage, semconv, set_baggage)

SYSTEM = "celery"
TASK_NAME = "celery.task_name"
RETRIES = "celery.retries"

_publishing = ContextVar("otel_autoinstrument.celery.publishing", default=None)


class CeleryInstrumentor(Instrumentor):
    name = "celery"
    requires = ("celery >= 5.2",)
    modules = ("celery",)

    def __init__(self):
        super().__init__()
        self._running = {}  # task id -> [(span, span token, baggage token)], innermost last
        self._connected = []

    def patches(self):
        return [("celery.app.base", "Celery.send_task", self._send_task)]

    def _instrument(self):
        from celery import signals

        for signal, receiver in ((signals.before_task_publish, self._on_before_publish),
                                 (signals.task_prerun, self._on_prerun),
                                 (signals.task_postrun, self._on_postrun),
                                 (signals.task_failure, self._on_failure),
                                 (signals.task_retry, self._on_retry)):
            signal.connect(receiver, weak=False, dispatch_uid="otel_autoinstrument." + signal.name)
            self._connected.append((signal, receiver))

    def _uninstrument(self):
        while self._connected:
            signal, receiver = self._connected.pop()
            signal.disconnect(receiver, dispatch_uid="otel_autoinstrument." + signal.name)

    # --- producer -----------------------------------------------------------------

    def _send_task(self, wrapped, instance, args, kwargs):
        span = token = publishing = None
        with capture_internal_errors("celery: starting a producer span"):
            task_name = str(args[0] if args else kwargs["name"])
            span = self.tracer.start_span("send " + task_name, SpanKind.PRODUCER, {
                semconv.MESSAGING_SYSTEM: SYSTEM,
                semconv.MESSAGING_OPERATION_NAME: "send",
                semconv.MESSAGING_OPERATION_TYPE: "send",
                TASK_NAME: task_name,
            })
            token = attach(span)
            publishing = _publishing.set(span)
        error = None
        try:
            return wrapped(*args, **kwargs)
        except Exception as exc:
            error = exc
            raise
        finally:
            if span is not None:
                with capture_internal_errors("celery: finishing a producer span"):
                    if publishing is not None:
                        _publishing.reset(publishing)
                    if token is not None:
                        detach(token)
                    if error is not None:
                        record_error(span, error)
                    span.end()

    def _on_before_publish(self, sender=None, headers=None, routing_key=None, **extra):
        if headers is None or is_suppressed():
            return
        with capture_internal_errors("celery: propagating the trace into a task message"):
            span = _publishing.get()
            if span is not None:
                if routing_key:
                    span.set_attribute(semconv.MESSAGING_DESTINATION_NAME, str(routing_key))
                task_id = headers.get("id")
                if task_id:
                    span.set_attribute(semconv.MESSAGING_MESSAGE_ID, str(task_id))
            self.agent.propagator.inject(headers.__setitem__)

    # --- consumer -----------------------------------------------------------------

    def _on_prerun(self, sender=None, task_id=None, task=None, **extra):
        if task is None or is_suppressed():
            return
        with capture_internal_errors("celery: starting a consumer span"):
            request = task.request
            carried = self.agent.propagator.extract(lambda name: _header(request, name))
            parent = carried.span_context
            attributes = {
                semconv.MESSAGING_SYSTEM: SYSTEM,
                semconv.MESSAGING_OPERATION_NAME: "process",
                semconv.MESSAGING_OPERATION_TYPE: "process",
                TASK_NAME: str(task.name),
                RETRIES: int(getattr(request, "retries", 0) or 0),
            }
            if task_id:
                attributes[semconv.MESSAGING_MESSAGE_ID] = str(task_id)
            delivery = getattr(request, "delivery_info", None) or {}
            destination = delivery.get("routing_key") or delivery.get("exchange")
            if destination:
                attributes[semconv.MESSAGING_DESTINATION_NAME] = str(destination)
            if parent is not None:
                span = self.tracer.start_span("process " + task.name, SpanKind.CONSUMER, attributes, parent=parent)
            else:
                span = self.tracer.start_span("process " + task.name, SpanKind.CONSUMER, attributes)
            baggage_token = set_baggage(carried.baggage) if carried.baggage else None
            self._running.setdefault(task_id, []).append((span, attach(span), baggage_token))

    def _on_postrun(self, sender=None, task_id=None, **extra):
        entry = self._pop(task_id)
        if entry is not None:
            with capture_internal_errors("celery: finishing a consumer span"):
                span, token, baggage_token = entry
                detach(token)
                if baggage_token is not None:
                    reset_baggage(baggage_token)
                span.end()

    def _on_failure(self, sender=None, task_id=None, exception=None, **extra):
        span = self._innermost(task_id)
        if span is not None and exception is not None:
            with capture_internal_errors("celery: recording a task failure"):
                record_error(span, exception)

    def _on_retry(self, sender=None, request=None, reason=None, **extra):
        span = self._innermost(getattr(request, "id", None))
        if span is not None:
            with capture_internal_errors("celery: recording a task retry"):
                span.add_event("retry", {"celery.retry.reason": str(reason)})

    def _innermost(self, task_id):
        stack = self._running.get(task_id)
        return stack[-1][0] if stack else None

    def _pop(self, task_id):
        stack = self._running.get(task_id)
        if not stack:
            return None
        entry = stack.pop()
        if not stack:
            self._running.pop(task_id, None)
        return entry


def _header(request, name):
    value = getattr(request, name, None)
    if value is None:
        headers = getattr(request, "headers", None)  # protocol 1 and some brokers nest them
        if isinstance(headers, dict):
            value = headers.get(name)
    return value if isinstance(value, str) else None
